/* The OpenCL backend's compute: each node becomes one operator call on the
 * context's in-order queue (no clFinish, no host read). The whole op
 * switch is here, one case per op: a new op adds its case to run_node. */
#include "backend/opencl/backend_opencl.h"
#include "backend/opencl/ops/conv_fused.h"
#include "backend/opencl/runtime/profile.h"
#include "graph/graph_internal.h"

#include <stdio.h>

static cp_tensor flat(cp_backend_buffer buf, size_t off, size_t n, const char *name)
{
    int64_t s = (int64_t)(n ? n : 1);
    return cp_tensor_view((cl_mem)buf, off, 1, &s, name);
}

/* floats of the arena at a global offset (inside one node's allocation) */
static cp_tensor arena_flat(const cp_graph *g, size_t off, size_t n, const char *name)
{
    size_t local;
    cp_backend_buffer buf = cp_graph_arena_at(g, off, &local);
    return flat(buf, local, n, name);
}

static cp_tensor view_shape(const cp_graph *g, const cp_node *n, int64_t a, int64_t b, int64_t c,
                            int64_t d)
{
    cp_tensor t = cp_graph_node_tensor(g, n);
    int64_t s[4] = {a, b, c, d};
    return cp_tensor_view(t.buf, t.offset, 4, s, n->name);
}

/* A batch norm's saved statistics follow its value in the arena. */
static void bn_stats(const cp_graph *g, const cp_node *f, cp_tensor *mean, cp_tensor *invstd)
{
    size_t c = (size_t)f->shape[1];
    *mean = arena_flat(g, f->offset + cp_node_numel(f), c, "bn_mean");
    *invstd = arena_flat(g, f->offset + cp_node_numel(f) + c, c, "bn_invstd");
}

