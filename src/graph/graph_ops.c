/* Node constructors: shape inference and checks for every operator. */
#include "graph/graph_internal.h"

#include <stdio.h>
#include <string.h>

#define ERR_NULL(g) ((g)->error != CP_OK ? cp_graph_fail((g), (g)->error, "%s", (g)->error_msg) : NULL)

static const char *shape_str(const cp_node *n, char *buf, size_t size)
{
    int k = snprintf(buf, size, "%s[", n->name);
    for (int i = 0; i < n->ndim && k > 0 && (size_t)k < size; i++)
        k += snprintf(buf + k, size - (size_t)k, i ? ",%lld" : "%lld", (long long)n->shape[i]);
    if (k > 0 && (size_t)k < size) snprintf(buf + k, size - (size_t)k, "]");
    return buf;
}

static cp_node *shape_error(cp_graph *g, const char *op, const cp_node *a, const cp_node *b,
                            const char *why)
{
    char sa[160], sb[160] = "";
    return cp_graph_fail(g, CP_ERR_INVALID_ARGUMENT, "graph: %s: %s%s%s: %s", op,
                         shape_str(a, sa, sizeof sa), b ? " and " : "",
                         b ? shape_str(b, sb, sizeof sb) : "", why);
}

static bool any_null(cp_node *const *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!v[i]) return true;
    return false;
}

cp_node *cp_g_input(cp_graph *g, const char *name, int ndim, const int64_t *shape)
{
    cp_node *n = cp_graph_add_node(g, CP_OP_INPUT, ndim, shape, NULL, 0);
    if (n && name) cp_node_set_name(n, name);
    return n;
}

static cp_node *bound_leaf(cp_graph *g, cp_op op, cp_tensor *t, int group)
{
    if (!t || !t->buf)
        return cp_graph_fail(g, CP_ERR_INVALID_ARGUMENT, "graph: %s: tensor has no buffer",
                             cp_op_name(op));
    cp_node *n = cp_graph_add_node(g, op, t->ndim, t->shape, NULL, 0);
    if (!n) return NULL;
    n->bound = t;
    n->group = group;
    if (t->name[0]) cp_node_set_name(n, t->name);
    return n;
}

cp_node *cp_g_param(cp_graph *g, cp_tensor *t, int group)
{
    if (group < 0)
        return cp_graph_fail(g, CP_ERR_INVALID_ARGUMENT, "graph: parameter group %d < 0", group);
    return bound_leaf(g, CP_OP_PARAM, t, group);
}

cp_node *cp_g_buffer(cp_graph *g, cp_tensor *t) { return bound_leaf(g, CP_OP_BUFFER, t, -1); }

static cp_node *conv_like(cp_graph *g, cp_op op, cp_node *x, cp_node *w, cp_node *b,
                          const cp_conv_params *p)
{
    if (any_null((cp_node *[]){x, w}, 2) || !p) return ERR_NULL(g);
    bool transposed = op == CP_OP_CONV_T2D;
    const char *name = cp_op_name(op);
    if (x->ndim != 4) return shape_error(g, name, x, NULL, "input must be NCHW");
    if (w->ndim != 4) return shape_error(g, name, w, NULL, "weights must be 4-D");
    int64_t c_in = transposed ? w->shape[0] : w->shape[1];
    int64_t c_out = transposed ? w->shape[1] : w->shape[0];
    if (x->shape[1] != c_in) return shape_error(g, name, x, w, "input channels differ");
    if (w->shape[2] != p->kh || w->shape[3] != p->kw)
        return shape_error(g, name, w, NULL, "kernel size differs from the parameters");
    if (b && (cp_node_numel(b) != (size_t)c_out))
        return shape_error(g, name, b, w, "bias size differs from output channels");
    int64_t ho, wo;
    bool ok = transposed ? cp_conv_transpose_out_size(p, x->shape[2], x->shape[3], &ho, &wo)
                         : cp_conv_out_size(p, x->shape[2], x->shape[3], &ho, &wo);
    if (!ok) return shape_error(g, name, x, NULL, "output would be empty");
    int64_t shape[4] = {x->shape[0], c_out, ho, wo};
    cp_node *n = cp_graph_add_node(g, op, 4, shape, (cp_node *[]){x, w, b}, b ? 3 : 2);
    if (n) n->params.conv = *p; /* the workspace is the backend's to size, at plan time */
    return n;
}

