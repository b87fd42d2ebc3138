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

/* Both kernels run over a 3-D range (column, row, image-channel), so no
 * index needs a division (slow on CPU devices). */

/* x [NC, h, w] -> y [NC, ho, wo]; global size (wo, ho, NC). */
__kernel void maxpool2_fwd(__global const float *x, const ulong x_off, __global float *y,
                           const ulong y_off, const uint h, const uint w, const uint ho,
                           const uint wo)
{
    const uint ow = get_global_id(0), oh = get_global_id(1), nc = get_global_id(2);
    if (ow >= wo || oh >= ho) return;
    __global const float *p = x + x_off + (ulong)nc * h * w + (2 * oh) * w + 2 * ow;
    const uint k = window_argmax(p, w);
    y[y_off + ((ulong)nc * ho + oh) * wo + ow] = p[(k >> 1) * w + (k & 1)];
}

/* dx [NC, h, w] from dy [NC, ho, wo]; global size (ceil(w/2), ceil(h/2), NC):
 * each work item finds its window's winner once and writes the window's
 * (up to) four dx elements: the gradient to the winner, zero elsewhere, and
 * zero for the unpooled last row / column of an odd size. */
__kernel void maxpool2_bwd(__global const float *x, const ulong x_off,
                           __global const float *dy, const ulong dy_off, __global float *dx,
                           const ulong dx_off, const uint h, const uint w, const uint ho,
                           const uint wo, const uint acc)
{
    const uint ow = get_global_id(0), oh = get_global_id(1), nc = get_global_id(2);
    const uint col = 2 * ow, row = 2 * oh;
    if (col >= w || row >= h) return;
    const ulong base = (ulong)nc * h * w + (ulong)row * w + col;
    uint k = 4; /* no winner: a partial window at an odd edge */
    float g = 0.0f;
    if (oh < ho && ow < wo) {
        k = window_argmax(x + x_off + base, w);
        g = dy[dy_off + ((ulong)nc * ho + oh) * wo + ow];
    }
    for (uint i = 0; i < 4; i++) {
        const uint r = row + (i >> 1), c = col + (i & 1);
        if (r >= h || c >= w) continue;
        const ulong at = dx_off + base + (i >> 1) * w + (i & 1);
        const float v = i == k ? g : 0.0f;
        dx[at] = acc ? dx[at] + v : v;
    }
}
