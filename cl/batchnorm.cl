/* Batch normalisation over N, H, W per channel of x [N, C, H, W].
 * Statistics and the backward's sums are bounded multi-pass reductions (pass
 * 1 here, then sum_pass of reduce.cl; see sum_helpers.cl), one segment per
 * channel: the mean, then the mean of squared deviations (no cancellation as
 * in E[x^2] - E[x]^2); compensated (Neumaier) per-item sums, pairwise trees
 * in local memory, deterministic, any power-of-two group size from 1. */

#include "sum_helpers.cl"

/* Pass 1 of sum (x - centre[c])^2 per channel c (segment = dimension 1). */
__kernel void bn_sq_map(__global const float *x, const ulong x_off,
                        __global const float *centre, const ulong centre_off, const uint n,
                        const uint channels, const uint hw, const uint items,
                        __global float *part, const ulong part_off, __local float *scratch)
{
    const uint ch = get_global_id(1), wg = get_local_size(0), it = red_items(items);
    const ulong count = (ulong)n * hw;
    const float mean = centre[centre_off + ch];
    ulong e = red_first(items);
    uint b, j;
    red_start(e, hw, &b, &j);
    float s = 0.0f, c = 0.0f;
    for (uint t = 0; t < it && e < count; t++, e += wg) {
        const float d = x[x_off + ((ulong)b * channels + ch) * hw + j] - mean;
        comp_add(&s, &c, d * d);
        red_step(wg, hw, &b, &j);
    }
    const float total = wg_sum(s + c, scratch);
    if (get_local_id(0) == 0) part[red_partial_at(part_off, ch)] = total;
}

/* Training statistics from stats[c] = mean, stats[C + c] = sum of squared
 * deviations: save_mean[c], save_invstd[c] = 1/sqrt(var_biased + eps); if
 * update: running_mean = (1 - momentum) running_mean + momentum mean,
 * running_var likewise with the unbiased variance. One item per channel. */
__kernel void bn_stats_finish(__global const float *stats, const ulong stats_off,
                              const uint count, const uint channels, const float eps,
                              const float momentum, const uint update,
                              __global float *running_mean, const ulong rm_off,
                              __global float *running_var, const ulong rv_off,
                              __global float *save_mean, const ulong sm_off,
                              __global float *save_invstd, const ulong si_off)
{
    const uint ch = get_global_id(0);
    if (ch >= channels) return;
    const float mean = stats[stats_off + ch], m2 = stats[stats_off + channels + ch];
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

/* Backward of training mode. With xhat = (x - mean) invstd and M = N H W:
 *   dbeta = sum dy, dgamma = sum dy xhat,
 *   dx = gamma invstd (dy - dbeta / M - xhat dgamma / M).
 * Pass 1 of both sums per channel: partials of sum dy at segment c, of
 * sum dy (x - mean) at segment C + c (the range has C segments). */
__kernel void bn_bwd_map(__global const float *x, const ulong x_off, __global const float *dy,
                         const ulong dy_off, __global const float *save_mean,
                         const ulong sm_off, const uint n, const uint channels, const uint hw,
                         const uint items, __global float *part, const ulong part_off,
                         __local float *scratch)
{
    const uint ch = get_global_id(1), wg = get_local_size(0), it = red_items(items);
    const ulong count = (ulong)n * hw;
    const float mean = save_mean[sm_off + ch];
    ulong e = red_first(items);
    uint b, j;
    red_start(e, hw, &b, &j);
    float s1 = 0.0f, c1 = 0.0f, s2 = 0.0f, c2 = 0.0f;
    for (uint t = 0; t < it && e < count; t++, e += wg) {
        const ulong idx = ((ulong)b * channels + ch) * hw + j;
        const float g = dy[dy_off + idx];
        comp_add(&s1, &c1, g);
        comp_add(&s2, &c2, g * (x[x_off + idx] - mean));
        red_step(wg, hw, &b, &j);
    }
    const float sum_dy = wg_sum(s1 + c1, scratch);
    const float sum_dy_xc = wg_sum(s2 + c2, scratch);
    if (get_local_id(0) == 0) {
        part[red_partial_at(part_off, ch)] = sum_dy;
        part[red_partial_at(part_off, ch + channels)] = sum_dy_xc;
    }
}

/* dbeta[c] = sums[c], dgamma[c] = sums[C + c] invstd[c] (each if has_*;
 * acc adds). One item per channel. */
__kernel void bn_bwd_params(__global const float *sums, const ulong sums_off,
                            __global const float *save_invstd, const ulong si_off,
                            __global float *dgamma, const ulong dg_off, __global float *dbeta,
                            const ulong db_off, const uint has_dgamma, const uint has_dbeta,
                            const uint acc, const uint channels)
{
    const uint ch = get_global_id(0);
    if (ch >= channels) return;
    const float sum_dy = sums[sums_off + ch];
    const float sum_dy_xhat = sums[sums_off + channels + ch] * save_invstd[si_off + ch];
    if (has_dbeta) dbeta[db_off + ch] = acc ? dbeta[db_off + ch] + sum_dy : sum_dy;
    if (has_dgamma) dgamma[dg_off + ch] = acc ? dgamma[dg_off + ch] + sum_dy_xhat : sum_dy_xhat;
}

/* dx (+)= gamma invstd (dy - sum_dy / M - xhat sum_dy_xhat / M), element-wise. */
__kernel void bn_bwd_dx(__global const float *x, const ulong x_off, __global const float *dy,
                        const ulong dy_off, __global const float *gamma, const ulong gamma_off,
                        __global const float *save_mean, const ulong sm_off,
                        __global const float *save_invstd, const ulong si_off,
                        __global const float *sums, const ulong sums_off,
                        __global float *dx, const ulong dx_off, const uint acc,
                        const uint count, const uint channels, const uint hw, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const uint ch = (i / hw) % channels;
    const float mean = save_mean[sm_off + ch], invstd = save_invstd[si_off + ch];
    const float mean_dy = sums[sums_off + ch] / (float)count;
    const float mean_dy_xhat = sums[sums_off + channels + ch] * invstd / (float)count;
    const float xhat = (x[x_off + i] - mean) * invstd;
    const float v = gamma[gamma_off + ch] * invstd * (dy[dy_off + i] - mean_dy - xhat * mean_dy_xhat);
    dx[dx_off + i] = acc ? dx[dx_off + i] + v : v;
}
