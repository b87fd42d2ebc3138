/* Shared by the direct convolution kernels (conv_direct.cl,
 * conv_direct_dw.cl, up2_direct.cl), pulled in with #include: the VW-wide
 * vector type and its constants, and the row loads and shifts. No kernels.
 * VW (4, 8 or 16) comes from the build options. */

#if VW == 4
typedef float4 floatv;
typedef uint4 uintv;
#define AS_UINTV as_uint4
#define AS_FLOATV as_float4
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
#define AS_UINTV as_uint8
#define AS_FLOATV as_float8
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
#define AS_UINTV as_uint16
#define AS_FLOATV as_float16
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

/* v | 0 with a zero the compiler cannot see: keeps a loaded vector whole.
 * Without it, PoCL's LLVM turned shuffle2(R0, load) into eight 8-byte
 * loads and as many permutes (the dw kernel ran at ~110 GFLOP/s). */
#define OPAQUE(v, zero) AS_FLOATV(AS_UINTV(v) | (uintv)(zero))

#define FLAG_ACCUMULATE 1u
#define FLAG_BIAS 2u
#include "act.cl"
DEFINE_ELU(elu_v, floatv)
DEFINE_ELU_GRAD(elu_grad_v, floatv)

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

/* The tn + 2 vectors of input row `row` starting at ox0 - VW (zeros
 * outside the row), kept whole with OPAQUE(., zero). */
#define LOAD_ROW(R, tn, row, ox0, W, zero)                                     \
    _Pragma("unroll") for (int j_ = 0; j_ < (tn) + 2; j_++) {                  \
        const int pos_ = (ox0) + (j_ - 1) * VW;                                \
        R[j_] = OPAQUE(pos_ >= 0 && pos_ < (int)(W) ? VLOAD((row) + pos_)      \
                                                    : (floatv)(0.0f),          \
                       zero);                                                  \
    }
