/* GEMM-based convolution helpers: im2col, col2im (gather, no atomics),
 * NCHW <-> CNHW permutes (with fused bias / accumulate / ELU) and bias kernels
 * (the bias gradient is a bounded reduction in reduce.cl).
 *
 * Build options (compile-time constants, so index arithmetic and the
 * kernel-window loops are specialised):
 *   KH, KW  kernel size        SH, SW  stride
 *   PT, PL  top / left zero padding (bottom/right padding only changes HO, WO)
 * Offsets are in elements. Every in-tensor index is below 2^31 (the host
 * checks), so 32-bit index arithmetic and fdiv() are exact. Consecutive work items touch consecutive addresses.
 * Columns: col[(c*KH + i)*KW + j, (n*HO + oy)*WO + ox]
 *          = img[n, c, oy*SH - PT + i, ox*SW - PL + j] (0 outside). */
#ifndef KH
#define KH 3
#endif
#ifndef KW
#define KW 3
#endif
#ifndef SH
#define SH 1
#endif
#ifndef SW
#define SW 1
#endif
#ifndef PT
#define PT 0
#endif
#ifndef PL
#define PL 0
#endif

#define FLAG_ACCUMULATE 1u
#define FLAG_BIAS 2u
#include "act.cl"

/* n / d without a hardware division (slow on GPUs and not vectorised on
 * CPUs): dv = (m, s) from the host, valid for n, d < 2^31 (the host checks):
 * s = ceil(log2 d), m = floor(2^32 (2^s - d) / d) + 1. */
inline uint fdiv(const uint n, const uint2 dv) { return (mul_hi(n, dv.x) + n) >> dv.y; }

/* One work item per (c, n, oy, ox) writes its KH*KW column entries:
 * consecutive work items write consecutive addresses of each column row.
 * P = N*HO*WO, total = C*P; dP, dHWO, dWO divide by P, HO*WO, WO. */
__kernel void im2col(__global const float *img, const ulong img_off,
                     __global float *col, const ulong col_off,
                     const uint C, const uint H, const uint W, const uint HO,
                     const uint WO, const uint P, const uint total,
                     const uint2 dP, const uint2 dHWO, const uint2 dWO)
{
    const uint g = get_global_id(0);
    if (g >= total) return;
    const uint c = fdiv(g, dP), q = g - c * P;
    const uint n = fdiv(q, dHWO), pq = q - n * (HO * WO);
    const uint oy = fdiv(pq, dWO), ox = pq - oy * WO;
    __global const float *src = img + img_off + (n * C + c) * H * W;
    __global float *dst = col + col_off + c * (KH * KW) * P + q;
    const int y0 = (int)(oy * SH) - PT, x0 = (int)(ox * SW) - PL;
#pragma unroll
    for (int i = 0; i < KH; i++) {
        const int iy = y0 + i;
        const bool row_in = iy >= 0 && iy < (int)H;
#pragma unroll
        for (int j = 0; j < KW; j++) {
            const int ix = x0 + j;
            float v = 0.0f;
            if (row_in && ix >= 0 && ix < (int)W) v = src[(uint)iy * W + (uint)ix];
            dst[(i * KW + j) * P] = v;
        }
    }
}

/* img[n, c, y, x] (+)= sum of its column entries (+ bias[c]) (· ELU'(gate)
 * when FLAG_ELU_GRAD: the input gradient of a layer fed by an ELU); one work item
 * per image element, a fixed summation order: deterministic, no atomics.
 * total = N*C*H*W; dW, dH, dC divide by W, H, C. */
