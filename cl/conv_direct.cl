/* Direct convolution kernels for CPU devices: stride-1 convolution and the
 * 2×2 stride-2 transposed convolution (up2).
 *
 * Stride-1 convolution: no im2col matrix, no layout
 * permutes. Each work-item keeps a TM × (TN·VW) register tile (TM output
 * channels × TN vectors of VW neighbouring pixels of one output row), and
 * per input channel and kernel row loads TN + 2 aligned vectors of the
 * input row once; the kernel-column shifts are built from them with
 * shuffle2 (one permute instruction) instead of unaligned reloads.
 *
 * Build options (all compile-time):
 *   KH, KW   kernel size       PT, PL  top / left zero padding
 *   VW       vector width (4, 8 or 16); W % (TN·VW) == 0
 *   TN       vectors per work-item along the row
 *   TM       output channels per work-item (conv_direct)
 *   TMW      output channels per work-item (conv_direct_dw)
 * The host guarantees: output width == input width W (same-size
 * convolution, so vectors never straddle rows), 0 <= PL < VW and
 * KW - 1 - PL < VW (every shift stays within two neighbouring vectors),
 * and every tensor index below 2^31.
 * Offsets are in elements. Out-of-range channels of the last channel block
 * are clamped for loads and skipped for stores. */

#if VW == 4
typedef float4 floatv;
typedef uint4 uintv;
#define VLOAD(p) vload4(0, (p))
#define VSTORE(v, p) vstore4((v), 0, (p))
#define IOTA ((uint4)(0, 1, 2, 3))
#define ZIP_LO ((uint4)(0, 4, 1, 5))
#define ZIP_HI ((uint4)(2, 6, 3, 7))
#define EVENS ((uint4)(0, 2, 4, 6))
#define HSUM_EVEN(v) ((v).s0 + (v).s2)
#define HSUM_ODD(v) ((v).s1 + (v).s3)
#define HSUM(v) (((v).s0 + (v).s1) + ((v).s2 + (v).s3))
#elif VW == 8
typedef float8 floatv;
typedef uint8 uintv;
#define VLOAD(p) vload8(0, (p))
#define VSTORE(v, p) vstore8((v), 0, (p))
#define IOTA ((uint8)(0, 1, 2, 3, 4, 5, 6, 7))
#define ZIP_LO ((uint8)(0, 8, 1, 9, 2, 10, 3, 11))
#define ZIP_HI ((uint8)(4, 12, 5, 13, 6, 14, 7, 15))
#define EVENS ((uint8)(0, 2, 4, 6, 8, 10, 12, 14))
#define HSUM_EVEN(v) (((v).s0 + (v).s2) + ((v).s4 + (v).s6))
#define HSUM_ODD(v) (((v).s1 + (v).s3) + ((v).s5 + (v).s7))
#define HSUM(v) ((((v).s0 + (v).s1) + ((v).s2 + (v).s3)) + (((v).s4 + (v).s5) + ((v).s6 + (v).s7)))
#elif VW == 16
typedef float16 floatv;
typedef uint16 uintv;
#define VLOAD(p) vload16(0, (p))
#define VSTORE(v, p) vstore16((v), 0, (p))
#define IOTA ((uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#define ZIP_LO ((uint16)(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23))
#define ZIP_HI ((uint16)(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31))
#define EVENS ((uint16)(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30))
#define HSUM_EVEN(v) ((((v).s0 + (v).s2) + ((v).s4 + (v).s6)) + (((v).s8 + (v).sa) + ((v).sc + (v).se)))
#define HSUM_ODD(v) ((((v).s1 + (v).s3) + ((v).s5 + (v).s7)) + (((v).s9 + (v).sb) + ((v).sd + (v).sf)))
#define HSUM(v)                                                                              \
    (((((v).s0 + (v).s1) + ((v).s2 + (v).s3)) + (((v).s4 + (v).s5) + ((v).s6 + (v).s7))) + \
     ((((v).s8 + (v).s9) + ((v).sa + (v).sb)) + (((v).sc + (v).sd) + ((v).se + (v).sf))))
#else
#error "VW must be 4, 8 or 16"
#endif

#define FLAG_ACCUMULATE 1u
#define FLAG_BIAS 2u

