/* The detector's loss (cl/loss_dice.cl): per-pixel BCE on logits plus a
 * per-image soft Dice term. The 3 N per-image sums are one bounded
 * multi-pass reduction into the op's room at the start of the reduction
 * scratch; the scalar and the gradient both read them from there. */
#include "backend/opencl/ops/ops_internal.h"

#define DICE_EPS 1.0f

cp_status cp_loss_bce_dice(cp_context *ctx, const cp_tensor *z, const cp_tensor *t,
                           float dice_weight, cp_tensor *loss, cp_tensor *dz, float grad_scale,
                           bool accumulate)
{
    static const char *op = "cp_loss_bce_dice";
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "z", z, &s));
    CP_TRY(cp_opsi_tensor(op, "t", t, NULL));
    CP_TRY(cp_opsi_tensor(op, "loss", loss, NULL));
    CP_TRY(cp_opsi_same_shape(op, z, t));
    CP_TRY(cp_opsi_numel_is(op, loss, 1, "a scalar"));
    if (s.c != 1)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: logits must be [N, 1, H, W], not %u channels",
                            op, s.c);
    if (s.n > UINT32_MAX / 3)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: batch %u is too large", op, s.n);
    if (dz) {
        CP_TRY(cp_opsi_tensor(op, "dz", dz, NULL));
        CP_TRY(cp_opsi_same_shape(op, z, dz));
    }
    cl_kernel k;
    cp_opsi_red r;
    CP_TRY(cp_kernel_get(ctx, "loss_dice.cl", "", "dice_map", &k));
    CP_TRY(cp_opsi_red_plan(ctx, k, 3 * s.n, s.hw, 3 * (size_t)s.n, &r));
    CP_ARGS(k, CP_ARG(cl_mem, z->buf), CP_ARG(cl_ulong, z->offset), CP_ARG(cl_mem, t->buf),
            CP_ARG(cl_ulong, t->offset), CP_ARG(cl_uint, s.hw), CP_RED_MAP_ARGS(r));
    CP_TRY(cp_opsi_red_map(ctx, k, &r));
    CP_TRY(cp_opsi_red_finish(ctx, &r, r.buf, r.aux_off, 1.0f, 1.0f, false));
    CP_TRY(cp_kernel_get(ctx, "loss_dice.cl", "", "dice_loss", &k));
    CP_ARGS(k, CP_ARG(cl_mem, r.buf), CP_ARG(cl_ulong, r.aux_off), CP_ARG(cl_uint, s.n),
            CP_ARG(cl_uint, s.hw), CP_ARG(cl_float, dice_weight), CP_ARG(cl_float, DICE_EPS),
            CP_ARG(cl_mem, loss->buf), CP_ARG(cl_ulong, loss->offset));
    CP_TRY(cp_opsi_launch_1d(ctx, k, 1));
    if (!dz) return CP_OK;
    CP_TRY(cp_kernel_get(ctx, "loss_dice.cl", "", "dice_grad", &k));
    CP_ARGS(k, CP_ARG(cl_mem, z->buf), CP_ARG(cl_ulong, z->offset), CP_ARG(cl_mem, t->buf),
            CP_ARG(cl_ulong, t->offset), CP_ARG(cl_mem, r.buf), CP_ARG(cl_ulong, r.aux_off),
            CP_ARG(cl_uint, s.hw), CP_ARG(cl_float, dice_weight), CP_ARG(cl_float, DICE_EPS),
            CP_ARG(cl_float, grad_scale), CP_ARG(cl_uint, s.n), CP_ARG(cl_mem, dz->buf),
            CP_ARG(cl_ulong, dz->offset), CP_ARG(cl_uint, accumulate ? 1u : 0u));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}
