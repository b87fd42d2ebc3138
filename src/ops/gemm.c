/* GEMM through CLBlast (row-major), with a caller-provided temporary buffer.
 *
 * CLBlast's indirect GEMM pads/transposes A, B and C into a temporary buffer.
 * Without one it allocates (clCreateBuffer) on every call; with
 * CLBlastSgemmWithTempBuffer the caller's buffer is used instead. CLBlast's
 * temporary has no offset argument: it always starts at element 0 of the
 * cl_mem. So a workspace is only used when workspace_off == 0; otherwise we
 * fall back to CLBlast's own allocation (correct, but allocates while
 * running; see notes/ops.md). */
#include "ops/conv_internal.h"

#include <clblast_c.h>

static CLBlastTranspose tr(bool t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }

static cp_status check_args(const cp_gemm_args *g)
{
    if (!g || !g->a || !g->b || !g->c)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_gemm: NULL matrix");
    if (g->k == 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_gemm: k must be > 0");
    /* Stored row-major shapes: A is m×k (k×m if trans_a), B k×n (n×k). */
    size_t a_cols = g->trans_a ? g->m : g->k, b_cols = g->trans_b ? g->k : g->n;
    if (g->lda < a_cols || g->ldb < b_cols || g->ldc < g->n)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_gemm: leading dimensions too small (m %zu n %zu k %zu, "
                            "lda %zu ldb %zu ldc %zu, trans_a %d trans_b %d)",
                            g->m, g->n, g->k, g->lda, g->ldb, g->ldc, g->trans_a,
                            g->trans_b);
    return CP_OK;
}

size_t cp_gemm_workspace_floats(cp_context *ctx, const cp_gemm_args *g)
{
    if (!g || g->m == 0 || g->n == 0 || g->k == 0) return 0;
    size_t bytes = 0;
    int e = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, tr(g->trans_a), tr(g->trans_b),
                                       g->m, g->n, g->k, g->a_off, g->lda, g->b_off, g->ldb,
                                       g->c_off, g->ldc, cp_context_queue_ptr(ctx), &bytes);
    if (e != 0) return 0; /* CLBlast then allocates its own temporary */
    return (bytes + sizeof(float) - 1) / sizeof(float);
}

size_t cp_gemm_worst_workspace_floats(cp_context *ctx, bool ta, bool tb, size_t m, size_t n,
                                      size_t k)
{
    /* Non-zero offsets force a temporary copy of every matrix: the largest
     * size CLBlast can ask for, whatever the actual offsets turn out to be. */
    cp_gemm_args g = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k,
                      .a = NULL, .a_off = 1, .lda = ta ? m : k,
                      .b = NULL, .b_off = 1, .ldb = tb ? k : n,
                      .c = NULL, .c_off = 1, .ldc = n};
    return cp_gemm_workspace_floats(ctx, &g);
}

cp_status cp_gemm(cp_context *ctx, const cp_gemm_args *g, cl_mem workspace,
                  size_t workspace_off)
{
    CP_TRY(check_args(g));
    if (g->m == 0 || g->n == 0) return CP_OK;
    if (workspace && workspace_off == 0) {
        CP_CLBLAST_CHECK(CLBlastSgemmWithTempBuffer(
            CLBlastLayoutRowMajor, tr(g->trans_a), tr(g->trans_b), g->m, g->n, g->k,
            g->alpha, g->a, g->a_off, g->lda, g->b, g->b_off, g->ldb, g->beta, g->c,
            g->c_off, g->ldc, cp_context_queue_ptr(ctx), NULL, workspace));
    } else {
        CP_CLBLAST_CHECK(CLBlastSgemm(CLBlastLayoutRowMajor, tr(g->trans_a), tr(g->trans_b),
                                      g->m, g->n, g->k, g->alpha, g->a, g->a_off, g->lda,
                                      g->b, g->b_off, g->ldb, g->beta, g->c, g->c_off,
                                      g->ldc, cp_context_queue_ptr(ctx), NULL));
    }
    return CP_OK;
}