/* Elements [o, o + VW) of the concatenation (a, b), 0 <= o < VW; o is a
 * constant once the kernel-column loop is unrolled. */
inline floatv window(const floatv a, const floatv b, const uint o)
{
    if (o == 0) return a;
    return shuffle2(a, b, IOTA + (uintv)(o));
}

/* The VW pixels from ox0 + t·VW + s (-VW <= s < VW) out of the row
 * vectors R (R[j] starts at ox0 + (j - 1)·VW). */
#define SHIFTED(R, t, s) ((s) < 0 ? window(R[(t)], R[(t) + 1], (uint)(VW + (s))) \
                                  : window(R[(t) + 1], R[(t) + 2], (uint)(s)))

/* The TN + 2 vectors of input row `row` starting at ox0 - VW (zeros
 * outside the row, or for a row outside the image). */
#define LOAD_ROW(R, row, valid, ox0, W) LOAD_ROW_N(R, TN, row, valid, ox0, W)
#define LOAD_ROW_N(R, tn, row, valid, ox0, W)                                  \
    _Pragma("unroll") for (int j_ = 0; j_ < (tn) + 2; j_++) {                  \
        const int pos_ = (ox0) + (j_ - 1) * VW;                                \
        R[j_] = (valid) && pos_ >= 0 && pos_ < (int)(W) ? VLOAD((row) + pos_)  \
                                                        : (floatv)(0.0f);      \
    }

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
                 const uint W, const uint C_out, const uint Ho, const uint flags)
{
    const uint co0 = get_global_id(0) * TM;
    const int ox0 = (int)(get_global_id(1) * (TN * VW));
    const uint noy = get_global_id(2);
    const uint n = noy / Ho, oy = noy - n * Ho;
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
            const bool valid = iy >= 0 && iy < (int)H;
            if (!valid) continue;
            __global const float *row = xc + (size_t)iy * W;
            floatv R[TN + 2];
            LOAD_ROW(R, row, valid, ox0, W)
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
        __global float *yr = y + y_off + ((size_t)(n * C_out + co) * Ho + oy) * W + ox0;
#pragma unroll
        for (int t = 0; t < TN; t++) {
            floatv v = acc[r][t] + (floatv)(b);
            if (flags & FLAG_ACCUMULATE) v += VLOAD(yr + t * VW);
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

/* Weight gradient, one partial sum per chunk of output rows:
 * part[chunk, co, ci, ky, kx] = sum over rows q in the chunk (q = n·Ho + oy)
 *   and pixels ox of dy[n, co, oy, ox] · x[n, ci, oy + ky - PT, ox + kx - PL].
 * Work-item (cb, ci·(KH/KYB) + kb, chunk): TMW channels × one input channel
 * × KYB kernel rows from kb·KYB; consecutive work-items share the chunk's
 * rows of dy and x (cache reuse). */
#ifndef KYB
#define KYB KH
#endif
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void conv_direct_dw(__global const float *restrict x, const ulong x_off,
                    __global const float *restrict dy, const ulong dy_off,
                    __global float *restrict part, const ulong part_off, const uint C_in,
                    const uint H, const uint W, const uint C_out, const uint Ho,
                    const uint rows_per_chunk, const uint rows_total)
{
    const uint co0 = get_global_id(0) * TMW;
    const uint ci = get_global_id(1) / (KH / KYB);
    const int ky0 = (int)(get_global_id(1) % (KH / KYB)) * KYB;
    const uint chunk = get_global_id(2);
    const uint q0 = chunk * rows_per_chunk, q1 = min(q0 + rows_per_chunk, rows_total);
    floatv acc[TMW][KYB][KW];
#pragma unroll
    for (int r = 0; r < TMW; r++)
#pragma unroll
        for (int ky = 0; ky < KYB; ky++)
#pragma unroll
            for (int kx = 0; kx < KW; kx++) acc[r][ky][kx] = (floatv)(0.0f);
    uint cho[TMW];
#pragma unroll
    for (int r = 0; r < TMW; r++) cho[r] = min(co0 + (uint)r, C_out - 1);

    for (uint q = q0; q < q1; q++) {
        const uint n = q / Ho, oy = q - n * Ho;
        __global const float *xc = x + x_off + ((size_t)n * C_in + ci) * H * W;
        __global const float *dyr[TMW];
#pragma unroll
        for (int r = 0; r < TMW; r++)
            dyr[r] = dy + dy_off + ((size_t)(n * C_out + cho[r]) * Ho + oy) * W;
#pragma unroll
        for (int ky = 0; ky < KYB; ky++) {
            const int iy = (int)oy + ky0 + ky - PT;
            const bool valid = iy >= 0 && iy < (int)H;
            if (!valid) continue;
            __global const float *row = xc + (size_t)iy * W;
            for (int ox0 = 0; ox0 < (int)W; ox0 += TNW * VW) {
                floatv R[TNW + 2];
                LOAD_ROW_N(R, TNW, row, valid, ox0, W)
#pragma unroll
                for (int t = 0; t < TNW; t++) {
                    floatv s[KW];
#pragma unroll
                    for (int kx = 0; kx < KW; kx++) s[kx] = SHIFTED(R, t, kx - PL);
#pragma unroll
                    for (int r = 0; r < TMW; r++) {
                        const floatv d = VLOAD(dyr[r] + ox0 + t * VW);
#pragma unroll
                        for (int kx = 0; kx < KW; kx++)
                            acc[r][ky][kx] = fma(d, s[kx], acc[r][ky][kx]);
                    }
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < TMW; r++) {
        const uint co = co0 + (uint)r;
        if (co >= C_out) break;
        __global float *p = part + part_off + (size_t)chunk * (C_out * C_in * (KH * KW)) + (co * C_in + ci) * (KH * KW);
#pragma unroll
        for (int ky = 0; ky < KYB; ky++)
#pragma unroll
            for (int kx = 0; kx < KW; kx++) p[(ky0 + ky) * KW + kx] = HSUM(acc[r][ky][kx]);
    }
}

/* dw[i] (+)= sum_c part[c, i] for i < count, chunks in a fixed order. */
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

/* ---- up2: 2×2 transposed convolution, stride 2, no padding ----
 * y[n, co, 2i + a, 2j + b] = sum_ci x[n, ci, i, j] · w[ci, co, a, b] (+ b[co]),
 * x: [N, C_in, H, W], w: [C_in, C_out, 2, 2], y: [N, C_out, 2H, 2W].
 * W % VW == 0; one vector of VW input pixels per work-item (TN = 1). */

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
                   const uint W, const uint C_out, const uint flags)
{
    const uint ci0 = get_global_id(0) * TM;
    const uint ox0 = get_global_id(1) * VW;
    const uint ni = get_global_id(2);
    const uint n = ni / H, i = ni - n * H;
    const uint Wo = 2 * W;
    uint wo[TM];
#pragma unroll
    for (int r = 0; r < TM; r++) wo[r] = (uint)w_off + min(ci0 + (uint)r, C_in - 1) * C_out * 4;
    floatv acc[TM];
#pragma unroll
    for (int r = 0; r < TM; r++) acc[r] = (floatv)(0.0f);
    __global const float *dp = dy + dy_off + ((size_t)n * C_out * (2 * H) + 2 * i) * Wo + 2 * ox0;
    for (uint co = 0; co < C_out; co++) {
#pragma unroll
        for (int a = 0; a < 2; a++) {
            __global const float *row = dp + ((size_t)co * (2 * H) + a) * Wo;
            const floatv v0 = VLOAD(row), v1 = VLOAD(row + VW);
            const floatv ev = shuffle2(v0, v1, EVENS), od = shuffle2(v0, v1, EVENS + (uintv)(1));
#pragma unroll
            for (int r = 0; r < TM; r++) {
                const uint k = wo[r] + co * 4 + a * 2;
                acc[r] = fma((floatv)(w[k]), ev, fma((floatv)(w[k + 1]), od, acc[r]));
            }
        }
    }
#pragma unroll
    for (int r = 0; r < TM; r++) {
        const uint ci = ci0 + (uint)r;
        if (ci >= C_in) break;
        __global float *o = dx + dx_off + ((size_t)(n * C_in + ci) * H + i) * W + ox0;
        floatv v = acc[r];
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
            const floatv v = VLOAD(xr + ox0);
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
