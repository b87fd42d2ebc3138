/* Losses of MODEL.md. The scalar is a one-work-group reduction (compensated
 * (Neumaier) per-item sums, then a pairwise tree in local memory: any
 * power-of-two group size from 1, deterministic); the input gradient is a
 * separate element-wise kernel (it does not depend on the scalar). NaN in any
 * input gives a NaN loss. */

#include "sum_helpers.cl"

/* Mask value for element i of [N, C, H, W] (mask [N, 1, H, W]). */
float mask_at(__global const float *m, ulong m_off, uint i, uint channels, uint hw)
{
    const uint chw = channels * hw;
    const uint s = i / chw;
    return m[m_off + s * hw + (i - s * chw) % hw];
}

/* ---- reconstruction: L = 1/n sum W (g - x)^2, W = M + ctx_weight (1 - M) ---- */

__kernel void loss_rec_sum(__global const float *g, const ulong g_off,
                           __global const float *x, const ulong x_off,
                           __global const float *m, const ulong m_off, const float ctx_weight,
                           const uint channels, const uint hw, const uint n,
                           __global float *loss, const ulong loss_off,
                           __local float *scratch)
{
    const uint lid = get_local_id(0), wg = get_local_size(0);
    float s = 0.0f, c = 0.0f;
    for (uint i = lid; i < n; i += wg) {
        const float mv = mask_at(m, m_off, i, channels, hw);
        const float wt = mv + ctx_weight * (1.0f - mv);
        const float d = g[g_off + i] - x[x_off + i];
        comp_add(&s, &c, wt * d * d);
    }
    const float total = wg_sum(s + c, scratch);
    if (lid == 0) loss[loss_off] = total / (float)n;
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

/* sign = +1 for label 0 (softplus(t)), -1 for label 1 (softplus(-t)). */
__kernel void bce_sum(__global const float *t, const ulong t_off, const float sign,
                      const uint n, __global float *loss, const ulong loss_off,
                      __local float *scratch)
{
    const uint lid = get_local_id(0), wg = get_local_size(0);
    float s = 0.0f, c = 0.0f;
    for (uint i = lid; i < n; i += wg) comp_add(&s, &c, softplus(sign * t[t_off + i]));
    const float total = wg_sum(s + c, scratch);
    if (lid == 0) loss[loss_off] = total / (float)n;
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
