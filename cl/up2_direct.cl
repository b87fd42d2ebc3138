/* up2 for CPU devices (src/backend/opencl/ops/conv_direct.c): the 2×2 transposed
 * convolution with stride 2 and no padding,
 * y[n, co, 2i + a, 2j + b] = sum_ci x[n, ci, i, j] · w[ci, co, a, b] (+ b[co]),
 * x: [N, C_in, H, W], w: [C_in, C_out, 2, 2], y: [N, C_out, 2H, 2W].
 * W % VW == 0; one vector of VW input pixels per work-item.
 * Build options: VW, and the channels per work-item of the forward (TM),
 * input-gradient (TMX) and weight-gradient (TMW) kernels. The weight
 * gradient's chunk partial sums are reduced by conv.cl's conv_dw_reduce. */

#include "vec_direct.cl"

/* Work-item (cb, seg, n·H + i): TM channels × the 2 × 2·VW outputs of VW
 * input pixels; the b = 0 / 1 results are interleaved with shuffle2. */
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void up2_direct(__global const float *restrict x, const ulong x_off,
                __global const float *restrict w, const ulong w_off,
                __global const float *restrict bias, const ulong b_off,
                __global float *y, const ulong y_off, const uint C_in, const uint H,
                const uint W, const uint C_out, const uint flags)
{
    const uint co0 = get_global_id(0) * TM;
    const uint ox0 = get_global_id(1) * VW;
    const uint ni = get_global_id(2);
    const uint n = ni / H, i = ni - n * H;
    __global const float *xp = x + x_off + ((size_t)n * C_in * H + i) * W + ox0;
    uint wo[TM];
#pragma unroll
    for (int r = 0; r < TM; r++) wo[r] = (uint)w_off + min(co0 + (uint)r, C_out - 1) * 4;
    floatv acc[TM][2][2];
#pragma unroll
    for (int r = 0; r < TM; r++)
#pragma unroll
        for (int a = 0; a < 2; a++) acc[r][a][0] = acc[r][a][1] = (floatv)(0.0f);
    for (uint ci = 0; ci < C_in; ci++) {
        const floatv v = VLOAD(xp + (size_t)ci * H * W);
        const uint wc = ci * C_out * 4;
#pragma unroll
        for (int r = 0; r < TM; r++)
#pragma unroll
            for (int a = 0; a < 2; a++)
#pragma unroll
                for (int b = 0; b < 2; b++)
                    acc[r][a][b] = fma((floatv)(w[wo[r] + wc + a * 2 + b]), v, acc[r][a][b]);
    }
    const uint Wo = 2 * W;
#pragma unroll
    for (int r = 0; r < TM; r++) {
        const uint co = co0 + (uint)r;
        if (co >= C_out) break;
        const floatv bb = (floatv)((flags & FLAG_BIAS) ? bias[b_off + co] : 0.0f);
#pragma unroll
        for (int a = 0; a < 2; a++) {
            __global float *yr = y + y_off + ((size_t)(n * C_out + co) * (2 * H) + 2 * i + a) * Wo + 2 * ox0;
            floatv lo = shuffle2(acc[r][a][0], acc[r][a][1], ZIP_LO) + bb;
            floatv hi = shuffle2(acc[r][a][0], acc[r][a][1], ZIP_HI) + bb;
            if (flags & FLAG_ACCUMULATE) {
                lo += VLOAD(yr);
                hi += VLOAD(yr + VW);
            }
            if (flags & FLAG_ELU) {
                lo = elu_v(lo);
                hi = elu_v(hi);
            }
            VSTORE(lo, yr);
            VSTORE(hi, yr + VW);
        }
    }
}