cp_node *cp_g_conv2d(cp_graph *g, cp_node *x, cp_node *w, cp_node *b, const cp_conv_params *p)
{
    return conv_like(g, CP_OP_CONV2D, x, w, b, p);
}

cp_node *cp_g_conv_transpose2d(cp_graph *g, cp_node *x, cp_node *w, cp_node *b,
                               const cp_conv_params *p)
{
    return conv_like(g, CP_OP_CONV_T2D, x, w, b, p);
}

cp_node *cp_g_dense(cp_graph *g, cp_node *x, cp_node *w, cp_node *b)
{
    if (any_null((cp_node *[]){x, w}, 2)) return ERR_NULL(g);
    int64_t n_batch = x->shape[0];
    size_t features = cp_node_numel(x) / (size_t)n_batch;
    if (w->ndim != 2 || (size_t)w->shape[1] != features)
        return shape_error(g, "dense", x, w, "weights must be [out, features per sample]");
    if (b && cp_node_numel(b) != (size_t)w->shape[0])
        return shape_error(g, "dense", b, w, "bias size differs from outputs");
    int64_t shape[2] = {n_batch, w->shape[0]};
    return cp_graph_add_node(g, CP_OP_DENSE, 2, shape, (cp_node *[]){x, w, b}, b ? 3 : 2);
}

cp_node *cp_g_maxpool2(cp_graph *g, cp_node *x)
{
    if (!x) return ERR_NULL(g);
    if (x->ndim != 4 || x->shape[2] < 2 || x->shape[3] < 2)
        return shape_error(g, "maxpool2", x, NULL, "needs NCHW with H, W >= 2");
    int64_t shape[4] = {x->shape[0], x->shape[1], x->shape[2] / 2, x->shape[3] / 2};
    return cp_graph_add_node(g, CP_OP_MAXPOOL2, 4, shape, &x, 1);
}

static cp_node *unary(cp_graph *g, cp_op op, cp_node *x)
{
    if (!x) return ERR_NULL(g);
    return cp_graph_add_node(g, op, x->ndim, x->shape, &x, 1);
}

cp_node *cp_g_elu(cp_graph *g, cp_node *x) { return unary(g, CP_OP_ELU, x); }
cp_node *cp_g_tanh(cp_graph *g, cp_node *x) { return unary(g, CP_OP_TANH, x); }
cp_node *cp_g_sigmoid(cp_graph *g, cp_node *x) { return unary(g, CP_OP_SIGMOID, x); }

cp_node *cp_g_scale(cp_graph *g, float alpha, cp_node *x)
{
    cp_node *n = unary(g, CP_OP_SCALE, x);
    if (n) n->params.add.alpha = alpha;
    return n;
}

cp_node *cp_g_add(cp_graph *g, float alpha, cp_node *a, float beta, cp_node *b)
{
    if (any_null((cp_node *[]){a, b}, 2)) return ERR_NULL(g);
    if (cp_node_numel(a) != cp_node_numel(b))
        return shape_error(g, "add", a, b, "element counts differ");
    cp_node *n = cp_graph_add_node(g, CP_OP_ADD, a->ndim, a->shape, (cp_node *[]){a, b}, 2);
    if (n) {
        n->params.add.alpha = alpha;
        n->params.add.beta = beta;
    }
    return n;
}

