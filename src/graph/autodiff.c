/* Reverse-mode automatic differentiation: walks back from the loss and
 * emits ordinary nodes for every gradient a target needs.
 *
 * The gradient reaching a node is either a node or a constant: the loss
 * starts with the constant 1, and sums and scalings of scalars (L_G =
 * λ_rec L_rec + λ_adv L_adv) pass constants on. Losses fold that constant
 * into their gradient kernel (grad_scale), so no scalar gradient ever
 * needs a device round trip. */
#include "graph/graph_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct grad_state {
    cp_node *node;  /* accumulated gradient node, or NULL */
    double constant;
    bool has_constant;
} grad_state;

typedef struct ad {
    cp_graph *g;
    grad_state *gs;
    bool *needs;
} ad;

static cp_node *new_grad(ad *a, cp_op op, const cp_node *like, cp_node *const *src, int nsrc)
{
    cp_node *n = cp_graph_add_node(a->g, op, like->ndim, like->shape, src, nsrc);
    cp_node_set_namef(n, "%s(%s)", cp_op_name(op), like->name);
    return n;
}

static void add_node_grad(ad *a, cp_node *target, cp_node *contribution)
{
    if (!contribution) return;
    grad_state *s = &a->gs[target->id];
    if (!s->node) {
        s->node = contribution;
    } else {
        cp_node *sum = cp_g_add(a->g, 1.0f, s->node, 1.0f, contribution);
        cp_node_set_namef(sum, "grad_sum(%s)", target->name);
        s->node = sum;
    }
}

static void add_const_grad(ad *a, cp_node *target, double c)
{
    a->gs[target->id].constant += c;
    a->gs[target->id].has_constant = true;
}

static cp_status unsupported(ad *a, const cp_node *n, const char *why)
{
    cp_graph_fail(a->g, CP_ERR_UNSUPPORTED, "autodiff: %s (%s): %s", n->name, cp_op_name(n->op),
                  why);
    return a->g->error;
}

/* dy * alpha as a node (dy itself when alpha is 1). */
static cp_node *scaled(ad *a, cp_node *dy, float alpha)
{
    return alpha == 1.0f ? dy : cp_g_scale(a->g, alpha, dy);
}

