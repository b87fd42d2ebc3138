/* Implicit-GEMM convolution for GPU-class devices (src/backend/opencl/ops/conv_igemm.c):
 * the GEMM of im2col + GEMM, with the column matrix gathered on the fly
 * into local memory instead of written to global memory.
 *
 * Each work-group computes a BM × BN block of C = A × B, one LY × LX grid of
 * work-items each holding a TM × TN register tile (rows ly + i·LY, columns
 * lx + j·LX: neighbouring work-items read neighbouring local words). Per
 * step of TK along k the group loads A [BM × TK] and B [TK × BN] into local
 * memory together (any group size works, down to one work-item), then every
 * work-item runs TK rank-1 updates from local memory. Deterministic: each
 * output is one work-item's fixed-order sum (dw: partial sums per chunk,
 * reduced in a fixed order by the host's second pass; no atomics).
 *
 * The convolution (kernel KH × KW, stride SH × SW, padding PT top / PL left):
 * image [N, C, H, W] -> output [N, CO, HO, WO], weights [CO, C, KH, KW].
 *   MODE 0 forward:  C[co, p]  = sum_k w[co, k] · im2col(x)[k, p],  k = (c, ky, kx),
 *                    p = (n, oy, ox); y = C (+ bias[co]) (+ y)
 *   MODE 1 data grad: C[c, q] = sum_k w[co, c, ky, kx] · dy[n, co, oy, ox],
 *                    k = (co, ky, kx), q = (n, iy, ix), oy·SH = iy + PT - ky
 *                    (terms off the stride grid or outside are 0);
 *                    dx = C (+ bias[c]) (+ dx). (The transposed convolution's
 *                    forward is this mode with its input as dy.)
 *   MODE 2 weight grad: C[co, k] = sum_p dy[n, co, oy, ox] · im2col(x)[k, p]
 *                    over the chunk of p of group z, into out + z·CO·K
 *                    (+ out when one chunk and accumulating).
 * Build options: MODE, KH, KW, SH, SW, PT, PL, TM, TN, LX, LY, TK.
 * Every index fits 31 bits (the host checks). flags: 1 accumulate, 2 bias,
 * FLAG_ELU (ELU of the result: bias and ELU fused into the epilogue),
 * FLAG_ELU_GRAD (modes 0, 1: times ELU'(gate) at the output's index, the
 * input gradient of a layer whose input is an ELU output). */

#include "act.cl"

#define BM (LY * TM)
#define BN (LX * TN)
#define KHW (KH * KW)

typedef struct geom {
    uint c, h, w, co, ho, wo;
} geom;

#if MODE == 0
/* A[m = co, k] = w[co, k] */
#define LOAD_A(m, k) wgt[(m) * kdim + (k)]
#elif MODE == 1
/* A[m = c, k = (co, r)] = w[co, c, r] */
#define LOAD_A(m, k) wgt[((k) / KHW * g.c + (m)) * KHW + (k) % KHW]
#else
/* A[m = co, k = p] = dy[n, co, oy·WO + ox] */
#define LOAD_A(m, k) wgt[((k) / hwo * g.co + (m)) * hwo + (k) % hwo]
#endif

/* im2col(x)[k = (c, ky, kx), p = (n, oy, ox)], zero outside the image. */
inline float im2col_at(__global const float *restrict x, const geom g, uint k, uint p)
{
    uint hwo = g.ho * g.wo;
    uint n = p / hwo, q = p % hwo;
    uint c = k / KHW, r = k % KHW;
    int iy = (int)(q / g.wo) * SH - PT + (int)(r / KW);
    int ix = (int)(q % g.wo) * SW - PL + (int)(r % KW);
    if (iy < 0 || ix < 0 || iy >= (int)g.h || ix >= (int)g.w) return 0.0f;
    return x[((n * g.c + c) * g.h + (uint)iy) * g.w + (uint)ix];
}

/* dy[n, co, oy, ox] for k = (co, ky, kx) at image position q = (n, iy, ix);
 * zero when (iy + PT - ky, ix + PL - kx) is off the stride grid or outside. */
inline float dy_at(__global const float *restrict dy, const geom g, uint k, uint q)
{
    uint hw = g.h * g.w;
    uint n = q / hw, s = q % hw;
    uint co = k / KHW, r = k % KHW;
    int ty = (int)(s / g.w) + PT - (int)(r / KW);
    int tx = (int)(s % g.w) + PL - (int)(r % KW);
    if (ty < 0 || tx < 0 || ty % SH != 0 || tx % SW != 0) return 0.0f;
    uint oy = (uint)ty / SH, ox = (uint)tx / SW;
    if (oy >= g.ho || ox >= g.wo) return 0.0f;
    return dy[((n * g.co + co) * g.ho + oy) * g.wo + ox];
}