cp_node *cp_g_mul(cp_graph *g, cp_node *a, cp_node *b)
{
    if (any_null((cp_node *[]){a, b}, 2)) return ERR_NULL(g);
    if (cp_node_numel(a) != cp_node_numel(b))
        return shape_error(g, "mul", a, b, "element counts differ");
    return cp_graph_add_node(g, CP_OP_MUL, a->ndim, a->shape, (cp_node *[]){a, b}, 2);
}

cp_node *cp_g_concat(cp_graph *g, cp_node *a, cp_node *b)
{
    if (any_null((cp_node *[]){a, b}, 2)) return ERR_NULL(g);
    if (a->ndim != 4 || b->ndim != 4 || a->shape[0] != b->shape[0] ||
        a->shape[2] != b->shape[2] || a->shape[3] != b->shape[3])
        return shape_error(g, "concat", a, b, "N, H, W must match");
    int64_t shape[4] = {a->shape[0], a->shape[1] + b->shape[1], a->shape[2], a->shape[3]};
    return cp_graph_add_node(g, CP_OP_CONCAT, 4, shape, (cp_node *[]){a, b}, 2);
}

static bool mask_fits(const cp_node *x, const cp_node *m)
{
    return x->ndim == 4 && m->ndim == 4 && m->shape[1] == 1 && m->shape[0] == x->shape[0] &&
           m->shape[2] == x->shape[2] && m->shape[3] == x->shape[3];
}

cp_node *cp_g_mask_known(cp_graph *g, cp_node *x, cp_node *m)
{
    if (any_null((cp_node *[]){x, m}, 2)) return ERR_NULL(g);
    if (!mask_fits(x, m)) return shape_error(g, "mask_known", x, m, "mask must be [N,1,H,W]");
    return cp_graph_add_node(g, CP_OP_MASK_KNOWN, 4, x->shape, (cp_node *[]){x, m}, 2);
}

cp_node *cp_g_composite(cp_graph *g, cp_node *gen, cp_node *x, cp_node *m)
{
    if (any_null((cp_node *[]){gen, x, m}, 3)) return ERR_NULL(g);
    if (cp_node_numel(gen) != cp_node_numel(x) || !mask_fits(x, m))
        return shape_error(g, "composite", gen, x, "shapes differ or mask is not [N,1,H,W]");
    return cp_graph_add_node(g, CP_OP_COMPOSITE, 4, x->shape, (cp_node *[]){gen, x, m}, 3);
}

cp_node *cp_g_batchnorm(cp_graph *g, cp_node *x, cp_node *gamma, cp_node *beta,
                        cp_node *running_mean, cp_node *running_var, const cp_bn_params *p,
                        cp_bn_mode mode)
{
    if (any_null((cp_node *[]){x, gamma, beta, running_mean, running_var}, 5) || !p)
        return ERR_NULL(g);
    size_t c = x->ndim >= 2 ? (size_t)x->shape[1] : 0;
    if (x->ndim != 4 || cp_node_numel(gamma) != c || cp_node_numel(beta) != c ||
        cp_node_numel(running_mean) != c || cp_node_numel(running_var) != c)
        return shape_error(g, "batchnorm", x, gamma, "parameters must have C elements");
    cp_node *n = cp_graph_add_node(g, CP_OP_BATCHNORM, 4, x->shape,
                                   (cp_node *[]){x, gamma, beta, running_mean, running_var}, 5);
    if (!n) return NULL;
    n->params.bn.p = *p;
    n->params.bn.mode = mode;
    n->aux_floats = mode == CP_BN_EVAL ? 0 : 2 * c; /* saved mean, invstd */
    return n;
}

static const int64_t scalar_shape[1] = {1};