/* dx[n, ci, i, j] (+)= sum_{co, a, b} dy[n, co, 2i + a, 2j + b] · w[ci, co, a, b].
 * Work-item (cb, seg, n·H + i): TM input channels × VW pixels; each dy row
 * pair is split into its even (b = 0) and odd (b = 1) columns once. */
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void up2_direct_dx(__global const float *restrict dy, const ulong dy_off,
                   __global const float *restrict w, const ulong w_off,
                   __global float *dx, const ulong dx_off, const uint C_in, const uint H,
                   const uint W, const uint C_out, const uint flags,
                   __global const float *restrict gate, const ulong gate_off)
{
    const uint ci0 = get_global_id(0) * TMX;
    const uint opaque = H >> 31; /* 0 (H < 2^31), unknown to the compiler: OPAQUE */
    const uint ox0 = get_global_id(1) * VW;
    const uint ni = get_global_id(2);
    const uint n = ni / H, i = ni - n * H;
    const uint Wo = 2 * W;
    uint wo[TMX];
#pragma unroll
    for (int r = 0; r < TMX; r++) wo[r] = (uint)w_off + min(ci0 + (uint)r, C_in - 1) * C_out * 4;
    floatv acc[TMX];
#pragma unroll
    for (int r = 0; r < TMX; r++) acc[r] = (floatv)(0.0f);
    __global const float *dp = dy + dy_off + ((size_t)n * C_out * (2 * H) + 2 * i) * Wo + 2 * ox0;
    for (uint co = 0; co < C_out; co++) {
#pragma unroll
        for (int a = 0; a < 2; a++) {
            __global const float *row = dp + ((size_t)co * (2 * H) + a) * Wo;
            const floatv v0 = OPAQUE(VLOAD(row), opaque), v1 = OPAQUE(VLOAD(row + VW), opaque);
            const floatv ev = shuffle2(v0, v1, EVENS), od = shuffle2(v0, v1, EVENS + (uintv)(1));
#pragma unroll
            for (int r = 0; r < TMX; r++) {
                const uint k = wo[r] + co * 4 + a * 2;
                acc[r] = fma((floatv)(w[k]), ev, fma((floatv)(w[k + 1]), od, acc[r]));
            }
        }
    }
#pragma unroll
    for (int r = 0; r < TMX; r++) {
        const uint ci = ci0 + (uint)r;
        if (ci >= C_in) break;
        const size_t at = ((size_t)(n * C_in + ci) * H + i) * W + ox0;
        __global float *o = dx + dx_off + at;
        floatv v = acc[r];
        if (flags & FLAG_ELU_GRAD) v *= elu_grad_v(VLOAD(gate + gate_off + at));
        if (flags & FLAG_ACCUMULATE) v += VLOAD(o);
        VSTORE(v, o);
    }
}

/* part[chunk, ci, co, a, b] = sum over input rows q = n·H + i of the chunk
 * and pixels j of x[n, ci, i, j] · dy[n, co, 2i + a, 2j + b].
 * Work-item (cb, ci, chunk): TMW output channels. Each x vector is spread
 * into (x0, x0, x1, x1, ...) so that one FMA with a contiguous dy vector
 * feeds both b (even lanes b = 0, odd lanes b = 1). */
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void up2_direct_dw(__global const float *restrict x, const ulong x_off,
                   __global const float *restrict dy, const ulong dy_off,
                   __global float *restrict part, const ulong part_off, const uint C_in,
                   const uint H, const uint W, const uint C_out,
                   const uint rows_per_chunk, const uint rows_total)
{
    const uint co0 = get_global_id(0) * TMW;
    const uint ci = get_global_id(1);
    const uint chunk = get_global_id(2);
    const uint q0 = chunk * rows_per_chunk, q1 = min(q0 + rows_per_chunk, rows_total);
    const uint Wo = 2 * W;
    const uint opaque = rows_total >> 31; /* 0, unknown to the compiler: OPAQUE */
    floatv acc[TMW][2];
#pragma unroll
    for (int r = 0; r < TMW; r++) acc[r][0] = acc[r][1] = (floatv)(0.0f);
    uint cho[TMW];
#pragma unroll
    for (int r = 0; r < TMW; r++) cho[r] = min(co0 + (uint)r, C_out - 1);
    for (uint q = q0; q < q1; q++) {
        const uint n = q / H, i = q - n * H;
        __global const float *xr = x + x_off + ((size_t)(n * C_in + ci) * H + i) * W;
        __global const float *dr[TMW];
#pragma unroll
        for (int r = 0; r < TMW; r++)
            dr[r] = dy + dy_off + ((size_t)(n * C_out + cho[r]) * (2 * H) + 2 * i) * Wo;
        for (uint ox0 = 0; ox0 < W; ox0 += VW) {
            const floatv v = OPAQUE(VLOAD(xr + ox0), opaque);
            const floatv lo = shuffle(v, IOTA / (uintv)(2)), hi = shuffle(v, IOTA / (uintv)(2) + (uintv)(VW / 2));
#pragma unroll
            for (int r = 0; r < TMW; r++)
#pragma unroll
                for (int a = 0; a < 2; a++) {
                    __global const float *d = dr[r] + a * Wo + 2 * ox0;
                    acc[r][a] = fma(VLOAD(d), lo, fma(VLOAD(d + VW), hi, acc[r][a]));
                }
        }
    }
#pragma unroll
    for (int r = 0; r < TMW; r++) {
        const uint co = co0 + (uint)r;
        if (co >= C_out) break;
        __global float *p = part + part_off + (size_t)chunk * (C_in * C_out * 4) + (ci * C_out + co) * 4;
#pragma unroll
        for (int a = 0; a < 2; a++) {
            p[a * 2] = HSUM_EVEN(acc[r][a]);
            p[a * 2 + 1] = HSUM_ODD(acc[r][a]);
        }
    }
}