__kernel void col2im(__global const float *col, const ulong col_off,
                     __global float *img, const ulong img_off,
                     __global const float *bias, const ulong bias_off,
                     const uint C, const uint H, const uint W, const uint HO,
                     const uint WO, const uint P, const uint total, const uint flags,
                     const uint2 dW, const uint2 dH, const uint2 dC,
                     __global const float *gate, const ulong gate_off)
{
    const uint g = get_global_id(0);
    if (g >= total) return;
    uint t = fdiv(g, dW);
    const uint x = g - t * W;
    const uint t2 = fdiv(t, dH);
    const uint y = t - t2 * H;
    const uint n = fdiv(t2, dC), c = t2 - n * C;
    __global const float *cb = col + col_off + c * (KH * KW) * P + (n * HO) * WO;
    float s = 0.0f;
#pragma unroll
    for (int i = 0; i < KH; i++) {
        const int ty = (int)y + PT - i;
        if (ty < 0 || ty % SH != 0) continue;
        const uint oy = (uint)(ty / SH);
        if (oy >= HO) continue;
#pragma unroll
        for (int j = 0; j < KW; j++) {
            const int tx = (int)x + PL - j;
            if (tx < 0 || tx % SW != 0) continue;
            const uint ox = (uint)(tx / SW);
            if (ox >= WO) continue;
            s += cb[(i * KW + j) * P + oy * WO + ox];
        }
    }
    if (flags & FLAG_BIAS) s += bias[bias_off + c];
    if (flags & FLAG_ELU_GRAD) s *= elu_grad1(gate[gate_off + g]);
    const ulong o = img_off + g;
    if (flags & FLAG_ACCUMULATE) s += img[o];
    img[o] = (flags & FLAG_ELU) ? elu1(s) : s;
}

/* t[c, n*HW + p] = x[n, c, p]; one work item per element of x.
 * dHW, dC divide by HW, C. */
__kernel void nchw_to_cnhw(__global const float *x, const ulong x_off,
                           __global float *t, const ulong t_off,
                           const uint N, const uint C, const uint HW, const uint total,
                           const uint2 dHW, const uint2 dC)
{
    const uint g = get_global_id(0);
    if (g >= total) return;
    const uint nc = fdiv(g, dHW), p = g - nc * HW;
    const uint n = fdiv(nc, dC), c = nc - n * C;
    t[t_off + (c * N + n) * HW + p] = x[x_off + g];
}

/* y[n, c, p] (+)= t[c, n*HW + p] (+ bias[c]); one work item per element of y. */
__kernel void cnhw_to_nchw(__global const float *t, const ulong t_off,
                           __global float *y, const ulong y_off,
                           __global const float *bias, const ulong bias_off,
                           const uint N, const uint C, const uint HW, const uint total,
                           const uint flags, const uint2 dHW, const uint2 dC,
                           __global const float *gate, const ulong gate_off)
{
    const uint g = get_global_id(0);
    if (g >= total) return;
    const uint nc = fdiv(g, dHW), p = g - nc * HW;
    const uint n = fdiv(nc, dC), c = nc - n * C;
    float v = t[t_off + (c * N + n) * HW + p];
    if (flags & FLAG_BIAS) v += bias[bias_off + c];
    if (flags & FLAG_ELU_GRAD) v *= elu_grad1(gate[gate_off + g]);
    const ulong o = y_off + g;
    if (flags & FLAG_ACCUMULATE) v += y[o];
    y[o] = (flags & FLAG_ELU) ? elu1(v) : v;
}

/* y[n, c, p] = act(y[n, c, p] + b[c]) in place (flags: FLAG_BIAS, FLAG_ELU);
 * total = N*C*HW. */
__kernel void bias_inplace(__global float *y, const ulong y_off,
                           __global const float *b, const ulong b_off,
                           const uint C, const uint HW, const uint total,
                           const uint2 dHW, const uint2 dC, const uint flags)
{
    const uint g = get_global_id(0);
    if (g >= total) return;
    const uint nc = fdiv(g, dHW);
    float v = y[y_off + g];
    if (flags & FLAG_BIAS) v += b[b_off + nc - fdiv(nc, dC) * C];
    y[y_off + g] = (flags & FLAG_ELU) ? elu1(v) : v;
}

/* dw[i] (+)= sum_c part[c, i] for i < count, chunks in a fixed order: the
 * reduction of the direct kernels' weight-gradient partial sums
 * (conv_direct_dw.cl, up2_direct.cl). */
__kernel void conv_dw_reduce(__global const float *restrict part, const ulong part_off,
                             __global float *dw, const ulong dw_off, const uint count,
                             const uint chunks, const uint accumulate)
{
    const uint i = get_global_id(0);
    if (i >= count) return;
    float s = 0.0f;
    for (uint c = 0; c < chunks; c++) s += part[part_off + (size_t)c * count + i];
    dw[dw_off + i] = accumulate ? dw[dw_off + i] + s : s;
}
