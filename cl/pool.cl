/* 2x2 max pooling, stride 2, floor for odd H, W (the last row / column of
 * an odd size is not pooled and gets a zero gradient).
 *
 * The window's winner is the first maximum in row-major order (ties go to
 * the earliest element); a NaN wins over any number (the first NaN), so NaN
 * propagates forward and the backward stays consistent with the forward.
 * The backward recomputes the winner from x (no index buffer) and is a
 * gather: one work item per dx element, no atomics. */

/* Index 0..3 (row-major) of the winner of the window whose top-left is p. */
uint window_argmax(__global const float *p, const uint w)
{
    float v[4];
    v[0] = p[0];
    v[1] = p[1];
    v[2] = p[w];
    v[3] = p[w + 1];
    uint k = 0;
    for (uint i = 1; i < 4; i++) {
        if (isnan(v[k])) break;
        if (isnan(v[i]) || v[i] > v[k]) k = i;
    }
    return k;
}

/* x [NC, h, w] -> y [NC, ho, wo], ho = h / 2, wo = w / 2; n = NC * ho * wo. */
__kernel void maxpool2_fwd(__global const float *x, const ulong x_off, __global float *y,
                           const ulong y_off, const uint h, const uint w, const uint ho,
                           const uint wo, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const uint ow = i % wo, t = i / wo;
    const uint oh = t % ho, nc = t / ho;
    __global const float *p = x + x_off + (ulong)nc * h * w + (2 * oh) * w + 2 * ow;
    const uint k = window_argmax(p, w);
    y[y_off + i] = p[(k >> 1) * w + (k & 1)];
}

/* dx [NC, h, w] from dy [NC, ho, wo]; n = NC * h * w. */
__kernel void maxpool2_bwd(__global const float *x, const ulong x_off,
                           __global const float *dy, const ulong dy_off, __global float *dx,
                           const ulong dx_off, const uint h, const uint w, const uint ho,
                           const uint wo, const uint acc, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const uint col = i % w, t = i / w;
    const uint row = t % h, nc = t / h;
    const uint oh = row >> 1, ow = col >> 1;
    float g = 0.0f;
    if (oh < ho && ow < wo) {
        __global const float *p = x + x_off + (ulong)nc * h * w + (2 * oh) * w + 2 * ow;
        if (window_argmax(p, w) == (((row & 1) << 1) | (col & 1)))
            g = dy[dy_off + ((ulong)nc * ho + oh) * wo + ow];
    }
    dx[dx_off + i] = acc ? dx[dx_off + i] + g : g;
}