/* src: x (modes 0, 2) or dy (mode 1); wgt: w (modes 0, 1) or dy (mode 2). */
__kernel void conv_igemm(__global const float *restrict src, const ulong src_off,
                         __global const float *restrict wgt, const ulong wgt_off,
                         __global const float *restrict bias, const ulong bias_off,
                         __global float *restrict out, const ulong out_off,
                         const uint n_img, const uint c, const uint h, const uint w,
                         const uint co, const uint ho, const uint wo, const uint chunk,
                         const uint flags, __global const float *restrict gate,
                         const ulong gate_off)
{
    __local float as[TK][BM + 1];
    __local float bs[TK][BN];
    src += src_off;
    wgt += wgt_off;
    bias += bias_off;
    out += out_off;
    const geom g = {c, h, w, co, ho, wo};
#if MODE == 0
    const uint hwo = ho * wo;
    const uint mdim = co, ndim = n_img * hwo, kdim = c * KHW;
    const uint kbeg = 0, kend = kdim;
#elif MODE == 1
    const uint mdim = c, ndim = n_img * h * w, kdim = co * KHW;
    const uint kbeg = 0, kend = kdim;
#else
    const uint hwo = ho * wo;
    const uint mdim = co, ndim = c * KHW, kdim = n_img * hwo;
    const uint kbeg = get_group_id(2) * chunk;
    const uint kend = min(kdim, kbeg + chunk);
#endif
    const uint lx = get_local_id(0), ly = get_local_id(1);
    const uint lid = ly * LX + lx;
    const uint m0 = get_group_id(1) * BM, n0 = get_group_id(0) * BN;

    float acc[TM][TN];
    for (int i = 0; i < TM; i++)
        for (int j = 0; j < TN; j++) acc[i][j] = 0.0f;

    for (uint k0 = kbeg; k0 < kend; k0 += TK) {
        /* A: k fastest (contiguous rows of w and of dy). */
        for (uint e = lid; e < TK * BM; e += LX * LY) {
            uint kk = e % TK, mm = e / TK;
            uint m = m0 + mm, k = k0 + kk;
            as[kk][mm] = m < mdim && k < kend ? LOAD_A(m, k) : 0.0f;
        }
        /* B: columns fastest (contiguous pixels of a row). */
        for (uint e = lid; e < TK * BN; e += LX * LY) {
            uint kk = e / BN, nn = e % BN;
            uint col = n0 + nn, k = k0 + kk;
            float v = 0.0f;
            if (col < ndim && k < kend) {
#if MODE == 0
                v = im2col_at(src, g, k, col);
#elif MODE == 1
                v = dy_at(src, g, k, col);
#else
                v = im2col_at(src, g, col, k);
#endif
            }
            bs[kk][nn] = v;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TK; kk++) {
            float a[TM], b[TN];
            for (int i = 0; i < TM; i++) a[i] = as[kk][ly + i * LY];
            for (int j = 0; j < TN; j++) b[j] = bs[kk][lx + j * LX];
            for (int i = 0; i < TM; i++)
                for (int j = 0; j < TN; j++) acc[i][j] = mad(a[i], b[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int i = 0; i < TM; i++) {
        uint m = m0 + ly + i * LY;
        if (m >= mdim) continue;
        float add = (flags & 2u) ? bias[m] : 0.0f;
        for (int j = 0; j < TN; j++) {
            uint col = n0 + lx + j * LX;
            if (col >= ndim) continue;
#if MODE == 2
            size_t o = (size_t)get_group_id(2) * mdim * ndim + (size_t)m * ndim + col;
#elif MODE == 0
            size_t o = ((size_t)(col / hwo) * mdim + m) * hwo + col % hwo;
#else
            size_t o = ((size_t)(col / (h * w)) * mdim + m) * (h * w) + col % (h * w);
#endif
            float v = acc[i][j] + add;
            if (flags & FLAG_ELU_GRAD) v *= elu_grad1(gate[gate_off + o]);
            if (flags & 1u) v += out[o];
            out[o] = (flags & FLAG_ELU) ? elu1(v) : v;
        }
    }
}
