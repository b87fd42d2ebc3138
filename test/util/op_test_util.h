/* Helpers shared by the GEMM-based operator tests (conv, transposed conv,
 * dense, gemm). */
#ifndef CP_TEST_OP_TEST_UTIL_H
#define CP_TEST_OP_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/ops.h"
#include "clinpaint/rng.h"

/* A tensor at element offset `off` of its own buffer, the rest of the buffer
 * NaN; contents from host, or NaN when host is NULL. */
cp_tensor tu_tensor_at(const float *host, int64_t n, int64_t c, int64_t h, int64_t w,
                       size_t off, const char *name);
/* n uniform floats in [-1, 1) (malloc'ed); n zero doubles (calloc'ed). */
float *tu_rand_array(cp_rng *r, size_t n);
double *tu_dzeros(size_t n);
/* tu_assert_close for float32 sums of `terms` products of magnitude <= 1:
 * rounding ~ terms·2^-24 in the worst case; 2e-7·terms keeps a margin
 * (plus 1e-6), with a relative 1e-5. */
void tu_assert_close_sum(const char *name, const char *what, const float *got,
                         const double *want, size_t n, size_t terms);

/* CLBlast runs small GEMMs through its "direct" kernel (no temporary) and
 * large ones (m·n·k >= XGEMM_MIN_INDIRECT_SIZE³) through the indirect one,
 * which pads/transposes into the temporary we provide. On PoCL's defaults
 * only ~1024³ goes indirect, so tests lower the threshold (and restore it). */
size_t tu_gemm_temp_floats(size_t s);   /* temporary of an s³ GEMM (offsets 1) */
size_t tu_clblast_min_indirect(void);   /* smallest s whose s³ GEMM needs one */
void tu_set_clblast_min_indirect(size_t v);

/* Convolution route of tu_ctx() for loop tests (_i): 0 the device's
 * default, 1 im2col + GEMM (as CLINPAINT_CONV=gemm), 2 the direct kernels
 * (=direct), 3 the implicit GEMM (=igemm). */
#define TU_CONV_ROUTES 4
bool tu_set_conv_route(int i);
/* In a loop test over routes: run iteration i only when its route is among
 * CLINPAINT_TEST_CONV_ROUTES (a comma list of default,gemm,direct,igemm;
 * unset: all), so slow implementations can test one route. */
#define TU_CONV_ROUTE_OR_SKIP(i)            \
    do {                                    \
        if (!tu_set_conv_route(i)) return; \
    } while (0)

/* Central finite differences of dx, dw and db of cp_conv2d_* (or, with
 * transposed, cp_conv_transpose2d_*) on random data, against the analytic
 * backward; tensors at non-zero offsets. */
void tu_conv_gradcheck(const char *name, const cp_conv_params *p, bool transposed, int n,
                       int ci, int h, int w, int co, uint64_t seed);

#endif
