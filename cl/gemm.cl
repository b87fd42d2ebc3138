/* clinpaint's own SGEMM, row-major, with element offsets and leading
 * dimensions: C = alpha * op(A) op(B) + beta * C (beta == 0: C not read).
 *
 * Specialised by -D constants (all required unless a default is given):
 *   TA, TB    0/1: A stored k×m (op = transpose), B stored n×k
 *   TM        rows of C per work-item
 *   TN        column groups per work-item (each VW wide, or 1 for gemm_dot)
 *   VW        vector width: 1, 2, 4, 8 or 16
 *   LX, LY    work-group shape (dimension 0 along n, 1 along m)
 *   TK        (gemm_local only) k tile held in local memory
 *   KC        (gemm_rowvec, gemm_dot; optional) k chunk between barriers,
 *             a multiple of VW for gemm_dot; see K_CHUNKS
 *
 * Kernels:
 *   gemm_rowvec  every case but (TB && !TA) with VW > 1. Each work-item keeps a
 *                TM × (TN·VW) register tile, vectorised along n: per k it
 *                loads TN vectors of a row of B and broadcasts TM scalars of A
 *                (the CPU micro-kernel; PoCL then needs no cross-work-item
 *                vectorisation). With TB, VW must be 1 (B is gathered).
 *   gemm_dot     TB && !TA: both operands are contiguous along k; each
 *                work-item keeps TM × TN vector accumulators along k and
 *                reduces them at the end.
 *   gemm_local   a GPU-style variant: A and B tiles of TK staged in __local
 *                memory by the whole work-group, VW must be 1.
 *
 * Work-item (x, y) of group (gx, gy) owns rows gy·LY·TM + ly + r·LY and
 * columns gx·LX·TN·VW + lx·VW + t·LX·VW (+ 0..VW-1): neighbouring work-items
 * touch neighbouring memory (coalesced on GPUs; with LX = 1 one work-item
 * owns a contiguous strip). Loads clamp indices into the matrix, so inner
 * loops have no branches; stores are guarded. */

#if VW == 1
typedef float floatv;
#define VLOAD(p) (*(p))
#define VSTORE(v, p) (*(p) = (v))
#elif VW == 2
typedef float2 floatv;
#define VLOAD(p) vload2(0, (p))
#define VSTORE(v, p) vstore2((v), 0, (p))
#elif VW == 4
typedef float4 floatv;
#define VLOAD(p) vload4(0, (p))
#define VSTORE(v, p) vstore4((v), 0, (p))
#elif VW == 8
typedef float8 floatv;
#define VLOAD(p) vload8(0, (p))
#define VSTORE(v, p) vstore8((v), 0, (p))
#elif VW == 16
typedef float16 floatv;
#define VLOAD(p) vload16(0, (p))
#define VSTORE(v, p) vstore16((v), 0, (p))
#else
#error "VW must be 1, 2, 4, 8 or 16"
#endif

#ifndef LX
#define LX 1
#endif
#ifndef LY
#define LY 1
#endif

/* op(A)[i][k] and op(B)[k][j] as scalars. */
#if TA
#define A_AT(i, k) A[(size_t)(k) * lda + (i)]
#else
#define A_AT(i, k) A[(size_t)(i) * lda + (k)]
#endif
#if TB
#define B_AT(k, j) B[(size_t)(j) * ldb + (k)]
#else
#define B_AT(k, j) B[(size_t)(k) * ldb + (j)]
#endif

/* KC > 0: the k loop runs in chunks of KC with a barrier after each, so
 * the whole work-group works on one chunk of A and B before the next. On
 * PoCL's CPU device, which runs a work-group's work-items one after the
 * other between barriers, this is cache blocking: the chunk of A is reused
 * by the LX column work-items and the chunk of B by the LY row ones while
 * in L1/L2. No work-item may return early (every one reaches the barrier):
 * out-of-range ones compute on clamped indices and store nothing. */
#ifndef KC
#define KC 0
#endif
#if KC > 0
#define K_CHUNKS(k0, kend, K_, STEP)                                          \
    for (uint k0 = 0; k0 < (K_); k0 += KC) {                                  \
        const uint kend = min(k0 + KC, (uint)(K_));
#define K_CHUNKS_END                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                         \
    }