cp_node *cp_g_loss_rec(cp_graph *g, cp_node *gen, cp_node *x, cp_node *m, float ctx_weight)
{
    if (any_null((cp_node *[]){gen, x, m}, 3)) return ERR_NULL(g);
    if (cp_node_numel(gen) != cp_node_numel(x) || !mask_fits(x, m))
        return shape_error(g, "loss_rec", gen, x, "shapes differ or mask is not [N,1,H,W]");
    cp_node *n = cp_graph_add_node(g, CP_OP_LOSS_REC, 1, scalar_shape,
                                   (cp_node *[]){gen, x, m}, 3);
    if (n) n->params.loss_rec.ctx_weight = ctx_weight;
    return n;
}

cp_node *cp_g_loss_bce(cp_graph *g, cp_node *logits, int label)
{
    if (!logits) return ERR_NULL(g);
    if (label != 0 && label != 1)
        return cp_graph_fail(g, CP_ERR_INVALID_ARGUMENT, "graph: loss_bce: label %d", label);
    cp_node *n = cp_graph_add_node(g, CP_OP_LOSS_BCE, 1, scalar_shape, &logits, 1);
    if (n) n->params.loss_bce.label = label;
    return n;
}

cp_node *cp_g_loss_bce_dice(cp_graph *g, cp_node *logits, cp_node *target, float dice_weight)
{
    if (any_null((cp_node *[]){logits, target}, 2)) return ERR_NULL(g);
    if (logits->ndim != 4 || logits->shape[1] != 1 || cp_node_numel(logits) != cp_node_numel(target) ||
        target->ndim != 4 || target->shape[0] != logits->shape[0])
        return shape_error(g, "loss_dice", logits, target, "logits and target must both be [N,1,H,W]");
    cp_node *n = cp_graph_add_node(g, CP_OP_LOSS_DICE, 1, scalar_shape,
                                   (cp_node *[]){logits, target}, 2);
    if (n) n->params.loss_dice.dice_weight = dice_weight;
    return n;
}

cp_node *cp_g_mean(cp_graph *g, cp_node *x)
{
    if (!x) return ERR_NULL(g);
    return cp_graph_add_node(g, CP_OP_MEAN, 1, scalar_shape, &x, 1);
}

cp_node *cp_g_reshape(cp_graph *g, cp_node *x, int ndim, const int64_t *shape)
{
    if (!x) return ERR_NULL(g);
    size_t k = 1;
    for (int i = 0; i < ndim; i++) k *= (size_t)(shape[i] > 0 ? shape[i] : 0);
    if (k != cp_node_numel(x)) return shape_error(g, "reshape", x, NULL, "element count changes");
    return cp_graph_add_node(g, CP_OP_RESHAPE, ndim, shape, &x, 1);
}

cp_node *cp_g_stop_gradient(cp_graph *g, cp_node *x)
{
    if (!x) return ERR_NULL(g);
    return cp_graph_add_node(g, CP_OP_STOP_GRAD, x->ndim, x->shape, &x, 1);
}

cp_status cp_g_adam(cp_graph *g, cp_node *param, cp_node *grad, cp_tensor *m, cp_tensor *v,
                    const cp_adam_params *p, const int64_t *step)
{
    if (!param || !grad || !m || !v || !p || !step) {
        /* A NULL node usually carries an earlier error, which is kept. */
        cp_graph_fail(g, CP_ERR_INVALID_ARGUMENT, "graph: adam: NULL argument");
        return g->error;
    }
    size_t k = cp_node_numel(param);
    if (param->op != CP_OP_PARAM || cp_node_numel(grad) != k || cp_tensor_numel(m) != k ||
        cp_tensor_numel(v) != k) {
        shape_error(g, "adam", param, grad, "needs a parameter and equal-size gradient and moments");
        return g->error;
    }
    cp_node *n = cp_graph_add_node(g, CP_OP_ADAM, param->ndim, param->shape,
                                   (cp_node *[]){param, grad}, 2);
    if (!n) return g->error;
    n->params.adam.p = *p;
    n->params.adam.step = step;
    n->params.adam.m = m;
    n->params.adam.v = v;
    cp_node_set_namef(n, "adam(%s)", param->name);
    return CP_OK;
}