static cp_status run_node(cp_context *ctx, cp_graph *g, cp_node *n)
{
    cp_tensor y = cp_graph_node_tensor(g, n), s[CP_MAX_SRC];
    for (int i = 0; i < n->nsrc; i++) s[i] = cp_graph_node_tensor(g, n->src[i]);
    cp_tensor ws = flat(g->workspace, 0, n->workspace_floats, "workspace");
    const cp_tensor *wsp = n->workspace_floats ? &ws : NULL;
    const cp_tensor *bias = n->nsrc > 2 ? &s[2] : NULL;
    const cp_op_params *p = &n->params;
    /* what fuse.c fused into this node: ELU of its output, ELU' into its dx */
    const cp_fused_act act = n->fused_elu ? CP_FUSED_ELU : CP_FUSED_NONE;
    const cp_fused_act x_act = n->fused_elu_grad ? CP_FUSED_ELU : CP_FUSED_NONE;
    switch (n->op) {
    case CP_OP_INPUT:
    case CP_OP_PARAM:
    case CP_OP_BUFFER:
    case CP_OP_RESHAPE:
    case CP_OP_STOP_GRAD:
    case CP_OP_ELU_FUSED:    /* computed by its source's node */
    case CP_OP_ELU_DX_FUSED: /* likewise */
        return CP_OK;
    case CP_OP_CONV2D:
        return cp_conv2d_forward_act(ctx, &p->conv, &s[0], &s[1], bias, act, &y, wsp);
    case CP_OP_CONV_T2D:
        return cp_conv_transpose2d_forward_act(ctx, &p->conv, &s[0], &s[1], bias, act, &y, wsp);
    case CP_OP_DENSE:
        return cp_dense_forward(ctx, &s[0], &s[1], bias, &y, wsp);
    case CP_OP_MAXPOOL2:
        return cp_maxpool2_forward(ctx, &s[0], &y);
    case CP_OP_ELU:
        return cp_elu_forward(ctx, &s[0], &y);
    case CP_OP_TANH:
        return cp_tanh_forward(ctx, &s[0], &y);
    case CP_OP_SIGMOID:
        return cp_sigmoid_forward(ctx, &s[0], &y);
    case CP_OP_ADD:
        return cp_add(ctx, p->add.alpha, &s[0], p->add.beta, &s[1], &y);
    case CP_OP_MUL:
        return cp_mul(ctx, &s[0], &s[1], &y);
    case CP_OP_SCALE:
        return cp_scale(ctx, p->add.alpha, &s[0], &y, false);
    case CP_OP_CONCAT:
        return cp_concat_channels(ctx, &s[0], &s[1], &y);
    case CP_OP_MASK_KNOWN:
        return cp_mask_known(ctx, &s[0], &s[1], &y);
    case CP_OP_COMPOSITE:
        return cp_composite(ctx, &s[0], &s[1], &s[2], &y);
    case CP_OP_BATCHNORM: {
        if (p->bn.mode == CP_BN_EVAL)
            return cp_batchnorm_forward_eval(ctx, &p->bn.p, &s[0], &s[1], &s[2], &s[3], &s[4], &y);
        cp_tensor mean, invstd;
        bn_stats(g, n, &mean, &invstd);
        return cp_batchnorm_forward_train(ctx, &p->bn.p, &s[0], &s[1], &s[2], &s[3], &s[4],
                                          p->bn.mode == CP_BN_TRAIN, &y, &mean, &invstd);
    }
    case CP_OP_LOSS_REC:
        return cp_loss_rec(ctx, &s[0], &s[1], &s[2], p->loss_rec.ctx_weight, &y, NULL, 0.0f, false);
    case CP_OP_LOSS_BCE:
        return cp_loss_bce_logits(ctx, &s[0], p->loss_bce.label, &y, NULL, 0.0f, false);
    case CP_OP_MEAN:
        return cp_reduce_sum(ctx, &s[0], 1.0f / (float)cp_node_numel(n->src[0]), &y);
    case CP_OP_CONV2D_DX:
        return cp_conv2d_backward_act(ctx, &p->conv, &s[0], &s[1], &s[2], &y, NULL, NULL, false,
                                      x_act, wsp);
    case CP_OP_CONV2D_DW:
        return cp_conv2d_backward(ctx, &p->conv, &s[0], &s[1], &s[2], NULL, &y, NULL, false, wsp);
    case CP_OP_CONV_T2D_DX:
        return cp_conv_transpose2d_backward_act(ctx, &p->conv, &s[0], &s[1], &s[2], &y, NULL,
                                                NULL, false, x_act, wsp);
    case CP_OP_CONV_T2D_DW:
        return cp_conv_transpose2d_backward(ctx, &p->conv, &s[0], &s[1], &s[2], NULL, &y, NULL,
                                            false, wsp);
    case CP_OP_DENSE_DX:
        return cp_dense_backward(ctx, &s[0], &s[1], &s[2], &y, NULL, NULL, false, wsp);
    case CP_OP_DENSE_DW:
        return cp_dense_backward(ctx, &s[0], &s[1], &s[2], NULL, &y, NULL, false, wsp);
    case CP_OP_BIAS_GRAD: {
        /* dy of a dense layer is [N, out]: the same as [N, out, 1, 1]. */
        const cp_node *dy = n->src[0];
        cp_tensor d = dy->ndim == 4 ? s[0]
                                    : view_shape(g, dy, dy->shape[0],
                                                 (int64_t)(cp_node_numel(dy) / (size_t)dy->shape[0]),
                                                 1, 1);
        return cp_bias_backward(ctx, &d, &y, false);
    }
    case CP_OP_MAXPOOL2_DX:
        return cp_maxpool2_backward_act(ctx, &s[0], &s[1], &y, false, x_act);
    case CP_OP_ELU_DX:
        return cp_elu_backward(ctx, &s[0], &s[1], &y, false);
    case CP_OP_TANH_DX:
        return cp_tanh_backward(ctx, &s[0], &s[1], &y, false);
    case CP_OP_SIGMOID_DX:
        return cp_sigmoid_backward(ctx, &s[0], &s[1], &y, false);
    case CP_OP_CONCAT_DX:
        return cp_concat_channels_backward(ctx, &s[0], p->concat_dx.part == 0 ? &y : NULL,
                                           p->concat_dx.part == 1 ? &y : NULL, false);
    case CP_OP_COMPOSITE_DG:
        return cp_composite_backward(ctx, &s[0], &s[1], &y, false);
    case CP_OP_BN_DX:
    case CP_OP_BN_DGAMMA: {
        cp_tensor mean, invstd;
        bn_stats(g, n->src[3], &mean, &invstd); /* src[3]: the forward batch norm */
        return cp_batchnorm_backward(ctx, &s[0], &s[1], &mean, &invstd, &s[2],
                                     n->op == CP_OP_BN_DX ? &y : NULL,
                                     n->op == CP_OP_BN_DGAMMA ? &y : NULL, NULL, false);
    }
    case CP_OP_LOSS_REC_DG: {
        cp_tensor loss = flat(g->scratch_scalar, 0, 1, "scratch");
        return cp_loss_rec(ctx, &s[0], &s[1], &s[2], p->loss_rec.ctx_weight, &loss, &y,
                           p->loss_rec.grad_scale, false);
    }
    case CP_OP_LOSS_BCE_DT: {
        cp_tensor loss = flat(g->scratch_scalar, 0, 1, "scratch");
        return cp_loss_bce_logits(ctx, &s[0], p->loss_bce.label, &loss, &y,
                                  p->loss_bce.grad_scale, false);
    }
    case CP_OP_ADAM:
        return cp_adam_step(ctx, &p->adam.p, *p->adam.step, n->src[0]->bound, &s[1], p->adam.m,
                            p->adam.v);
    case CP_OP_LOSS_DICE:
        return cp_loss_bce_dice(ctx, &s[0], &s[1], p->loss_dice.dice_weight, &y, NULL, 0.0f,
                                false);
    case CP_OP_LOSS_DICE_DT: {
        cp_tensor loss = flat(g->scratch_scalar, 0, 1, "scratch");
        return cp_loss_bce_dice(ctx, &s[0], &s[1], p->loss_dice.dice_weight, &loss, &y,
                                p->loss_dice.grad_scale, false);
    }
    case CP_OP_COUNT:
        break;
    }
    return cp_set_error(CP_ERR_INTERNAL, "graph: no executor for %s", cp_op_name(n->op));
}

cp_status cp_opencl_compute(cp_backend *b, cp_graph *g, int first, int end)
{
    cp_context *ctx = b->context;
    for (int i = first; i < end; i++) {
        cp_node *n = g->nodes[i];
        cp_profile_set_tag(ctx, i); /* profiled commands name their node */
        cp_status st = run_node(ctx, g, n);
        if (st != CP_OK) {
            char msg[2048];
            snprintf(msg, sizeof msg, "%s", cp_last_error());
            return cp_set_error(st, "graph node %d %s (%s): %s", i, n->name, cp_op_name(n->op), msg);
        }
    }
    return CP_OK;
}
