/* Element-wise kernels: activations (forward, and backward from the output
 * y), add / mul / scale, bias broadcast, channel-slice copies (concat), mask
 * operations. One work item per element; offsets are in elements; `acc`
 * selects out += result (else out = result, never reading out, which may
 * hold NaN). In place (y aliasing x at the same offset) is allowed: each item
 * reads its element before writing it. */

#define STORE(out, i, v, acc) ((out)[i] = (acc) ? (out)[i] + (v) : (v))

/* ---- activations ---- */

/* ELU, alpha = 1. expm1 keeps accuracy for small |x|. */
__kernel void elu_fwd(__global const float *x, const ulong x_off, __global float *y,
                      const ulong y_off, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float v = x[x_off + i];
    /* exp(v) - 1 instead of expm1: PoCL vectorises exp but calls a scalar
     * expm1 (20x slower there). Near 0, where exp(v) - 1 cancels, a cubic
     * Taylor term is exact to 1e-9; both are computed and selected without
     * a branch. */
    const float t = v > 0.0f ? 0.0f : v; /* not fmin: NaN must pass */
    const float series = t * (1.0f + t * (0.5f + t * (1.0f / 6.0f)));
    const float em1 = t > -1e-2f ? series : exp(t) - 1.0f;
    y[y_off + i] = v > 0.0f ? v : em1;
}

/* dx = dy * (y > 0 ? 1 : y + 1): for x <= 0, d/dx (e^x - 1) = e^x = y + 1. */
__kernel void elu_bwd(__global const float *y, const ulong y_off, __global const float *dy,
                      const ulong dy_off, __global float *dx, const ulong dx_off,
                      const uint acc, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float v = y[y_off + i];
    const float g = dy[dy_off + i] * (v > 0.0f ? 1.0f : v + 1.0f);
    STORE(dx, dx_off + i, g, acc);
}

__kernel void tanh_fwd(__global const float *x, const ulong x_off, __global float *y,
                       const ulong y_off, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] = tanh(x[x_off + i]);
}

__kernel void tanh_bwd(__global const float *y, const ulong y_off, __global const float *dy,
                       const ulong dy_off, __global float *dx, const ulong dx_off,
                       const uint acc, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float v = y[y_off + i];
    const float g = dy[dy_off + i] * (1.0f - v * v);
    STORE(dx, dx_off + i, g, acc);
}

/* Stable logistic: exp of a non-positive number only. */
__kernel void sigmoid_fwd(__global const float *x, const ulong x_off, __global float *y,
                          const ulong y_off, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float v = x[x_off + i];
    const float e = exp(-fabs(v));
    const float s = 1.0f / (1.0f + e);
    y[y_off + i] = v >= 0.0f ? s : e * s; /* NaN: e is NaN, so both are */
}

__kernel void sigmoid_bwd(__global const float *y, const ulong y_off,
                          __global const float *dy, const ulong dy_off, __global float *dx,
                          const ulong dx_off, const uint acc, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float v = y[y_off + i];
    const float g = dy[dy_off + i] * (v * (1.0f - v));
    STORE(dx, dx_off + i, g, acc);
}

/* ---- arithmetic ---- */

/* y = alpha a + beta b */
__kernel void add_f32(const float alpha, __global const float *a, const ulong a_off,
                      const float beta, __global const float *b, const ulong b_off,
                      __global float *y, const ulong y_off, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] = alpha * a[a_off + i] + beta * b[b_off + i];
}

/* y = a b */
__kernel void mul_f32(__global const float *a, const ulong a_off, __global const float *b,
                      const ulong b_off, __global float *y, const ulong y_off, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] = a[a_off + i] * b[b_off + i];
}

/* y = alpha x (+ y) */
__kernel void scale_f32(const float alpha, __global const float *x, const ulong x_off,
                        __global float *y, const ulong y_off, const uint acc, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float v = alpha * x[x_off + i];
    STORE(y, y_off + i, v, acc);
}

/* y[n, c, h, w] = x[n, c, h, w] + b[c] */
__kernel void bias_add(__global const float *x, const ulong x_off, __global const float *b,
                       const ulong b_off, __global float *y, const ulong y_off,
                       const uint channels, const uint hw, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const uint c = (i / hw) % channels;
    y[y_off + i] = x[x_off + i] + b[b_off + c];
}

/* For every sample s < count / inner and r < inner:
 *   dst[dst_off + s * dst_stride + r] (+)= src[src_off + s * src_stride + r]
 * (concatenation along channels and its backward: inner = C_part * H * W). */
__kernel void slice_copy(__global const float *src, const ulong src_off,
                         const uint src_stride, __global float *dst, const ulong dst_off,
                         const uint dst_stride, const uint inner, const uint acc,
                         const uint count)
{
    const uint i = get_global_id(0);
    if (i >= count) return;
    const uint s = i / inner, r = i - s * inner;
    const float v = src[src_off + (ulong)s * src_stride + r];
    STORE(dst, dst_off + (ulong)s * dst_stride + r, v, acc);
}

/* ---- masks M [N, 1, H, W] broadcast over the C channels of [N, C, H, W] ---- */

uint mask_index(uint i, uint channels, uint hw)
{
    const uint chw = channels * hw;
    const uint s = i / chw;
    return s * hw + (i - s * chw) % hw;
}

/* y = x (1 - M) */
__kernel void mask_known(__global const float *x, const ulong x_off,
                         __global const float *m, const ulong m_off, __global float *y,
                         const ulong y_off, const uint channels, const uint hw, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float mv = m[m_off + mask_index(i, channels, hw)];
    y[y_off + i] = x[x_off + i] * (1.0f - mv);
}

/* y = M g + (1 - M) x, literally, so a NaN anywhere in g or x shows. */
__kernel void composite(__global const float *g, const ulong g_off, __global const float *x,
                        const ulong x_off, __global const float *m, const ulong m_off,
                        __global float *y, const ulong y_off, const uint channels,
                        const uint hw, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float mv = m[m_off + mask_index(i, channels, hw)];
    y[y_off + i] = mv * g[g_off + i] + (1.0f - mv) * x[x_off + i];
}

/* dg = M dy (+ dg) */
__kernel void composite_bwd(__global const float *m, const ulong m_off,
                            __global const float *dy, const ulong dy_off, __global float *dg,
                            const ulong dg_off, const uint channels, const uint hw,
                            const uint acc, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float v = m[m_off + mask_index(i, channels, hw)] * dy[dy_off + i];
    STORE(dg, dg_off + i, v, acc);
}
