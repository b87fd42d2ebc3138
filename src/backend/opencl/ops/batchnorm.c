/* Batch normalisation over N, H, W per channel (cl/batchnorm.cl): training
 * mode (batch statistics, optional running-statistics update with the
 * unbiased variance), evaluation mode (running statistics) and the backward
 * of training mode. Per-channel sums are bounded multi-pass reductions
 * (ops_internal.h) whose results wait in the context's scratch. */
#include "backend/opencl/ops/ops_internal.h"

#define ACC(a) CP_ARG(cl_uint, (a) ? 1u : 0u)

/* t is a [C] per-channel vector. */
static cp_status per_channel(const char *op, const char *what, const cp_tensor *t,
                             uint32_t c)
{
    CP_TRY(cp_opsi_tensor(op, what, t, NULL));
    return cp_opsi_numel_is(op, t, c, "one value per channel of x");
}

static cp_status bn_params(const char *op, const cp_bn_params *p)
{
    if (!p || !(p->eps > 0.0f) || !(p->momentum >= 0.0f && p->momentum <= 1.0f))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: batch-norm parameters need eps > 0 and momentum in [0, 1]",
                            op);
    return CP_OK;
}

/* y = (x - mean) * f(stat) * gamma + beta, f = identity (invstd) or
 * 1/sqrt(. + eps) (variance). */
static cp_status bn_apply(cp_context *ctx, const cp_opsi_nchw *s, const cp_tensor *x,
                          const cp_tensor *mean, const cp_tensor *stat, bool is_var,
                          float eps, const cp_tensor *gamma, const cp_tensor *beta,
                          cp_tensor *y)
{
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "batchnorm.cl", "", "bn_apply", &k));
    CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, mean->buf),
            CP_ARG(cl_ulong, mean->offset), CP_ARG(cl_mem, stat->buf),
            CP_ARG(cl_ulong, stat->offset), CP_ARG(cl_uint, is_var ? 1u : 0u),
            CP_ARG(cl_float, eps), CP_ARG(cl_mem, gamma->buf),
            CP_ARG(cl_ulong, gamma->offset), CP_ARG(cl_mem, beta->buf),
            CP_ARG(cl_ulong, beta->offset), CP_ARG(cl_mem, y->buf),
            CP_ARG(cl_ulong, y->offset), CP_ARG(cl_uint, s->c), CP_ARG(cl_uint, s->hw),
            CP_ARG(cl_uint, s->numel));
    return cp_opsi_launch_1d(ctx, k, s->numel);
}

/* Batch statistics: the mean per channel, then the sum of squared
 * deviations from it (two bounded reductions into the scratch's aux room),
 * then save_mean, save_invstd and the running statistics (NULL: no update). */
static cp_status bn_stats(cp_context *ctx, const cp_bn_params *p, const cp_opsi_nchw *s,
                          const cp_tensor *x, cp_tensor *running_mean, cp_tensor *running_var,
                          cp_tensor *save_mean, cp_tensor *save_invstd)
{
    uint32_t count = s->n * s->hw;
    size_t aux = 2 * (size_t)s->c; /* mean, then the squared deviations' sum */
    cl_kernel ksum, ksq;
    cp_opsi_red rsum, rsq;
    CP_TRY(cp_kernel_get(ctx, "reduce.cl", "", "channel_sum_map", &ksum));
    CP_TRY(cp_kernel_get(ctx, "batchnorm.cl", "", "bn_sq_map", &ksq));
    /* Plan both first, the first again last: the scratch may grow while
     * planning, and both must use the final buffer (the mean stays in it). */
    CP_TRY(cp_opsi_red_plan(ctx, ksum, s->c, count, aux, &rsum));
    CP_TRY(cp_opsi_red_plan(ctx, ksq, s->c, count, aux, &rsq));
    CP_TRY(cp_opsi_red_plan(ctx, ksum, s->c, count, aux, &rsum));
    CP_ARGS(ksum, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_uint, s->n),
            CP_ARG(cl_uint, s->c), CP_ARG(cl_uint, s->hw), CP_RED_MAP_ARGS(rsum));
    CP_TRY(cp_opsi_red_map(ctx, ksum, &rsum));
    CP_TRY(cp_opsi_red_finish(ctx, &rsum, rsum.buf, rsum.aux_off, 1.0f, (float)count, false));
    CP_ARGS(ksq, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset),
            CP_ARG(cl_mem, rsq.buf), CP_ARG(cl_ulong, rsq.aux_off), CP_ARG(cl_uint, s->n),
            CP_ARG(cl_uint, s->c), CP_ARG(cl_uint, s->hw), CP_RED_MAP_ARGS(rsq));
    CP_TRY(cp_opsi_red_map(ctx, ksq, &rsq));
    CP_TRY(cp_opsi_red_finish(ctx, &rsq, rsq.buf, rsq.aux_off + s->c, 1.0f, 1.0f, false));
    cl_kernel k;
    bool update = running_mean != NULL;
    CP_TRY(cp_kernel_get(ctx, "batchnorm.cl", "", "bn_stats_finish", &k));
    CP_ARGS(k, CP_ARG(cl_mem, rsq.buf), CP_ARG(cl_ulong, rsq.aux_off), CP_ARG(cl_uint, count),
            CP_ARG(cl_uint, s->c), CP_ARG(cl_float, p->eps), CP_ARG(cl_float, p->momentum),
            CP_ARG(cl_uint, update ? 1u : 0u),
            CP_ARG(cl_mem, update ? running_mean->buf : NULL),
            CP_ARG(cl_ulong, update ? running_mean->offset : 0),
            CP_ARG(cl_mem, update ? running_var->buf : NULL),
            CP_ARG(cl_ulong, update ? running_var->offset : 0),
            CP_ARG(cl_mem, save_mean->buf), CP_ARG(cl_ulong, save_mean->offset),
            CP_ARG(cl_mem, save_invstd->buf), CP_ARG(cl_ulong, save_invstd->offset));
    return cp_opsi_launch_1d(ctx, k, s->c);
}

