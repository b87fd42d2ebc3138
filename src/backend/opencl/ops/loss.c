/* Losses of MODEL.md (cl/loss.cl): the reconstruction loss and binary
 * cross-entropy on logits. The scalar is a bounded multi-pass reduction
 * (ops_internal.h); the input gradient an element-wise kernel. */
#include "backend/opencl/ops/ops_internal.h"

#define ACC(a) CP_ARG(cl_uint, (a) ? 1u : 0u)

cp_status cp_loss_rec(cp_context *ctx, const cp_tensor *g, const cp_tensor *x,
                      const cp_tensor *m, float ctx_weight, cp_tensor *loss,
                      cp_tensor *dg, float grad_scale, bool accumulate)
{
    static const char *op = "cp_loss_rec";
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "g", g, &s));
    CP_TRY(cp_opsi_tensor(op, "x", x, NULL));
    CP_TRY(cp_opsi_tensor(op, "m", m, NULL));
    CP_TRY(cp_opsi_tensor(op, "loss", loss, NULL));
    CP_TRY(cp_opsi_same_shape(op, g, x));
    CP_TRY(cp_opsi_mask_for(op, m, g));
    CP_TRY(cp_opsi_numel_is(op, loss, 1, "a scalar"));
    if (dg) {
        CP_TRY(cp_opsi_tensor(op, "dg", dg, NULL));
        CP_TRY(cp_opsi_same_shape(op, g, dg));
    }
    cl_kernel k;
    cp_opsi_red r;
    CP_TRY(cp_kernel_get(ctx, "loss.cl", "", "loss_rec_map", &k));
    CP_TRY(cp_opsi_red_plan(ctx, k, 1, s.numel, 0, &r));
    CP_ARGS(k, CP_ARG(cl_mem, g->buf), CP_ARG(cl_ulong, g->offset), CP_ARG(cl_mem, x->buf),
            CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, m->buf), CP_ARG(cl_ulong, m->offset),
            CP_ARG(cl_float, ctx_weight), CP_ARG(cl_uint, s.c), CP_ARG(cl_uint, s.hw),
            CP_ARG(cl_uint, s.numel), CP_RED_MAP_ARGS(r));
    CP_TRY(cp_opsi_red_map(ctx, k, &r));
    CP_TRY(cp_opsi_red_finish(ctx, &r, loss->buf, loss->offset, 1.0f, (float)s.numel, false));
    if (!dg) return CP_OK;
    float factor = (float)(2.0 * (double)grad_scale / (double)s.numel);
    CP_TRY(cp_kernel_get(ctx, "loss.cl", "", "loss_rec_grad", &k));
    CP_ARGS(k, CP_ARG(cl_mem, g->buf), CP_ARG(cl_ulong, g->offset), CP_ARG(cl_mem, x->buf),
            CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, m->buf), CP_ARG(cl_ulong, m->offset),
            CP_ARG(cl_float, ctx_weight), CP_ARG(cl_float, factor), CP_ARG(cl_uint, s.c),
            CP_ARG(cl_uint, s.hw), CP_ARG(cl_mem, dg->buf), CP_ARG(cl_ulong, dg->offset),
            ACC(accumulate), CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}

cp_status cp_loss_bce_logits(cp_context *ctx, const cp_tensor *t, int label,
                             cp_tensor *loss, cp_tensor *dt, float grad_scale,
                             bool accumulate)
{
    static const char *op = "cp_loss_bce_logits";
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "t", t, &s));
    CP_TRY(cp_opsi_tensor(op, "loss", loss, NULL));
    CP_TRY(cp_opsi_numel_is(op, loss, 1, "a scalar"));
    CP_TRY(cp_opsi_numel_is(op, t, s.n, "one logit per sample: [N, 1]"));
    if (label != 0 && label != 1)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: label %d is not 0 or 1", op, label);
    if (dt) {
        CP_TRY(cp_opsi_tensor(op, "dt", dt, NULL));
        CP_TRY(cp_opsi_same_numel(op, t, dt));
    }
    /* label 1: softplus(-t); label 0: softplus(t). */
    float sign = label ? -1.0f : 1.0f;
    cl_kernel k;
    cp_opsi_red r;
    CP_TRY(cp_kernel_get(ctx, "loss.cl", "", "bce_map", &k));
    CP_TRY(cp_opsi_red_plan(ctx, k, 1, s.numel, 0, &r));
    CP_ARGS(k, CP_ARG(cl_mem, t->buf), CP_ARG(cl_ulong, t->offset), CP_ARG(cl_float, sign),
            CP_ARG(cl_uint, s.numel), CP_RED_MAP_ARGS(r));
    CP_TRY(cp_opsi_red_map(ctx, k, &r));
    CP_TRY(cp_opsi_red_finish(ctx, &r, loss->buf, loss->offset, 1.0f, (float)s.numel, false));
    if (!dt) return CP_OK;
    float factor = (float)((double)sign * (double)grad_scale / (double)s.numel);
    CP_TRY(cp_kernel_get(ctx, "loss.cl", "", "bce_grad", &k));
    CP_ARGS(k, CP_ARG(cl_mem, t->buf), CP_ARG(cl_ulong, t->offset), CP_ARG(cl_float, sign),
            CP_ARG(cl_float, factor), CP_ARG(cl_mem, dt->buf), CP_ARG(cl_ulong, dt->offset),
            ACC(accumulate), CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}