#else
#define K_CHUNKS(k0, kend, K_, STEP)                                          \
    {                                                                         \
        const uint k0 = 0, kend = (K_);
#define K_CHUNKS_END }
#endif

/* One element of C: C = alpha·v + beta·C. */
#define STORE1(i, j, v)                                                        \
    do {                                                                       \
        __global float *cp_ = C + (size_t)(i) * ldc + (j);                     \
        *cp_ = beta == 0.0f ? alpha * (v) : alpha * (v) + beta * *cp_;         \
    } while (0)

__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void gemm_rowvec(const uint m, const uint n, const uint K, const float alpha,
                 __global const float *restrict A, const uint a_off, const uint lda,
                 __global const float *restrict B, const uint b_off, const uint ldb,
                 const float beta, __global float *C, const uint c_off, const uint ldc)
{
    A += a_off;
    B += b_off;
    C += c_off;
    const uint row0 = get_group_id(1) * (LY * TM) + get_local_id(1);
    const uint col0 = get_group_id(0) * (LX * TN * VW) + get_local_id(0) * VW;
    uint rows[TM];
#pragma unroll
    for (int r = 0; r < TM; r++) rows[r] = min(row0 + (uint)r * LY, m - 1);
    floatv acc[TM][TN];
#pragma unroll
    for (int r = 0; r < TM; r++)
#pragma unroll
        for (int t = 0; t < TN; t++) acc[r][t] = (floatv)(0.0f);

    const bool full = !TB && col0 + (TN - 1) * LX * VW + VW <= n;
    /* Edge tiles (or gathered B) load clamped scalars into vectors. */
    uint cols[TN][VW];
#pragma unroll
    for (int t = 0; t < TN; t++)
#pragma unroll
        for (int v = 0; v < VW; v++) cols[t][v] = min(col0 + t * LX * VW + v, n - 1);
#if KC == 0 && !TB
    /* Unchunked full tiles get their own plain loop: with it nested in the
     * chunk/branch structure below, PoCL's code ran 1.7x slower (1024^3). */
    if (full) {
        for (uint k = 0; k < K; k++) {
            floatv b[TN];
#pragma unroll
            for (int t = 0; t < TN; t++) b[t] = VLOAD(B + (size_t)k * ldb + col0 + t * LX * VW);
#pragma unroll
            for (int r = 0; r < TM; r++) {
                const float a = A_AT(rows[r], k);
#pragma unroll
                for (int t = 0; t < TN; t++) acc[r][t] = fma((floatv)(a), b[t], acc[r][t]);
            }
        }
    } else
#endif
    {
        /* The chunk loop is outside the full/edge branch so that its barrier
         * is reached by every work-item. */
        K_CHUNKS(k0, kend, K, 1)
        if (full) {
#if !TB
            for (uint k = k0; k < kend; k++) {
                floatv b[TN];
#pragma unroll
                for (int t = 0; t < TN; t++) b[t] = VLOAD(B + (size_t)k * ldb + col0 + t * LX * VW);
#pragma unroll
                for (int r = 0; r < TM; r++) {
                    const float a = A_AT(rows[r], k);
#pragma unroll
                    for (int t = 0; t < TN; t++) acc[r][t] = fma((floatv)(a), b[t], acc[r][t]);
                }
            }
#endif
        } else {
            for (uint k = k0; k < kend; k++) {
                floatv b[TN];
#pragma unroll
                for (int t = 0; t < TN; t++) {
                    float tmp[VW];
#pragma unroll
                    for (int v = 0; v < VW; v++) tmp[v] = B_AT(k, cols[t][v]);
                    b[t] = VLOAD(tmp);
                }
#pragma unroll
                for (int r = 0; r < TM; r++) {
                    const float a = A_AT(rows[r], k);
#pragma unroll
                    for (int t = 0; t < TN; t++) acc[r][t] = fma((floatv)(a), b[t], acc[r][t]);
                }
            }
        }
        K_CHUNKS_END
    }

#pragma unroll
    for (int r = 0; r < TM; r++) {
        const uint i = row0 + (uint)r * LY;
        if (i >= m) break;
#pragma unroll
        for (int t = 0; t < TN; t++) {
            const uint j = col0 + t * LX * VW;
            if (j + VW <= n) {
                __global float *cp = C + (size_t)i * ldc + j;
                if (beta == 0.0f) VSTORE(alpha * acc[r][t], cp);
                else VSTORE(alpha * acc[r][t] + beta * VLOAD(cp), cp);
            } else {
                float tmp[VW];
                VSTORE(acc[r][t], tmp);
                for (int v = 0; v < VW; v++)
                    if (j + v < n) STORE1(i, j + v, tmp[v]);
            }
        }
    }
}

#if VW == 1
#define HSUM(v) (v)
#elif VW == 2
#define HSUM(v) ((v).s0 + (v).s1)
#elif VW == 4
#define HSUM(v) (((v).s0 + (v).s1) + ((v).s2 + (v).s3))
#elif VW == 8
#define HSUM(v) ((((v).s0 + (v).s1) + ((v).s2 + (v).s3)) + (((v).s4 + (v).s5) + ((v).s6 + (v).s7)))
#else
#define HSUM(v)                                                                              \
    (((((v).s0 + (v).s1) + ((v).s2 + (v).s3)) + (((v).s4 + (v).s5) + ((v).s6 + (v).s7))) + \
     ((((v).s8 + (v).s9) + ((v).sa + (v).sb)) + (((v).sc + (v).sd) + ((v).se + (v).sf))))
#endif

/* TB && !TA: C[i][j] = sum_k A[i][k] B[j][k], vectorised along k. */
__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void gemm_dot(const uint m, const uint n, const uint K, const float alpha,
              __global const float *restrict A, const uint a_off, const uint lda,
              __global const float *restrict B, const uint b_off, const uint ldb,
              const float beta, __global float *C, const uint c_off, const uint ldc)
{
    A += a_off;
    B += b_off;
    C += c_off;
    const uint row0 = get_group_id(1) * (LY * TM) + get_local_id(1);
    const uint col0 = get_group_id(0) * (LX * TN) + get_local_id(0);
    __global const float *ap[TM], *bp[TN];
#pragma unroll
    for (int r = 0; r < TM; r++) ap[r] = A + (size_t)min(row0 + (uint)r * LY, m - 1) * lda;
#pragma unroll
    for (int t = 0; t < TN; t++) bp[t] = B + (size_t)min(col0 + (uint)t * LX, n - 1) * ldb;
    floatv acc[TM][TN];
#pragma unroll
    for (int r = 0; r < TM; r++)
#pragma unroll
        for (int t = 0; t < TN; t++) acc[r][t] = (floatv)(0.0f);
    const uint kv = K - K % VW;
    K_CHUNKS(k0, kend, kv, VW)
    for (uint k = k0; k < kend; k += VW) {
        floatv a[TM], b[TN];
#pragma unroll
        for (int r = 0; r < TM; r++) a[r] = VLOAD(ap[r] + k);
#pragma unroll
        for (int t = 0; t < TN; t++) b[t] = VLOAD(bp[t] + k);
#pragma unroll
        for (int r = 0; r < TM; r++)
#pragma unroll
            for (int t = 0; t < TN; t++) acc[r][t] = fma(a[r], b[t], acc[r][t]);
    }
    K_CHUNKS_END
    float s[TM][TN];
#pragma unroll
    for (int r = 0; r < TM; r++)
#pragma unroll
        for (int t = 0; t < TN; t++) s[r][t] = HSUM(acc[r][t]);
    for (uint k = kv; k < K; k++) {
#pragma unroll
        for (int r = 0; r < TM; r++)
#pragma unroll
            for (int t = 0; t < TN; t++) s[r][t] = fma(ap[r][k], bp[t][k], s[r][t]);
    }
#pragma unroll
    for (int r = 0; r < TM; r++) {
        const uint i = row0 + (uint)r * LY;
        if (i >= m) break;
#pragma unroll
        for (int t = 0; t < TN; t++) {
            const uint j = col0 + (uint)t * LX;
            if (j < n) STORE1(i, j, s[r][t]);
        }
    }
}

#ifdef TK
/* GPU-style: the work-group stages a (LY·TM)×TK tile of op(A) and a
 * TK×(LX·TN) tile of op(B) in local memory; each work-item then computes
 * TM×TN outputs from local memory. VW must be 1. */
#define BM (LY * TM)
#define BN (LX * TN)
__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void gemm_local(const uint m, const uint n, const uint K, const float alpha,
                __global const float *restrict A, const uint a_off, const uint lda,
                __global const float *restrict B, const uint b_off, const uint ldb,
                const float beta, __global float *C, const uint c_off, const uint ldc)
{
    __local float As[TK][BM + 1];
    __local float Bs[TK][BN + 1];
    A += a_off;
    B += b_off;
    C += c_off;
    const uint lx = get_local_id(0), ly = get_local_id(1);
    const uint lid = ly * LX + lx;
    const uint gm = get_group_id(1) * BM, gn = get_group_id(0) * BN;
    float acc[TM][TN];
#pragma unroll
    for (int r = 0; r < TM; r++)
#pragma unroll
        for (int t = 0; t < TN; t++) acc[r][t] = 0.0f;
    for (uint k0 = 0; k0 < K; k0 += TK) {
        for (uint e = lid; e < TK * BM; e += LX * LY) {
            const uint kk = e / BM, ii = e % BM;
            const uint i = min(gm + ii, m - 1), k = min(k0 + kk, K - 1);
            As[kk][ii] = k0 + kk < K ? A_AT(i, k) : 0.0f;
        }
        for (uint e = lid; e < TK * BN; e += LX * LY) {
            const uint kk = e / BN, jj = e % BN;
            const uint j = min(gn + jj, n - 1), k = min(k0 + kk, K - 1);
            Bs[kk][jj] = k0 + kk < K ? B_AT(k, j) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TK; kk++) {
            float b[TN];
#pragma unroll
            for (int t = 0; t < TN; t++) b[t] = Bs[kk][lx + t * LX];
#pragma unroll
            for (int r = 0; r < TM; r++) {
                const float a = As[kk][ly + r * LY];
#pragma unroll
                for (int t = 0; t < TN; t++) acc[r][t] = fma(a, b[t], acc[r][t]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
#pragma unroll
    for (int r = 0; r < TM; r++) {
        const uint i = gm + ly + (uint)r * LY;
#pragma unroll
        for (int t = 0; t < TN; t++) {
            const uint j = gn + lx + (uint)t * LX;
            if (i < m && j < n) STORE1(i, j, acc[r][t]);
        }
    }
}
#endif