cp_status cp_batchnorm_forward_train(cp_context *ctx, const cp_bn_params *p,
                                     const cp_tensor *x, const cp_tensor *gamma,
                                     const cp_tensor *beta, cp_tensor *running_mean,
                                     cp_tensor *running_var, bool update_running,
                                     cp_tensor *y, cp_tensor *save_mean,
                                     cp_tensor *save_invstd)
{
    static const char *op = "cp_batchnorm_forward_train";
    cp_opsi_nchw s = {0};
    CP_TRY(bn_params(op, p));
    CP_TRY(cp_opsi_tensor(op, "x", x, &s));
    CP_TRY(cp_opsi_tensor(op, "y", y, NULL));
    CP_TRY(cp_opsi_same_shape(op, x, y));
    CP_TRY(per_channel(op, "gamma", gamma, s.c));
    CP_TRY(per_channel(op, "beta", beta, s.c));
    CP_TRY(per_channel(op, "save_mean", save_mean, s.c));
    CP_TRY(per_channel(op, "save_invstd", save_invstd, s.c));
    if (update_running) {
        CP_TRY(per_channel(op, "running_mean", running_mean, s.c));
        CP_TRY(per_channel(op, "running_var", running_var, s.c));
    }
    if ((uint64_t)s.n * s.hw < 2) {
        char d[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: %s has one value per channel; batch statistics need more",
                            op, cp_tensor_describe(x, d, sizeof d));
    }
    CP_TRY(bn_stats(ctx, p, &s, x, update_running ? running_mean : NULL,
                    update_running ? running_var : NULL, save_mean, save_invstd));
    return bn_apply(ctx, &s, x, save_mean, save_invstd, false, p->eps, gamma, beta, y);
}

cp_status cp_batchnorm_forward_eval(cp_context *ctx, const cp_bn_params *p,
                                    const cp_tensor *x, const cp_tensor *gamma,
                                    const cp_tensor *beta, const cp_tensor *running_mean,
                                    const cp_tensor *running_var, cp_tensor *y)
{
    static const char *op = "cp_batchnorm_forward_eval";
    cp_opsi_nchw s = {0};
    CP_TRY(bn_params(op, p));
    CP_TRY(cp_opsi_tensor(op, "x", x, &s));
    CP_TRY(cp_opsi_tensor(op, "y", y, NULL));
    CP_TRY(cp_opsi_same_shape(op, x, y));
    CP_TRY(per_channel(op, "gamma", gamma, s.c));
    CP_TRY(per_channel(op, "beta", beta, s.c));
    CP_TRY(per_channel(op, "running_mean", running_mean, s.c));
    CP_TRY(per_channel(op, "running_var", running_var, s.c));
    return bn_apply(ctx, &s, x, running_mean, running_var, true, p->eps, gamma, beta, y);
}

