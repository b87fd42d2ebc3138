/* Batch normalisation over N, H, W per channel of x [N, C, H, W].
 * Statistics: one work-group per channel, two passes over the channel (mean,
 * then the mean of squared deviations: no cancellation as in E[x^2] - E[x]^2),
 * each a compensated (Neumaier) per-item sum followed by a pairwise tree in local
 * memory (deterministic, accurate for large N*H*W, any power-of-two group
 * size from 1). */

#include "sum_helpers.cl"

#define X_AT(k) x[x_off + ((k) / hw * channels + ch) * hw + (k) % hw]

/* Training statistics: save_mean[c], save_invstd[c] = 1/sqrt(var_biased + eps);
 * if update: running_mean = (1 - momentum) running_mean + momentum mean,
 * running_var likewise with the unbiased variance. */
__kernel void bn_stats(__global const float *x, const ulong x_off, const uint n,
                       const uint channels, const uint hw, const float eps,
                       const float momentum, const uint update,
                       __global float *running_mean, const ulong rm_off,
                       __global float *running_var, const ulong rv_off,
                       __global float *save_mean, const ulong sm_off,
                       __global float *save_invstd, const ulong si_off,
                       __local float *scratch)
{
    const uint ch = get_group_id(0);
    const uint lid = get_local_id(0), wg = get_local_size(0);
    const uint count = n * hw;
    float s = 0.0f, c = 0.0f;
    for (uint k = lid; k < count; k += wg) comp_add(&s, &c, X_AT(k));
    const float mean = wg_sum(s + c, scratch) / (float)count;
    s = 0.0f;
    c = 0.0f;
    for (uint k = lid; k < count; k += wg) {
        const float d = X_AT(k) - mean;
        comp_add(&s, &c, d * d);
    }
    const float m2 = wg_sum(s + c, scratch);
    if (lid == 0) {
        const float var = m2 / (float)count;
        save_mean[sm_off + ch] = mean;
        save_invstd[si_off + ch] = 1.0f / sqrt(var + eps);
        if (update) {
            const float unbiased = m2 / (float)(count - 1);
            running_mean[rm_off + ch] =
                (1.0f - momentum) * running_mean[rm_off + ch] + momentum * mean;
            running_var[rv_off + ch] =
                (1.0f - momentum) * running_var[rv_off + ch] + momentum * unbiased;
        }
    }
}

/* y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c]; with is_var the stat
 * buffer holds a variance and invstd = 1/sqrt(var + eps) (evaluation mode),
 * else it holds invstd (training mode). y may be x. */
__kernel void bn_apply(__global const float *x, const ulong x_off,
                       __global const float *mean, const ulong mean_off,
                       __global const float *stat, const ulong stat_off, const uint is_var,
                       const float eps, __global const float *gamma, const ulong gamma_off,
                       __global const float *beta, const ulong beta_off, __global float *y,
                       const ulong y_off, const uint channels, const uint hw, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const uint c = (i / hw) % channels;
    const float st = stat[stat_off + c];
    const float invstd = is_var ? 1.0f / sqrt(st + eps) : st;
    y[y_off + i] =
        (x[x_off + i] - mean[mean_off + c]) * (invstd * gamma[gamma_off + c]) + beta[beta_off + c];
}

/* Backward of training mode, one work-group per channel. With
 * xhat = (x - mean) invstd and M = N H W:
 *   dbeta = sum dy, dgamma = sum dy xhat,
 *   dx = gamma invstd (dy - dbeta / M - xhat dgamma / M).
 * Each output (dx, dgamma, dbeta) is written only if its has_* flag is set;
 * acc adds to it. */
__kernel void bn_bwd(__global const float *x, const ulong x_off, __global const float *dy,
                     const ulong dy_off, __global const float *gamma, const ulong gamma_off,
                     __global const float *save_mean, const ulong sm_off,
                     __global const float *save_invstd, const ulong si_off,
                     __global float *dx, const ulong dx_off, __global float *dgamma,
                     const ulong dg_off, __global float *dbeta, const ulong db_off,
                     const uint has_dx, const uint has_dgamma, const uint has_dbeta,
                     const uint acc, const uint n, const uint channels, const uint hw,
                     __local float *scratch)
{
    const uint ch = get_group_id(0);
    const uint lid = get_local_id(0), wg = get_local_size(0);
    const uint count = n * hw;
    const float mean = save_mean[sm_off + ch], invstd = save_invstd[si_off + ch];
    float s1 = 0.0f, c1 = 0.0f, s2 = 0.0f, c2 = 0.0f;
    for (uint k = lid; k < count; k += wg) {
        const uint idx = (k / hw * channels + ch) * hw + k % hw;
        const float g = dy[dy_off + idx];
        comp_add(&s1, &c1, g);
        comp_add(&s2, &c2, g * (x[x_off + idx] - mean));
    }
    const float sum_dy = wg_sum(s1 + c1, scratch);
    const float sum_dy_xhat = wg_sum(s2 + c2, scratch) * invstd;
    if (lid == 0) {
        if (has_dbeta) dbeta[db_off + ch] = acc ? dbeta[db_off + ch] + sum_dy : sum_dy;
        if (has_dgamma)
            dgamma[dg_off + ch] = acc ? dgamma[dg_off + ch] + sum_dy_xhat : sum_dy_xhat;
    }
    if (!has_dx) return;
    const float mean_dy = sum_dy / (float)count;
    const float mean_dy_xhat = sum_dy_xhat / (float)count;
    const float k0 = gamma[gamma_off + ch] * invstd;
    for (uint k = lid; k < count; k += wg) {
        const uint idx = (k / hw * channels + ch) * hw + k % hw;
        const float xhat = (x[x_off + idx] - mean) * invstd;
        const float v = k0 * (dy[dy_off + idx] - mean_dy - xhat * mean_dy_xhat);
        dx[dx_off + idx] = acc ? dx[dx_off + idx] + v : v;
    }
}
