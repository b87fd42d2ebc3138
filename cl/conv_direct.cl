/* Direct stride-1 convolution for CPU devices (the route of cp_conv2d_* on
 * CPUs, src/backend/opencl/ops/conv_direct.c): no im2col matrix, no layout permutes. Each
 * work-item keeps a TM × (TN·VW) register tile (TM output channels × TN
 * vectors of VW neighbouring pixels of one output row), and per input
 * channel and kernel row loads TN + 2 aligned vectors of the input row
 * once; the kernel-column shifts are built from them with shuffle2 (one
 * permute instruction) instead of unaligned reloads. The input gradient is
 * the same kernel on flipped weights (conv_flip_weights).
 *
 * Build options (all compile-time):
 *   KH, KW   kernel size       PT, PL  top / left zero padding
 *   VW       vector width (4, 8 or 16); W % (TN·VW) == 0
 *   TN       vectors per work-item along the row
 *   TM       output channels per work-item
 * The host guarantees: output width == input width W (same-size
 * convolution, so vectors never straddle rows), 0 <= PL < VW and
 * KW - 1 - PL < VW (every shift stays within two neighbouring vectors),
 * and every tensor index below 2^31.
 * flags: FLAG_ACCUMULATE, FLAG_BIAS, FLAG_ELU (ELU of the result, after
 * the bias: the fused conv + ELU layer), FLAG_ELU_GRAD (the result times
 * ELU'(gate) at the same index: dx of a layer whose input is an ELU output).
 * Offsets are in elements. Out-of-range channels of the last channel block
 * are clamped for loads and skipped for stores. */

#include "vec_direct.cl"

/* y[n, co, oy, ox] (+)= sum_{ci, ky, kx} w[co, ci, ky, kx] ·
 *                       x[n, ci, oy + ky - PT, ox + kx - PL] (+ b[co]).
 * x: [N, C_in, H, W], y: [N, C_out, Ho, W].
 * Work-item (cb, seg, n·Ho + oy): channels cb·TM.., pixels seg·TN·VW.. of
 * row oy. Neighbouring work-items share the input rows (cache reuse). */
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void conv_direct(__global const float *restrict x, const ulong x_off,
                 __global const float *restrict w, const ulong w_off,
                 __global const float *restrict bias, const ulong b_off,
                 __global float *y, const ulong y_off, const uint C_in, const uint H,
                 const uint W, const uint C_out, const uint Ho, const uint flags,
                 __global const float *restrict gate, const ulong gate_off)
{
    const uint co0 = get_global_id(0) * TM;
    const int ox0 = (int)(get_global_id(1) * (TN * VW));
    const uint noy = get_global_id(2);
    const uint n = noy / Ho, oy = noy - n * Ho;
    const uint opaque = Ho >> 31; /* 0, unknown to the compiler: OPAQUE */
    const uint CK = C_in * (KH * KW);
    x += x_off + (size_t)n * C_in * H * W;
    uint wo[TM];
#pragma unroll
    for (int r = 0; r < TM; r++) wo[r] = (uint)w_off + min(co0 + (uint)r, C_out - 1) * CK;
    floatv acc[TM][TN];
#pragma unroll
    for (int r = 0; r < TM; r++)
#pragma unroll
        for (int t = 0; t < TN; t++) acc[r][t] = (floatv)(0.0f);

    for (uint ci = 0; ci < C_in; ci++) {
        __global const float *xc = x + (size_t)ci * H * W;
#pragma unroll
        for (int ky = 0; ky < KH; ky++) {
            const int iy = (int)oy + ky - PT;
            if (iy < 0 || iy >= (int)H) continue;
            __global const float *row = xc + (size_t)iy * W;
            floatv R[TN + 2];
            LOAD_ROW(R, TN, row, ox0, W, opaque)
#pragma unroll
            for (int kx = 0; kx < KW; kx++) {
                floatv s[TN];
#pragma unroll
                for (int t = 0; t < TN; t++) s[t] = SHIFTED(R, t, kx - PL);
                const uint wk = ci * (KH * KW) + ky * KW + kx;
#pragma unroll
                for (int r = 0; r < TM; r++) {
                    const float a = w[wo[r] + wk];
#pragma unroll
                    for (int t = 0; t < TN; t++) acc[r][t] = fma((floatv)(a), s[t], acc[r][t]);
                }
            }
        }
    }

#pragma unroll
    for (int r = 0; r < TM; r++) {
        const uint co = co0 + (uint)r;
        if (co >= C_out) break;
        const float b = (flags & FLAG_BIAS) ? bias[b_off + co] : 0.0f;
        const size_t at = ((size_t)(n * C_out + co) * Ho + oy) * W + ox0;
        __global float *yr = y + y_off + at;
#pragma unroll
        for (int t = 0; t < TN; t++) {
            floatv v = acc[r][t] + (floatv)(b);
            if (flags & FLAG_ELU_GRAD)
                v *= elu_grad_v(VLOAD(gate + gate_off + at + t * VW));
            if (flags & FLAG_ACCUMULATE) v += VLOAD(yr + t * VW);
            if (flags & FLAG_ELU) v = elu_v(v);
            VSTORE(v, yr + t * VW);
        }
    }
}

/* The weights of the input gradient as a direct convolution:
 * wt[ci, co, ky, kx] = w[co, ci, KH-1-ky, KW-1-kx] (dx = conv(dy, wt) with
 * padding KH-1-PT, KW-1-PL). One work-item per element. */
__kernel void conv_flip_weights(__global const float *restrict w, const ulong w_off,
                                __global float *restrict wt, const ulong wt_off,
                                const uint C_in, const uint C_out)
{
    const uint g = get_global_id(0);
    const uint total = C_in * C_out * (KH * KW);
    if (g >= total) return;
    const uint k = g % (KH * KW), cc = g / (KH * KW);
    const uint co = cc % C_out, ci = cc / C_out;
    const uint ky = k / KW, kx = k % KW;
    wt[wt_off + g] = w[w_off + (co * C_in + ci) * (KH * KW) + (KH - 1 - ky) * KW + (KW - 1 - kx)];
}