cp_status cp_batchnorm_backward(cp_context *ctx, const cp_tensor *x, const cp_tensor *gamma,
                                const cp_tensor *save_mean, const cp_tensor *save_invstd,
                                const cp_tensor *dy, cp_tensor *dx, cp_tensor *dgamma,
                                cp_tensor *dbeta, bool accumulate)
{
    static const char *op = "cp_batchnorm_backward";
    if (!dx && !dgamma && !dbeta) return CP_OK;
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "x", x, &s));
    CP_TRY(cp_opsi_tensor(op, "dy", dy, NULL));
    CP_TRY(cp_opsi_same_shape(op, x, dy));
    CP_TRY(per_channel(op, "gamma", gamma, s.c));
    CP_TRY(per_channel(op, "save_mean", save_mean, s.c));
    CP_TRY(per_channel(op, "save_invstd", save_invstd, s.c));
    if (dx) {
        CP_TRY(cp_opsi_tensor(op, "dx", dx, NULL));
        CP_TRY(cp_opsi_same_shape(op, x, dx));
    }
    if (dgamma) CP_TRY(per_channel(op, "dgamma", dgamma, s.c));
    if (dbeta) CP_TRY(per_channel(op, "dbeta", dbeta, s.c));
    /* Both sums per channel (dy, dy (x - mean)) in the aux room, then the
     * parameter gradients and dx from them. */
    cl_kernel k;
    cp_opsi_red r;
    uint32_t count = s.n * s.hw;
    CP_TRY(cp_kernel_get(ctx, "batchnorm.cl", "", "bn_bwd_map", &k));
    CP_TRY(cp_opsi_red_plan(ctx, k, 2 * s.c, count, 2 * (size_t)s.c, &r));
    r.segs = s.c; /* pass 1 runs per channel and writes both segments */
    CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, dy->buf),
            CP_ARG(cl_ulong, dy->offset), CP_ARG(cl_mem, save_mean->buf),
            CP_ARG(cl_ulong, save_mean->offset), CP_ARG(cl_uint, s.n), CP_ARG(cl_uint, s.c),
            CP_ARG(cl_uint, s.hw), CP_RED_MAP_ARGS(r));
    CP_TRY(cp_opsi_red_map(ctx, k, &r));
    r.segs = 2 * s.c;
    CP_TRY(cp_opsi_red_finish(ctx, &r, r.buf, r.aux_off, 1.0f, 1.0f, false));
    if (dgamma || dbeta) {
        CP_TRY(cp_kernel_get(ctx, "batchnorm.cl", "", "bn_bwd_params", &k));
        CP_ARGS(k, CP_ARG(cl_mem, r.buf), CP_ARG(cl_ulong, r.aux_off),
                CP_ARG(cl_mem, save_invstd->buf), CP_ARG(cl_ulong, save_invstd->offset),
                CP_ARG(cl_mem, dgamma ? dgamma->buf : NULL),
                CP_ARG(cl_ulong, dgamma ? dgamma->offset : 0),
                CP_ARG(cl_mem, dbeta ? dbeta->buf : NULL),
                CP_ARG(cl_ulong, dbeta ? dbeta->offset : 0), CP_ARG(cl_uint, dgamma ? 1u : 0u),
                CP_ARG(cl_uint, dbeta ? 1u : 0u), ACC(accumulate), CP_ARG(cl_uint, s.c));
        CP_TRY(cp_opsi_launch_1d(ctx, k, s.c));
    }
    if (!dx) return CP_OK;
    CP_TRY(cp_kernel_get(ctx, "batchnorm.cl", "", "bn_bwd_dx", &k));
    CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, dy->buf),
            CP_ARG(cl_ulong, dy->offset), CP_ARG(cl_mem, gamma->buf),
            CP_ARG(cl_ulong, gamma->offset), CP_ARG(cl_mem, save_mean->buf),
            CP_ARG(cl_ulong, save_mean->offset), CP_ARG(cl_mem, save_invstd->buf),
            CP_ARG(cl_ulong, save_invstd->offset), CP_ARG(cl_mem, r.buf),
            CP_ARG(cl_ulong, r.aux_off), CP_ARG(cl_mem, dx->buf), CP_ARG(cl_ulong, dx->offset),
            ACC(accumulate), CP_ARG(cl_uint, count), CP_ARG(cl_uint, s.c),
            CP_ARG(cl_uint, s.hw), CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}
