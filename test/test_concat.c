/* Channel concatenation inside graphs: its backward rule (autodiff's
 * CP_OP_CONCAT -> two CP_OP_CONCAT_DX nodes) checked by finite differences
 * where gradient flows into both parts, as in a U-Net skip connection (one
 * tensor feeding both the concatenation and the path down), at batch 1 and
 * 2 with odd channel counts, with an input part, and with the same node as
 * both parts. The op's values and its own backward are in test_elementwise.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/graph.h"
#include "util/test_util.h"

enum { S = 6, MAX_LEAVES = 16 };

typedef struct net {
    cp_graph *g;
    cp_tensor params[MAX_LEAVES];
    cp_node *leaves[MAX_LEAVES]; /* parameters, then inputs checked too */
    cp_tensor *values[MAX_LEAVES];
    cp_tensor input_views[MAX_LEAVES];
    int nparams, nleaves;
    cp_node *loss;
    cp_rng rng;
} net;

static cp_node *param(net *t, const char *name, int ndim, const int64_t *shape, float scale)
{
    cp_tensor *p = &t->params[t->nparams];
    tu_tensor_uniform(&t->rng, ndim, shape, -scale, scale, name, p);
    cp_node *node = cp_g_param(t->g, p, 0);
    t->leaves[t->nleaves] = node;
    t->values[t->nleaves++] = p;
    t->nparams++;
    return node;
}

/* Backward for the parameters and the given inputs, then plan with every
 * debug check on (freed memory poisoned, writes checked). */
static void finish(net *t, cp_node *const *inputs, int ninputs)
{
    cp_g_keep(t->g, t->loss);
    TU_OK(cp_g_backward(t->g, t->loss, 0, inputs, ninputs));
    for (int i = 0; i < t->nleaves; i++) cp_g_keep(t->g, cp_g_grad(t->leaves[i]));
    for (int i = 0; i < ninputs; i++) cp_g_keep(t->g, cp_g_grad(inputs[i]));
    cp_plan_options o = {.reuse = true, .in_place = true, .poison_freed = true, .check_writes = true};
    TU_OK(cp_graph_plan(t->g, &o));
    for (int i = 0; i < ninputs; i++) {
        cp_tensor *v = &t->input_views[t->nleaves];
        TU_OK(cp_graph_tensor(t->g, inputs[i], v));
        t->leaves[t->nleaves] = inputs[i];
        t->values[t->nleaves++] = v;
    }
}

/* Fills an input with uniform values. */
static void set_input(net *t, cp_node *n, float lo, float hi)
{
    cp_tensor v;
    TU_OK(cp_graph_tensor(t->g, n, &v));
    size_t count = cp_tensor_numel(&v);
    float *h = malloc(count * sizeof *h);
    tu_fill_uniform(&t->rng, h, count, lo, hi);
    TU_OK(cp_tensor_upload(tu_ctx(), &v, h));
    free(h);
}

static double run_loss(net *t)
{
    float l;
    TU_OK(cp_graph_run(t->g));
    TU_OK(cp_graph_read_scalars(t->g, &t->loss, 1, &l));
    return l;
}

/* Central differences against the analytic gradient at `per_leaf` random
 * elements of every leaf (all of them when the leaf is smaller). h = 5e-4
 * and the tolerance as in test_graph.c: the loss is reduced in float. */
static void gradcheck(net *t, int per_leaf, const char *what)
{
    cp_rng pick;
    cp_rng_seed(&pick, 5, 0);
    run_loss(t);
    int checked = 0;
    for (int i = 0; i < t->nleaves; i++) {
        cp_node *gn = cp_g_grad(t->leaves[i]);
        ck_assert_msg(gn != NULL, "%s: no gradient for leaf %d", what, i);
        cp_tensor gt;
        TU_OK(cp_graph_run(t->g));
        TU_OK(cp_graph_tensor(t->g, gn, &gt));
        float *grad = tu_download(&gt), *p = tu_download(t->values[i]);
        size_t n = cp_tensor_numel(t->values[i]);
        for (int k = 0; k < per_leaf && k < (int)n; k++) {
            size_t j = (int)n <= per_leaf ? (size_t)k : (size_t)cp_rng_range(&pick, 0, (int64_t)n - 1);
            const double h = 5e-4;
            float saved = p[j];
            p[j] = saved + (float)h;
            TU_OK(cp_tensor_upload(tu_ctx(), t->values[i], p));
            double lp = run_loss(t);
            p[j] = saved - (float)h;
            TU_OK(cp_tensor_upload(tu_ctx(), t->values[i], p));
            double lm = run_loss(t);
            p[j] = saved;
            TU_OK(cp_tensor_upload(tu_ctx(), t->values[i], p));
            double num = (lp - lm) / (2 * h), ana = grad[j];
            ck_assert_msg(fabs(num - ana) <= 2e-4 + 3e-2 * fabs(ana),
                          "%s: %s[%zu]: analytic %.6g, finite difference %.6g", what,
                          cp_node_name(t->leaves[i]), j, ana, num);
            checked++;
        }
        free(grad);
        free(p);
    }
    ck_assert_int_ge(checked, 30);
}

static void free_net(net *t)
{
    cp_graph_free(t->g);
    for (int i = 0; i < t->nparams; i++) cp_tensor_free(tu_ctx(), &t->params[i]);
}

