/* ELU (alpha 1) for the epilogues of fused kernels (conv.cl, the direct
 * kernels, conv_igemm.cl), pulled in with #include "act.cl". The same
 * arithmetic as elu_fwd in elementwise.cl, so a fused layer computes what
 * the separate pass did: exp(t) - 1 (PoCL vectorises exp, not expm1) with a
 * cubic series near 0 where that cancels. DEFINE_ELU(name, T) defines it
 * for a float type T (scalar or vector: the selections are element-wise). */
#define DEFINE_ELU(NAME, T)                                                \
    inline T NAME(const T v)                                               \
    {                                                                      \
        const T t = v > 0.0f ? (T)(0.0f) : v; /* not fmin: NaN passes */   \
        const T series = t * (1.0f + t * (0.5f + t * (1.0f / 6.0f)));     \
        const T em1 = t > -1e-2f ? series : exp(t) - 1.0f;                 \
        return v > 0.0f ? v : em1;                                         \
    }

/* ELU'(x) from the output y = ELU(x): y > 0 ? 1 : y + 1 (elu_bwd's factor).
 * The input gradient of a layer whose input is an ELU output is multiplied
 * by it in the epilogue, instead of a separate ELU backward pass. */
#define DEFINE_ELU_GRAD(NAME, T) \
    inline T NAME(const T y) { return y > 0.0f ? (T)(1.0f) : y + 1.0f; }

DEFINE_ELU(elu1, float)
DEFINE_ELU_GRAD(elu_grad1, float)

#define FLAG_ELU 4u      /* the epilogue applies ELU to its result */
#define FLAG_ELU_GRAD 8u /* the epilogue multiplies by ELU'(gate[same index]) */
