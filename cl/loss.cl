/* Losses of MODEL.md. The scalar is a bounded multi-pass sum (pass 1 here,
 * then sum_pass of reduce.cl divides by n; see sum_helpers.cl): compensated
 * (Neumaier) per-item sums, pairwise trees in local memory, any power-of-two
 * group size from 1, deterministic. The input gradient is a separate
 * element-wise kernel (it does not depend on the scalar). NaN in any input
 * gives a NaN loss. */

#include "sum_helpers.cl"

/* Mask value for element i of [N, C, H, W] (mask [N, 1, H, W]). */
float mask_at(__global const float *m, ulong m_off, uint i, uint channels, uint hw)
{
    const uint chw = channels * hw;
    const uint s = i / chw;
    return m[m_off + s * hw + (i - s * chw) % hw];
}

/* ---- reconstruction: L = 1/n sum W (g - x)^2, W = M + ctx_weight (1 - M) ---- */

/* Pass 1 over g, x [N, C, H, W] as rows = N·C of hw; row b's mask row is
 * b / channels. */
__kernel void loss_rec_map(__global const float *g, const ulong g_off,
                           __global const float *x, const ulong x_off,
                           __global const float *m, const ulong m_off, const float ctx_weight,
                           const uint channels, const uint hw, const uint n, const uint items,
                           __global float *part, const ulong part_off,
                           __local float *scratch)
{
    const uint wg = get_local_size(0), it = red_items(items);
    ulong e = red_first(items);
    uint b, j;
    red_start(e, hw, &b, &j);
    float s = 0.0f, c = 0.0f;
    for (uint t = 0; t < it && e < n; t++, e += wg) {
        const float mv = m[m_off + (ulong)(b / channels) * hw + j];
        const float wt = mv + ctx_weight * (1.0f - mv);
        const float d = g[g_off + e] - x[x_off + e];
        comp_add(&s, &c, wt * d * d);
        red_step(wg, hw, &b, &j);
    }
    const float total = wg_sum(s + c, scratch);
    if (get_local_id(0) == 0) part[red_partial_at(part_off, 0)] = total;
}

/* dg = grad_scale 2 W (g - x) / n (+ dg) */
__kernel void loss_rec_grad(__global const float *g, const ulong g_off,
                            __global const float *x, const ulong x_off,
                            __global const float *m, const ulong m_off,
                            const float ctx_weight, const float factor, const uint channels,
                            const uint hw, __global float *dg, const ulong dg_off,
                            const uint acc, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float mv = mask_at(m, m_off, i, channels, hw);
    const float wt = mv + ctx_weight * (1.0f - mv);
    const float v = factor * wt * (g[g_off + i] - x[x_off + i]); /* factor = 2 scale / n */
    dg[dg_off + i] = acc ? dg[dg_off + i] + v : v;
}

/* ---- binary cross-entropy on logits ---- */

/* softplus(z) = max(z, 0) + log(1 + exp(-|z|)); NaN gives NaN (the log1p
 * term), unlike fmax which would drop it. */
float softplus(float z)
{
    return (z > 0.0f ? z : 0.0f) + log1p(exp(-fabs(z)));
}

float sigmoid(float z)
{
    const float e = exp(-fabs(z));
    const float s = 1.0f / (1.0f + e);
    return z >= 0.0f ? s : e * s;
}

/* Pass 1 of the mean of softplus(sign t): sign = +1 for label 0
 * (softplus(t)), -1 for label 1 (softplus(-t)). */
__kernel void bce_map(__global const float *t, const ulong t_off, const float sign,
                      const uint n, const uint items, __global float *part,
                      const ulong part_off, __local float *scratch)
{
    const uint wg = get_local_size(0), it = red_items(items);
    ulong e = red_first(items);
    float s = 0.0f, c = 0.0f;
    for (uint k = 0; k < it && e < n; k++, e += wg)
        comp_add(&s, &c, softplus(sign * t[t_off + e]));
    const float total = wg_sum(s + c, scratch);
    if (get_local_id(0) == 0) part[red_partial_at(part_off, 0)] = total;
}

/* d/dt mean softplus(sign t) = sign sigmoid(sign t) / n; dt = factor *
 * sigmoid(sign t) with factor = sign grad_scale / n. */
__kernel void bce_grad(__global const float *t, const ulong t_off, const float sign,
                       const float factor, __global float *dt, const ulong dt_off,
                       const uint acc, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float v = factor * sigmoid(sign * t[t_off + i]);
    dt[dt_off + i] = acc ? dt[dt_off + i] + v : v;
}