/* A small U-Net: a = elu(conv3(x)) [N,5,S,S] feeds both the path down
 * (pool, conv3, elu, up2) and the skip: concat(up, a) [N,8]; then the input
 * itself is concatenated in front: concat(x, ...) [N,11]; conv3, tanh, and
 * L_rec against a target. Gradients of every parameter and of x. */
static void unet_gradients(int64_t N)
{
    net t;
    memset(&t, 0, sizeof t);
    cp_rng_seed(&t.rng, 40 + (uint64_t)N, 0);
    TU_OK(cp_graph_create(tu_ctx(), &t.g));
    cp_graph *g = t.g;
    cp_conv_params c3 = cp_conv3_params(), u2 = cp_up2_params();
    cp_node *x = cp_g_input(g, "x", 4, (int64_t[]){N, 3, S, S});
    cp_node *target = cp_g_input(g, "target", 4, (int64_t[]){N, 3, S, S});
    cp_node *m = cp_g_input(g, "m", 4, (int64_t[]){N, 1, S, S});
    int64_t b5 = 5, b3 = 3;
    cp_node *a = cp_g_elu(g, cp_g_conv2d(g, x, param(&t, "w1", 4, (int64_t[]){5, 3, 3, 3}, 0.4f),
                                         param(&t, "b1", 1, &b5, 0.1f), &c3));
    cp_node *d = cp_g_elu(g, cp_g_conv2d(g, cp_g_maxpool2(g, a), param(&t, "w2", 4, (int64_t[]){3, 5, 3, 3}, 0.4f),
                                         param(&t, "b2", 1, &b3, 0.1f), &c3));
    cp_node *up = cp_g_conv_transpose2d(g, d, param(&t, "wu", 4, (int64_t[]){3, 3, 2, 2}, 0.4f),
                                        param(&t, "bu", 1, &b3, 0.1f), &u2);
    cp_node *skip = cp_g_concat(g, up, a);
    cp_node *both = cp_g_concat(g, x, skip);
    ck_assert_int_eq(cp_node_shape(both)[1], 11);
    cp_node *out = cp_g_tanh(g, cp_g_conv2d(g, both, param(&t, "w3", 4, (int64_t[]){3, 11, 3, 3}, 0.3f),
                                            param(&t, "b3", 1, &b3, 0.1f), &c3));
    t.loss = cp_g_loss_rec(g, out, target, m, 0.3f);
    finish(&t, &x, 1);
    set_input(&t, x, -1, 1);
    set_input(&t, target, -1, 1);
    set_input(&t, m, 0, 1);
    char what[32];
    snprintf(what, sizeof what, "U-Net, batch %lld", (long long)N);
    gradcheck(&t, 8, what);
    free_net(&t);
}

START_TEST(unet_skip_batch_1) { unet_gradients(1); }
END_TEST

START_TEST(unet_skip_batch_2) { unet_gradients(2); }
END_TEST

/* concat(p, p) and concat(q, p) in one loss: each element of p receives
 * the sum of its gradient slices, and the order of the parts matters. */
START_TEST(same_node_twice)
{
    net t;
    memset(&t, 0, sizeof t);
    cp_rng_seed(&t.rng, 44, 0);
    TU_OK(cp_graph_create(tu_ctx(), &t.g));
    cp_graph *g = t.g;
    int64_t sp[4] = {1, 3, 3, 5}, sq[4] = {1, 1, 3, 5};
    cp_node *p = param(&t, "p", 4, sp, 1.0f), *q = param(&t, "q", 4, sq, 1.0f);
    cp_node *pp = cp_g_concat(g, p, p), *qp = cp_g_concat(g, q, p);
    /* squares make the gradient depend on position, so a swapped slice shows */
    cp_node *y = cp_g_concat(g, cp_g_mul(g, pp, pp), cp_g_scale(g, 2.0f, qp)); /* [1,10,3,5] */
    cp_node *target = cp_g_input(g, "target", 4, (int64_t[]){1, 10, 3, 5});
    cp_node *m = cp_g_input(g, "m", 4, (int64_t[]){1, 1, 3, 5});
    t.loss = cp_g_loss_rec(g, cp_g_tanh(g, y), target, m, 0.5f);
    finish(&t, NULL, 0);
    set_input(&t, target, -1, 1);
    set_input(&t, m, 0, 1);
    gradcheck(&t, 45, "concat(p, p)");
    free_net(&t);
}
END_TEST

START_TEST(shape_errors)
{
    cp_graph *g;
    TU_OK(cp_graph_create(tu_ctx(), &g));
    cp_node *a = cp_g_input(g, "a", 4, (int64_t[]){2, 3, 4, 4});
    cp_node *b = cp_g_input(g, "b", 4, (int64_t[]){1, 3, 4, 4});
    ck_assert_ptr_null(cp_g_concat(g, a, b));
    ck_assert_int_eq(cp_graph_status(g), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "concat"));
    cp_graph_free(g);
    TU_OK(cp_graph_create(tu_ctx(), &g));
    a = cp_g_input(g, "a", 4, (int64_t[]){1, 3, 4, 5});
    b = cp_g_input(g, "b", 4, (int64_t[]){1, 3, 5, 4});
    ck_assert_ptr_null(cp_g_concat(g, a, b));
    ck_assert_int_eq(cp_graph_status(g), CP_ERR_INVALID_ARGUMENT);
    cp_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("concat");
    TCase *tc = tcase_create("concat");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, unet_skip_batch_1);
    tcase_add_test(tc, unet_skip_batch_2);
    tcase_add_test(tc, same_node_twice);
    tcase_add_test(tc, shape_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
