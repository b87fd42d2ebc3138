/* A quick end-to-end check of a device: our kernel path and CLBlast. */
#include "clinpaint/tensor.h"
#include "backend/opencl/runtime/check.h"
#include "backend/opencl/runtime/kernel_args.h"

#include <math.h>
#include <stdlib.h>

#include <clblast_c.h>

static cp_status check_axpy(cp_context *ctx, cp_tensor *x, cp_tensor *y, float *hx,
                            float *hy, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        hx[i] = (float)i * 0.5f;
        hy[i] = 1.0f;
    }
    CP_TRY(cp_tensor_upload(ctx, x, hx));
    CP_TRY(cp_tensor_upload(ctx, y, hy));
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "util.cl", "", "axpy_f32", &k));
    CP_ARGS(k, CP_ARG(float, 2.0f), CP_ARG(cl_mem, x->buf), CP_ARG(cl_mem, y->buf),
            CP_ARG(cl_uint, n));
    CP_TRY(cp_enqueue_1d(ctx, k, n, 64, NULL));
    CP_TRY(cp_tensor_download(ctx, y, hy));
    for (unsigned i = 0; i < n; i++)
        if (hy[i] != (float)i + 1.0f)
            return cp_set_error(CP_ERR_INTERNAL,
                                "device self-check: kernel result %u is %g, expected %g: "
                                "the OpenCL driver computes wrong results",
                                i, hy[i], (double)i + 1.0);
    return CP_OK;
}

/* C = A·B for 37×29 by 29×23 (odd sizes exercise CLBlast's padding path). */
static cp_status check_gemm(cp_context *ctx)
{
    enum { M = 37, K = 29, N = 23 };
    static float a[M * K], b[K * N], c[M * N];
    for (int i = 0; i < M * K; i++) a[i] = (float)((i * 7) % 13) - 6.0f;
    for (int i = 0; i < K * N; i++) b[i] = (float)((i * 5) % 11) - 5.0f;
    cp_tensor ta, tb, tc;
    cp_status st;
    int64_t sa = M * K, sb = K * N, sc = M * N;
    CP_TRY(cp_tensor_create(ctx, 1, &sa, "A", &ta));
    st = cp_tensor_create(ctx, 1, &sb, "B", &tb);
    if (st != CP_OK) goto free_a;
    st = cp_tensor_create(ctx, 1, &sc, "C", &tc);
    if (st != CP_OK) goto free_b;
    if ((st = cp_tensor_upload(ctx, &ta, a)) != CP_OK) goto free_c;
    if ((st = cp_tensor_upload(ctx, &tb, b)) != CP_OK) goto free_c;
    if ((st = cp_tensor_fill(ctx, &tc, NAN)) != CP_OK) goto free_c;
    int e = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, M,
                         N, K, 1.0f, ta.buf, 0, K, tb.buf, 0, N, 0.0f, tc.buf, 0, N,
                         cp_context_queue_ptr(ctx), NULL);
    if (e != 0) {
        st = cp_clblast_fail(e, "CLBlastSgemm", __FILE__, __LINE__);
        goto free_c;
    }
    if ((st = cp_tensor_download(ctx, &tc, c)) != CP_OK) goto free_c;
    for (int i = 0; i < M && st == CP_OK; i++)
        for (int j = 0; j < N && st == CP_OK; j++) {
            float ref = 0;
            for (int k = 0; k < K; k++) ref += a[i * K + k] * b[k * N + j];
            if (c[i * N + j] != ref) /* small integers: exact in float */
                st = cp_set_error(CP_ERR_INTERNAL,
                                  "device self-check: CLBlast SGEMM gave %g at (%d,%d), "
                                  "expected %g",
                                  c[i * N + j], i, j, ref);
        }
free_c:
    cp_tensor_free(ctx, &tc);
free_b:
    cp_tensor_free(ctx, &tb);
free_a:
    cp_tensor_free(ctx, &ta);
    return st;
}

cp_status cp_context_self_check(cp_context *ctx)
{
    enum { N = 1000 };
    cp_tensor x, y;
    CP_TRY(cp_tensor_create4(ctx, 1, 1, 1, N, "x", &x));
    cp_status st = cp_tensor_create4(ctx, 1, 1, 1, N, "y", &y);
    float *hx = malloc(N * sizeof *hx), *hy = malloc(N * sizeof *hy);
    if (st == CP_OK && (!hx || !hy))
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "self-check");
    if (st == CP_OK) st = check_axpy(ctx, &x, &y, hx, hy, N);
    free(hx);
    free(hy);
    cp_tensor_free(ctx, &x);
    cp_tensor_free(ctx, &y);
    if (st == CP_OK) st = check_gemm(ctx);
    return st;
}
