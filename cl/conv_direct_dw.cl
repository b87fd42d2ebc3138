/* Weight gradient of the direct stride-1 convolution (conv_direct.cl) for
 * CPU devices: partial sums per chunk of output rows, reduced afterwards in
 * a fixed order by conv.cl's conv_dw_reduce (deterministic, no atomics).
 *
 * Build options: KH, KW, PT, PL and VW as for conv_direct.cl;
 *   TNW  vectors per step along the row (W % (TNW·VW) == 0)
 *   TMW  output channels per work-item
 * TMW·KW vector accumulators: keep them within ~24 of AVX-512's 32
 * registers (more spilled on PoCL and ran at half speed). */

#include "vec_direct.cl"

/* part[chunk, co, ci, ky, kx] = sum over rows q in the chunk (q = n·Ho + oy)
 *   and pixels ox of dy[n, co, oy, ox] · x[n, ci, oy + ky - PT, ox + kx - PL].
 * Work-item (cb, ci·KH + ky, chunk): TMW output channels × one input channel
 * × one kernel row; consecutive work-items share the chunk's rows of dy and
 * x (cache reuse). */
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void conv_direct_dw(__global const float *restrict x, const ulong x_off,
                    __global const float *restrict dy, const ulong dy_off,
                    __global float *restrict part, const ulong part_off, const uint C_in,
                    const uint H, const uint W, const uint C_out, const uint Ho,
                    const uint rows_per_chunk, const uint rows_total)
{
    const uint co0 = get_global_id(0) * TMW;
    const uint ci = get_global_id(1) / KH;
    const int ky = (int)(get_global_id(1) % KH);
    const uint chunk = get_global_id(2);
    const uint q0 = chunk * rows_per_chunk, q1 = min(q0 + rows_per_chunk, rows_total);
    /* Zero, but not known to the compiler (rows_total < 2^31): see OPAQUE. */
    const uint opaque = rows_total >> 31;
    floatv acc[TMW][KW];
#pragma unroll
    for (int r = 0; r < TMW; r++)
#pragma unroll
        for (int kx = 0; kx < KW; kx++) acc[r][kx] = (floatv)(0.0f);
    uint cho[TMW];
#pragma unroll
    for (int r = 0; r < TMW; r++) cho[r] = min(co0 + (uint)r, C_out - 1);

    for (uint q = q0; q < q1; q++) {
        const uint n = q / Ho, oy = q - n * Ho;
        const int iy = (int)oy + ky - PT;
        if (iy < 0 || iy >= (int)H) continue;
        __global const float *row = x + x_off + (((size_t)n * C_in + ci) * H + iy) * W;
        __global const float *dyr[TMW];
#pragma unroll
        for (int r = 0; r < TMW; r++)
            dyr[r] = dy + dy_off + ((size_t)(n * C_out + cho[r]) * Ho + oy) * W;
        for (int ox0 = 0; ox0 < (int)W; ox0 += TNW * VW) {
            floatv R[TNW + 2];
            LOAD_ROW(R, TNW, row, ox0, W, opaque)
#pragma unroll
            for (int t = 0; t < TNW; t++) {
                floatv s[KW];
#pragma unroll
                for (int kx = 0; kx < KW; kx++) s[kx] = SHIFTED(R, t, kx - PL);
#pragma unroll
                for (int r = 0; r < TMW; r++) {
                    const floatv d = VLOAD(dyr[r] + ox0 + t * VW);
#pragma unroll
                    for (int kx = 0; kx < KW; kx++) acc[r][kx] = fma(d, s[kx], acc[r][kx]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < TMW; r++) {
        const uint co = co0 + (uint)r;
        if (co >= C_out) break;
        __global float *p = part + part_off + (size_t)chunk * (C_out * C_in * (KH * KW)) +
                            (co * C_in + ci) * (KH * KW) + ky * KW;
#pragma unroll
        for (int kx = 0; kx < KW; kx++) p[kx] = HSUM(acc[r][kx]);
    }
}
