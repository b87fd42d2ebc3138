/* Helpers shared by the GEMM-based operator tests (conv, transposed conv,
 * dense, gemm). */
#include "util/op_test_util.h"

#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/gradcheck.h"
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

bool tu_set_conv_route(int i)
{
    static const char *const routes[TU_CONV_ROUTES] = {NULL, "gemm", "direct", "igemm"};
    static const cp_conv_route route[TU_CONV_ROUTES] = {CP_CONV_AUTO, CP_CONV_GEMM,
                                                        CP_CONV_DIRECT, CP_CONV_IGEMM};
    cp_context_set_conv_route(tu_ctx(), i >= 0 && i < TU_CONV_ROUTES ? route[i] : CP_CONV_AUTO);
    const char *only = getenv("CLINPAINT_TEST_CONV_ROUTES");
    if (!only || !*only) return true;
    const char *name = i >= 0 && i < TU_CONV_ROUTES && routes[i] ? routes[i] : "default";
    size_t n = strlen(name);
    for (const char *p = only; (p = strstr(p, name)) != NULL; p += n)
        if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return true;
    return false;
}

/* ---- finite-difference check of a convolution or transposed convolution ---- */

typedef struct gc_user {
    const cp_conv_params *p;
    bool transposed;
    cp_tensor tx, tw, tb, ty, ws;
    int which; /* 0: x, 1: w, 2: b */
} gc_user;

static void gc_forward(void *user, const float *v, float *y)
{
    gc_user *u = user;
    cp_tensor *t = u->which == 0 ? &u->tx : u->which == 1 ? &u->tw : &u->tb;
    TU_OK(cp_tensor_upload(tu_ctx(), t, v));
    if (u->transposed)
        TU_OK(cp_conv_transpose2d_forward(tu_ctx(), u->p, &u->tx, &u->tw, &u->tb, &u->ty,
                                          &u->ws));
    else
        TU_OK(cp_conv2d_forward(tu_ctx(), u->p, &u->tx, &u->tw, &u->tb, &u->ty, &u->ws));
    TU_OK(cp_tensor_download(tu_ctx(), &u->ty, y));
}

void tu_conv_gradcheck(const char *name, const cp_conv_params *p, bool transposed, int n,
                       int ci, int h, int w, int co, uint64_t seed)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, seed, 3);
    int64_t ho, wo;
    ck_assert(transposed ? cp_conv_transpose_out_size(p, h, w, &ho, &wo)
                         : cp_conv_out_size(p, h, w, &ho, &wo));
    /* weights [C_out, C_in, kh, kw], transposed [C_in, C_out, kh, kw] */
    int w0 = transposed ? ci : co, w1 = transposed ? co : ci;
    size_t nx = (size_t)n * ci * h * w, nw = (size_t)co * ci * p->kh * p->kw, nb = (size_t)co;
    size_t ny = (size_t)n * co * (size_t)(ho * wo);
    float *x = tu_rand_array(&r, nx), *wt = tu_rand_array(&r, nw), *b = tu_rand_array(&r, nb);
    float *rr = tu_rand_array(&r, ny);
    gc_user u = {.p = p, .transposed = transposed};
    size_t wsf = transposed ? cp_conv_transpose2d_workspace_floats(ctx, p, n, ci, h, w, co)
                            : cp_conv2d_workspace_floats(ctx, p, n, ci, h, w, co);
    u.tx = tu_tensor_at(x, n, ci, h, w, 1, "x");
    u.tw = tu_tensor_at(wt, w0, w1, p->kh, p->kw, 2, "w");
    u.tb = tu_tensor_at(b, co, 1, 1, 1, 3, "b");
    u.ty = tu_tensor_at(NULL, n, co, ho, wo, 4, "y");
    u.ws = tu_tensor_at(NULL, 1, 1, 1, (int64_t)wsf, 0, "ws");
    cp_tensor tr = tu_tensor_at(rr, n, co, ho, wo, 0, "r");
    cp_tensor tdx = tu_tensor_at(NULL, n, ci, h, w, 0, "dx");
    cp_tensor tdw = tu_tensor_at(NULL, w0, w1, p->kh, p->kw, 0, "dw");
    cp_tensor tdb = tu_tensor_at(NULL, co, 1, 1, 1, 0, "db");
    if (transposed)
        TU_OK(cp_conv_transpose2d_backward(ctx, p, &u.tx, &u.tw, &tr, &tdx, &tdw, &tdb, false,
                                           &u.ws));
    else
        TU_OK(cp_conv2d_backward(ctx, p, &u.tx, &u.tw, &tr, &tdx, &tdw, &tdb, false, &u.ws));
    float *gx = tu_download(&tdx), *gw = tu_download(&tdw), *gb = tu_download(&tdb);

    /* Step and tolerance. The op is linear in each of x, w, b, so a central
     * difference has no truncation error: only float32 rounding of the
     * forward counts. Each y_i carries a rounding error of about
     * sqrt(K)·2^-24·|y_i| (K <= 36 terms in the tests' shapes), so
     * L = Σ r_i·y_i is off by at most ~1e-7·Σ|r_i·y_i| (r, x, w in [-1, 1]);
     * divided by the step 2h that is the absolute tolerance, with a 10×
     * margin. A large h = 0.25 keeps it small; rtol 1e-3 covers the float32
     * analytic gradients. */
    double h_step = 0.25;
    float *y = malloc(ny * sizeof *y);
    gc_forward(&u, x, y); /* which = 0 uploads x unchanged */
    double sum_ry = 0;
    for (size_t i = 0; i < ny; i++) sum_ry += fabs((double)rr[i] * y[i]);
    free(y);
    tu_gradcheck_opts o = {.h = h_step, .atol = 10 * 1e-7 * sum_ry / (2 * h_step),
                           .rtol = 1e-3, .checks = 400};
    char what[200];
    snprintf(what, sizeof what, "%s dx", name);
    u.which = 0;
    tu_gradcheck(what, gc_forward, &u, x, nx, ny, rr, gx, &o, &r);
    TU_OK(cp_tensor_upload(ctx, &u.tx, x));
    snprintf(what, sizeof what, "%s dw", name);
    u.which = 1;
    tu_gradcheck(what, gc_forward, &u, wt, nw, ny, rr, gw, &o, &r);
    TU_OK(cp_tensor_upload(ctx, &u.tw, wt));
    snprintf(what, sizeof what, "%s db", name);
    u.which = 2;
    tu_gradcheck(what, gc_forward, &u, b, nb, ny, rr, gb, &o, &r);

    free(x); free(wt); free(b); free(rr); free(gx); free(gw); free(gb);
    cp_tensor *ts[] = {&u.tx, &u.tw, &u.tb, &u.ty, &u.ws, &tr, &tdx, &tdw, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) cp_tensor_free(ctx, ts[i]);
}
