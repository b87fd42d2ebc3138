/* Dense layer: x [N, F] (any NCHW tensor flattened per sample), w [out, F],
 * b [out], y [N, out].
 *   y  = x Wᵀ (+ b)           one GEMM into y, then an in-place bias kernel
 *   dx (+)= dy W              one GEMM (beta = accumulate)
 *   dW (+)= dyᵀ x             one GEMM (beta = accumulate)
 *   db (+)= column sums of dy
 * The workspace only holds CLBlast's GEMM temporary (used at offset 0). */
#include "backend/opencl/ops/conv_internal.h"

typedef struct dshape {
    size_t n, f, out;
} dshape;

static cp_status check_dense(const char *op, const cp_tensor *x, const cp_tensor *w,
                             dshape *s)
{
    if (!x || !x->buf) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: x is NULL", op);
    if (!w || !w->buf) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: w is NULL", op);
    s->n = (size_t)x->shape[0];
    s->f = cp_tensor_numel(x) / s->n;
    s->out = (size_t)w->shape[0];
    CP_TRY(cp_ops_expect_numel(op, w, s->out * s->f, "weights [out, F]"));
    CP_TRY(cp_ops_check_fits(op, x, cp_tensor_numel(x)));
    CP_TRY(cp_ops_check_u32(op, cp_tensor_numel(x), "x"));
    CP_TRY(cp_ops_check_u32(op, s->n * s->out, "y"));
    return CP_OK;
}

static cp_status check_out(const char *op, const cp_tensor *t, size_t n, size_t out,
                           const char *what)
{
    CP_TRY(cp_ops_expect_numel(op, t, n * out, what));
    if ((size_t)t->shape[0] != n) {
        char d[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: %s %s must have %zu rows", op, what,
                            cp_tensor_describe(t, d, sizeof d), n);
    }
    return CP_OK;
}

size_t cp_dense_workspace_floats(cp_context *ctx, int64_t n, int64_t in, int64_t out)
{
    if (n < 1 || in < 1 || out < 1) return 0;
    size_t N = (size_t)n, F = (size_t)in, O = (size_t)out;
    size_t t1 = cp_gemm_worst_workspace_floats(ctx, false, true, N, O, F);
    size_t t2 = cp_gemm_worst_workspace_floats(ctx, false, false, N, F, O);
    size_t t3 = cp_gemm_worst_workspace_floats(ctx, true, false, O, F, N);
    size_t t = t1 > t2 ? t1 : t2;
    return t3 > t ? t3 : t;
}

static cp_status gemm_ws(cp_context *ctx, const char *op, const cp_tensor *workspace,
                         const dshape *s, cl_mem *out)
{
    *out = NULL;
    if (!workspace || !workspace->buf) return CP_OK;
    size_t need = cp_dense_workspace_floats(ctx, (int64_t)s->n, (int64_t)s->f,
                                            (int64_t)s->out);
    if (cp_tensor_numel(workspace) < need) {
        char d[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: workspace %s has %zu floats, %zu needed",
                            op, cp_tensor_describe(workspace, d, sizeof d),
                            cp_tensor_numel(workspace), need);
    }
    if (workspace->offset == 0) *out = workspace->buf;
    return CP_OK;
}

cp_status cp_dense_forward(cp_context *ctx, const cp_tensor *x, const cp_tensor *w,
                           const cp_tensor *b, cp_tensor *y, const cp_tensor *workspace)
{
    static const char op[] = "cp_dense_forward";
    dshape s;
    CP_TRY(check_dense(op, x, w, &s));
    if (b) CP_TRY(cp_ops_expect_numel(op, b, s.out, "bias"));
    CP_TRY(check_out(op, y, s.n, s.out, "y"));
    cl_mem ws;
    CP_TRY(gemm_ws(ctx, op, workspace, &s, &ws));
    cp_gemm_args ga = {.trans_a = false, .trans_b = true, .m = s.n, .n = s.out, .k = s.f,
                       .alpha = 1.0f, .beta = 0.0f,
                       .a = x->buf, .a_off = x->offset, .lda = s.f,
                       .b = w->buf, .b_off = w->offset, .ldb = s.f,
                       .c = y->buf, .c_off = y->offset, .ldc = s.out};
    CP_TRY(cp_gemm(ctx, &ga, ws, 0));
    if (b)
        CP_TRY(cp_conv_bias_inplace(ctx, (uint32_t)s.n, (uint32_t)s.out, 1, y->buf, y->offset,
                                    b, false));
    return CP_OK;
}

cp_status cp_dense_backward(cp_context *ctx, const cp_tensor *x, const cp_tensor *w,
                            const cp_tensor *dy, cp_tensor *dx, cp_tensor *dw,
                            cp_tensor *db, bool accumulate, const cp_tensor *workspace)
{
    static const char op[] = "cp_dense_backward";
    dshape s;
    CP_TRY(check_dense(op, x, w, &s));
    CP_TRY(check_out(op, dy, s.n, s.out, "dy"));
    if (dx) CP_TRY(check_out(op, dx, s.n, s.f, "dx"));
    if (dw) CP_TRY(cp_ops_expect_numel(op, dw, s.out * s.f, "dw"));
    if (db) CP_TRY(cp_ops_expect_numel(op, db, s.out, "db"));
    cl_mem ws;
    CP_TRY(gemm_ws(ctx, op, workspace, &s, &ws));
    float beta = accumulate ? 1.0f : 0.0f;
    if (dx) {
        cp_gemm_args ga = {.trans_a = false, .trans_b = false, .m = s.n, .n = s.f, .k = s.out,
                           .alpha = 1.0f, .beta = beta,
                           .a = dy->buf, .a_off = dy->offset, .lda = s.out,
                           .b = w->buf, .b_off = w->offset, .ldb = s.f,
                           .c = dx->buf, .c_off = dx->offset, .ldc = s.f};
        CP_TRY(cp_gemm(ctx, &ga, ws, 0));
    }
    if (dw) {
        cp_gemm_args ga = {.trans_a = true, .trans_b = false, .m = s.out, .n = s.f, .k = s.n,
                           .alpha = 1.0f, .beta = beta,
                           .a = dy->buf, .a_off = dy->offset, .lda = s.out,
                           .b = x->buf, .b_off = x->offset, .ldb = s.f,
                           .c = dw->buf, .c_off = dw->offset, .ldc = s.f};
        CP_TRY(cp_gemm(ctx, &ga, ws, 0));
    }
    if (db)
        CP_TRY(cp_conv_bias_grad(ctx, (uint32_t)s.n, (uint32_t)s.out, 1, dy, db, accumulate));
    return CP_OK;
}
