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

/* Both kernels run over a 3-D range (column block, row, image-channel), so
 * no index needs a division (slow on CPU devices). A work-item takes 8
 * neighbouring windows of a row: two rows of 16 inputs, split into even and
 * odd columns with shuffle2 and compared as float8 vectors (the same rule as
 * window_argmax, lane by lane); windows that do not fill a whole block (the
 * row's end, odd sizes) take the scalar path. */

#define PV 8
#define EVEN8 ((uint8)(0, 2, 4, 6, 8, 10, 12, 14))
#define ODD8 ((uint8)(1, 3, 5, 7, 9, 11, 13, 15))

/* Winner (value and index 0..3 per lane) of 8 windows whose top-left
 * elements start at p: elements in row-major window order e0..e3. */
/* zero: 0 at run time but unknown to the compiler (from a size argument):
 * OR-ed into the loaded rows so that PoCL's LLVM keeps them as whole
 * vectors instead of rebuilding each shuffle from 8-byte loads. */
#define VECTOR_ARGMAX(p, w, zero, best, kidx)                                    \
    do {                                                                         \
        const float16 r0_ = as_float16(as_uint16(vload16(0, (p))) | (uint16)(zero));       \
        const float16 r1_ = as_float16(as_uint16(vload16(0, (p) + (w))) | (uint16)(zero)); \
        const float8 e_[4] = {shuffle(r0_, EVEN8), shuffle(r0_, ODD8),           \
                              shuffle(r1_, EVEN8), shuffle(r1_, ODD8)};          \
        best = e_[0];                                                            \
        kidx = (int8)(0);                                                        \
        for (int i_ = 1; i_ < 4; i_++) {                                         \
            const int8 take_ = !isnan(best) && (isnan(e_[i_]) || e_[i_] > best); \
            best = select(best, e_[i_], take_);                                  \
            kidx = select(kidx, (int8)(i_), take_);                              \
        }                                                                        \
    } while (0)

/* x [NC, h, w] -> y [NC, ho, wo]; global size (ceil(wo / 8), ho, NC). */
__kernel void maxpool2_fwd(__global const float *x, const ulong x_off, __global float *y,
                           const ulong y_off, const uint h, const uint w, const uint ho,
                           const uint wo)
{
    const uint ow0 = get_global_id(0) * PV, oh = get_global_id(1), nc = get_global_id(2);
    if (ow0 >= wo || oh >= ho) return;
    __global const float *p = x + x_off + (ulong)nc * h * w + (2 * oh) * w + 2 * ow0;
    __global float *out = y + y_off + ((ulong)nc * ho + oh) * wo + ow0;
    if (ow0 + PV <= wo) {
        float8 best;
        int8 kidx;
        VECTOR_ARGMAX(p, w, h >> 31, best, kidx);
        vstore8(best, 0, out);
        return;
    }
    for (uint j = 0; ow0 + j < wo; j++) {
        __global const float *q = p + 2 * j;
        const uint k = window_argmax(q, w);
        out[j] = q[(k >> 1) * w + (k & 1)];
    }
}

/* dx [NC, h, w] from dy [NC, ho, wo]; global size (ceil(ceil(w/2) / 8),
 * ceil(h/2), NC): each work-item finds the winners of its (up to) 8
 * windows once and writes their dx elements: the gradient to the winner,
 * zero elsewhere, and zero for the unpooled last row / column of an odd
 * size. acc: bit 0 accumulate, bit 1 multiply by ELU'(x) of the winner
 * (x an ELU output: the ELU backward before the pool, fused). */
__kernel void maxpool2_bwd(__global const float *x, const ulong x_off,
                           __global const float *dy, const ulong dy_off, __global float *dx,
                           const ulong dx_off, const uint h, const uint w, const uint ho,
                           const uint wo, const uint acc)
{
    const uint ow0 = get_global_id(0) * PV, oh = get_global_id(1), nc = get_global_id(2);
    const uint row = 2 * oh;
    if (2 * ow0 >= w || row >= h) return;
    const ulong base = (ulong)nc * h * w + (ulong)row * w + 2 * ow0;
    if (oh < ho && ow0 + PV <= wo) {
        float8 best;
        int8 kidx;
        VECTOR_ARGMAX(x + x_off + base, w, h >> 31, best, kidx);
        float8 g = vload8(0, dy + dy_off + ((ulong)nc * ho + oh) * wo + ow0);
        if (acc & 2u) g *= select((float8)(1.0f), best + 1.0f, best <= 0.0f); /* ELU'(winner) */
        const float8 z = (float8)(0.0f);
        const float8 e0 = select(z, g, kidx == 0), e1 = select(z, g, kidx == 1);
        const float8 e2 = select(z, g, kidx == 2), e3 = select(z, g, kidx == 3);
        /* interleave back: row 0 = (e0, e1, e0, e1, ...), row 1 = (e2, e3, ...) */
        float16 d0 = shuffle2(e0, e1, (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
        float16 d1 = shuffle2(e2, e3, (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
        __global float *o = dx + dx_off + base;
        if (acc & 1u) {
            d0 += vload16(0, o);
            d1 += vload16(0, o + w);
        }
        vstore16(d0, 0, o);
        vstore16(d1, 0, o + w);
        return;
    }
    for (uint j = 0; j < PV; j++) {
        const uint ow = ow0 + j, col = 2 * ow;
        if (col >= w) break;
        const ulong b = base + 2 * j;
        uint k = 4; /* no winner: a partial window at an odd edge */
        float g = 0.0f;
        if (oh < ho && ow < wo) {
            k = window_argmax(x + x_off + b, w);
            g = dy[dy_off + ((ulong)nc * ho + oh) * wo + ow];
            if (acc & 2u) {
                const float xv = x[x_off + b + (k >> 1) * w + (k & 1)];
                g *= xv > 0.0f ? 1.0f : xv + 1.0f;
            }
        }
        for (uint i = 0; i < 4; i++) {
            const uint r = row + (i >> 1), c = col + (i & 1);
            if (r >= h || c >= w) continue;
            const ulong at = dx_off + b + (i >> 1) * w + (i & 1);
            const float v = i == k ? g : 0.0f;
            dx[at] = (acc & 1u) ? dx[at] + v : v;
        }
    }
}
