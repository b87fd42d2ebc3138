/* Helpers shared by the GEMM-based operator tests (conv, transposed conv,
 * dense, gemm). */
#include "util/op_test_util.h"

#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/test_util.h"

cp_tensor tu_tensor_at(const float *host, int64_t n, int64_t c, int64_t h, int64_t w,
                       size_t off, const char *name)
{
    cp_context *ctx = tu_ctx();
    size_t numel = (size_t)(n * c * h * w);
    cl_mem buf;
    TU_OK(cp_buffer_alloc(ctx, (off + numel) * sizeof(float), &buf));
    TU_OK(cp_buffer_fill(ctx, buf, 0, off + numel, NAN));
    int64_t shape[4] = {n, c, h, w};
    cp_tensor t = cp_tensor_view(buf, off, 4, shape, name);
    t.owns_buffer = true;
    if (host) TU_OK(cp_tensor_upload(ctx, &t, host));
    return t;
}

float *tu_rand_array(cp_rng *r, size_t n)
{
    float *a = malloc((n ? n : 1) * sizeof *a);
    ck_assert_ptr_nonnull(a);
    tu_fill_uniform(r, a, n, -1, 1);
    return a;
}

double *tu_dzeros(size_t n)
{
    double *a = calloc(n ? n : 1, sizeof *a);
    ck_assert_ptr_nonnull(a);
    return a;
}

void tu_assert_close_sum(const char *name, const char *what, const float *got,
                         const double *want, size_t n, size_t terms)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s: %s", name, what);
    tu_assert_close(buf, got, want, n, 2e-7 * (double)terms + 1e-6, 1e-5);
}

size_t tu_gemm_temp_floats(size_t s)
{
    cp_gemm_args g = {.m = s, .n = s, .k = s, .a_off = 1, .lda = s, .b_off = 1, .ldb = s,
                      .c_off = 1, .ldc = s};
    return cp_gemm_workspace_floats(tu_ctx(), &g);
}

size_t tu_clblast_min_indirect(void)
{
    size_t lo = 1, hi = 8192;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (tu_gemm_temp_floats(mid) > 0) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

void tu_set_clblast_min_indirect(size_t v)
{
    const char *names[] = {"XGEMM_MIN_INDIRECT_SIZE"};
    size_t values[] = {v};
    int e = CLBlastOverrideParameters(cp_context_device(tu_ctx())->device, "GemmRoutine",
                                      CLBlastPrecisionSingle, 1, names, values);
    ck_assert_msg(e == 0, "CLBlastOverrideParameters: %d", e);
}

void tu_set_conv_route(int i)
{
    static const char *const routes[TU_CONV_ROUTES] = {NULL, "gemm", "direct"};
    if (i >= 0 && i < TU_CONV_ROUTES && routes[i]) setenv("CLINPAINT_CONV", routes[i], 1);
    else unsetenv("CLINPAINT_CONV");
}