static cp_status backward_node(ad *a, cp_node *n)
{
    grad_state *s = &a->gs[n->id];
    cp_node *dy = s->node;
    cp_node **src = n->src;
    bool *need = a->needs;
#define NEED(i) (n->nsrc > (i) && need[src[i]->id])

    /* Linear ops on scalars pass constants through. */
    if (s->has_constant && !dy) {
        double c = s->constant;
        switch (n->op) {
        case CP_OP_ADD:
            if (NEED(0)) add_const_grad(a, src[0], n->params.add.alpha * c);
            if (NEED(1)) add_const_grad(a, src[1], n->params.add.beta * c);
            return CP_OK;
        case CP_OP_SCALE:
            if (NEED(0)) add_const_grad(a, src[0], n->params.add.alpha * c);
            return CP_OK;
        case CP_OP_RESHAPE:
            if (NEED(0)) add_const_grad(a, src[0], c);
            return CP_OK;
        case CP_OP_LOSS_REC: {
            if (NEED(1) || NEED(2))
                return unsupported(a, n, "gradient with respect to the target or the mask");
            if (!NEED(0)) return CP_OK;
            cp_node *d = new_grad(a, CP_OP_LOSS_REC_DG, src[0], (cp_node *[]){src[0], src[1], src[2]}, 3);
            if (d) {
                d->params.loss_rec.ctx_weight = n->params.loss_rec.ctx_weight;
                d->params.loss_rec.grad_scale = (float)c;
            }
            add_node_grad(a, src[0], d);
            return CP_OK;
        }
        case CP_OP_LOSS_BCE: {
            if (!NEED(0)) return CP_OK;
            cp_node *d = new_grad(a, CP_OP_LOSS_BCE_DT, src[0], (cp_node *[]){src[0]}, 1);
            if (d) {
                d->params.loss_bce.label = n->params.loss_bce.label;
                d->params.loss_bce.grad_scale = (float)c;
            }
            add_node_grad(a, src[0], d);
            return CP_OK;
        }
        case CP_OP_LOSS_DICE: {
            if (NEED(1)) return unsupported(a, n, "gradient with respect to the target");
            if (!NEED(0)) return CP_OK;
            cp_node *d = new_grad(a, CP_OP_LOSS_DICE_DT, src[0], (cp_node *[]){src[0], src[1]}, 2);
            if (d) {
                d->params.loss_dice.grad_scale = (float)c;
                d->params.loss_dice.dice_weight = n->params.loss_dice.dice_weight;
            }
            add_node_grad(a, src[0], d);
            return CP_OK;
        }
        default:
            return unsupported(a, n, "only losses and their weighted sums can be differentiated "
                                     "from a scalar");
        }
    }
    if (s->has_constant) return unsupported(a, n, "mixed constant and tensor gradients");

    switch (n->op) {
    case CP_OP_CONV2D:
    case CP_OP_CONV_T2D: {
        bool t = n->op == CP_OP_CONV_T2D;
        cp_node *args[3] = {src[0], src[1], dy};
        if (NEED(0)) {
            cp_node *d = new_grad(a, t ? CP_OP_CONV_T2D_DX : CP_OP_CONV2D_DX, src[0], args, 3);
            if (d) d->params.conv = n->params.conv;
            add_node_grad(a, src[0], d);
        }
        if (NEED(1)) {
            cp_node *d = new_grad(a, t ? CP_OP_CONV_T2D_DW : CP_OP_CONV2D_DW, src[1], args, 3);
            if (d) d->params.conv = n->params.conv;
            add_node_grad(a, src[1], d);
        }
        if (NEED(2)) add_node_grad(a, src[2], new_grad(a, CP_OP_BIAS_GRAD, src[2], &dy, 1));
        return CP_OK;
    }
    case CP_OP_DENSE: {
        cp_node *args[3] = {src[0], src[1], dy};
        /* The workspace of dense_dx/_dw is sized like the forward's, from
         * x and w (sources 0 and 1), at plan time. */
        if (NEED(0)) add_node_grad(a, src[0], new_grad(a, CP_OP_DENSE_DX, src[0], args, 3));
        if (NEED(1)) add_node_grad(a, src[1], new_grad(a, CP_OP_DENSE_DW, src[1], args, 3));
        if (NEED(2)) add_node_grad(a, src[2], new_grad(a, CP_OP_BIAS_GRAD, src[2], &dy, 1));
        return CP_OK;
    }
    case CP_OP_MAXPOOL2:
        if (NEED(0))
            add_node_grad(a, src[0], new_grad(a, CP_OP_MAXPOOL2_DX, src[0], (cp_node *[]){src[0], dy}, 2));
        return CP_OK;
    case CP_OP_ELU:
    case CP_OP_ELU_FUSED: /* the same value, computed by its source */
    case CP_OP_TANH:
    case CP_OP_SIGMOID: {
        cp_op op = n->op == CP_OP_ELU || n->op == CP_OP_ELU_FUSED ? CP_OP_ELU_DX : n->op == CP_OP_TANH ? CP_OP_TANH_DX
                                                                           : CP_OP_SIGMOID_DX;
        /* The backward reads the output y (= n), so n stays alive. */
        if (NEED(0)) add_node_grad(a, src[0], new_grad(a, op, src[0], (cp_node *[]){n, dy}, 2));
        return CP_OK;
    }
    case CP_OP_ADD:
        if (NEED(0)) add_node_grad(a, src[0], scaled(a, dy, n->params.add.alpha));
        if (NEED(1)) add_node_grad(a, src[1], scaled(a, dy, n->params.add.beta));
        return CP_OK;
    case CP_OP_SCALE:
        if (NEED(0)) add_node_grad(a, src[0], scaled(a, dy, n->params.add.alpha));
        return CP_OK;
    case CP_OP_MUL:
        if (NEED(0)) add_node_grad(a, src[0], cp_g_mul(a->g, dy, src[1]));
        if (NEED(1)) add_node_grad(a, src[1], cp_g_mul(a->g, dy, src[0]));
        return CP_OK;
    case CP_OP_CONCAT:
        for (int i = 0; i < 2; i++) {
            if (!NEED(i)) continue;
            cp_node *d = new_grad(a, CP_OP_CONCAT_DX, src[i], &dy, 1);
            if (d) d->params.concat_dx.part = i;
            add_node_grad(a, src[i], d);
        }
        return CP_OK;
    case CP_OP_MASK_KNOWN:
        if (NEED(1)) return unsupported(a, n, "gradient with respect to the mask");
        if (NEED(0)) add_node_grad(a, src[0], cp_g_mask_known(a->g, dy, src[1]));
        return CP_OK;
    case CP_OP_COMPOSITE:
        if (NEED(2)) return unsupported(a, n, "gradient with respect to the mask");
        if (NEED(0))
            add_node_grad(a, src[0], new_grad(a, CP_OP_COMPOSITE_DG, src[0], (cp_node *[]){src[2], dy}, 2));
        if (NEED(1)) add_node_grad(a, src[1], cp_g_mask_known(a->g, dy, src[2]));
        return CP_OK;
    case CP_OP_BATCHNORM: {
        if (n->params.bn.mode == CP_BN_EVAL)
            return unsupported(a, n, "batch normalisation in evaluation mode has no backward");
        /* Sources: x, gamma, dy and the forward node itself (its saved
         * statistics live after its value). */
        cp_node *args[4] = {src[0], src[1], dy, n};
        if (NEED(0)) add_node_grad(a, src[0], new_grad(a, CP_OP_BN_DX, src[0], args, 4));
        if (NEED(1)) add_node_grad(a, src[1], new_grad(a, CP_OP_BN_DGAMMA, src[1], args, 4));
        if (NEED(2)) add_node_grad(a, src[2], new_grad(a, CP_OP_BIAS_GRAD, src[2], &dy, 1));
        return CP_OK;
    }
    case CP_OP_RESHAPE:
        if (NEED(0)) add_node_grad(a, src[0], cp_g_reshape(a->g, dy, src[0]->ndim, src[0]->shape));
        return CP_OK;
    case CP_OP_STOP_GRAD:
        return CP_OK;
    default:
        return unsupported(a, n, "no backward rule");
    }
#undef NEED
}

cp_status cp_g_backward(cp_graph *g, cp_node *loss, int group, cp_node *const *extra,
                        int extra_count)
{
    if (g->error) return g->error;
    if (!loss || !cp_node_is_scalar(loss)) {
        cp_graph_fail(g, CP_ERR_INVALID_ARGUMENT, "autodiff: the loss must be a scalar node");
        return g->error;
    }
    int count = g->count; /* nodes that exist before the backward */
    ad a = {g, calloc((size_t)count, sizeof(grad_state)), calloc((size_t)count, sizeof(bool))};
    bool *is_target = calloc((size_t)count, sizeof(bool));
    bool *reach = calloc((size_t)count, sizeof(bool));
    if (!a.gs || !a.needs || !is_target || !reach) {
        free(a.gs);
        free(a.needs);
        free(is_target);
        free(reach);
        cp_graph_fail(g, CP_ERR_OUT_OF_HOST_MEMORY, "autodiff");
        return g->error;
    }
    for (int i = 0; i < count; i++) {
        cp_node *n = g->nodes[i];
        if (n->op == CP_OP_PARAM && (group < 0 || n->group == group)) is_target[i] = true;
        if (n->op == CP_OP_PARAM || n->grad) n->grad = NULL;
    }
    for (int i = 0; i < extra_count; i++)
        if (extra[i]) is_target[extra[i]->id] = true;
    /* Forward: what depends on a target. */
    for (int i = 0; i < count; i++) {
        cp_node *n = g->nodes[i];
        bool nd = is_target[i];
        if (n->op != CP_OP_STOP_GRAD && n->op != CP_OP_ADAM)
            for (int j = 0; j < n->nsrc; j++) nd = nd || a.needs[n->src[j]->id];
        a.needs[i] = nd;
    }
    /* Backward: what the loss depends on. */
    reach[loss->id] = true;
    for (int i = loss->id; i >= 0; i--)
        if (reach[i])
            for (int j = 0; j < g->nodes[i]->nsrc; j++) reach[g->nodes[i]->src[j]->id] = true;

    a.gs[loss->id].constant = 1.0;
    a.gs[loss->id].has_constant = true;
    cp_status st = CP_OK;
    for (int i = loss->id; i >= 0 && st == CP_OK && !g->error; i--) {
        cp_node *n = g->nodes[i];
        if (!reach[i] || !a.needs[i] || n->nsrc == 0) continue;
        if (!a.gs[i].node && !a.gs[i].has_constant) continue;
        st = backward_node(&a, n);
    }
    if (st == CP_OK && !g->error) {
        for (int i = 0; i < count; i++) {
            if (!is_target[i]) continue;
            if (a.gs[i].has_constant) {
                st = unsupported(&a, g->nodes[i], "a target used directly as the loss");
                break;
            }
            g->nodes[i]->grad = a.gs[i].node;
        }
    }
    free(a.gs);
    free(a.needs);
    free(is_target);
    free(reach);
    return g->error ? g->error : st;
}
