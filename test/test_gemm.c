/* cp_gemm (CLBlast, row-major) against a double-precision CPU reference:
 * odd m, n, k, all four transpose combinations, non-zero offsets, padded
 * leading dimensions, beta accumulation, with and without a workspace, and
 * C poisoned with NaN when beta = 0 (every element must be overwritten). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "clinpaint/ops.h"
#include "clinpaint/tune.h"
#include "backend/opencl/ops/conv_internal.h"
#include "util/op_test_util.h"
#include "util/test_util.h"

/* C = alpha op(A) op(B) + beta C, all row-major with leading dimensions. */
static void ref_gemm(const cp_gemm_args *g, const float *a, const float *b, double *c)
{
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < g->n; j++) {
            double s = 0;
            for (size_t l = 0; l < g->k; l++) {
                double av = g->trans_a ? a[g->a_off + l * g->lda + i] : a[g->a_off + i * g->lda + l];
                double bv = g->trans_b ? b[g->b_off + j * g->ldb + l] : b[g->b_off + l * g->ldb + j];
                s += av * bv;
            }
            double *cv = &c[g->c_off + i * g->ldc + j];
            *cv = g->alpha * s + (g->beta != 0.0f ? g->beta * *cv : 0.0);
        }
}

/* One case; `poison` fills C with NaN (only valid with beta = 0). */
static void run_case_ws(bool ta, bool tb, size_t m, size_t n, size_t k, size_t off, size_t pad,
                        float alpha, float beta, bool use_ws, size_t ws_off, uint64_t seed)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, seed, 1);
    cp_gemm_args g = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k,
                      .alpha = alpha, .beta = beta};
    g.lda = (ta ? m : k) + pad;
    g.ldb = (tb ? k : n) + pad;
    g.ldc = n + pad;
    g.a_off = off;
    g.b_off = 2 * off + 1;
    g.c_off = 3 * off;
    size_t na = g.a_off + (ta ? k : m) * g.lda, nb = g.b_off + (tb ? n : k) * g.ldb,
           nc = g.c_off + m * g.ldc;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    double *want = malloc(nc * sizeof *want);
    ck_assert(a && b && c && want);
    tu_fill_uniform(&r, a, na, -1, 1);
    tu_fill_uniform(&r, b, nb, -1, 1);
    if (beta == 0.0f) {
        for (size_t i = 0; i < nc; i++) c[i] = NAN;
    } else {
        tu_fill_uniform(&r, c, nc, -1, 1);
    }
    for (size_t i = 0; i < nc; i++) want[i] = c[i];
    ref_gemm(&g, a, b, want);

    cp_tensor ta_ = tu_tensor_from(a, 1, 1, 1, (int64_t)na, "A");
    cp_tensor tb_ = tu_tensor_from(b, 1, 1, 1, (int64_t)nb, "B");
    cp_tensor tc_ = tu_tensor_from(c, 1, 1, 1, (int64_t)nc, "C");
    g.a = ta_.buf;
    g.b = tb_.buf;
    g.c = tc_.buf;
    cp_tensor ws = {0};
    if (use_ws) {
        size_t wf = cp_gemm_workspace_floats(ctx, &g);
        ws = tu_tensor_poisoned(1, 1, 1, (int64_t)(wf + ws_off + 1), "ws");
        TU_OK(cp_gemm(ctx, &g, ws.buf, ws_off));
    } else {
        TU_OK(cp_gemm(ctx, &g, NULL, 0));
    }
    float *got = tu_download(&tc_);
    /* Only the m×n block is compared: padding columns and the leading offset
     * hold NaN (beta 0) or their old values, which want[] keeps too; NaN
     * there would fail, so compare the block only. */
    for (size_t i = 0; i < m; i++) {
        char what[160];
        snprintf(what, sizeof what, "gemm ta %d tb %d %zux%zux%zu off %zu pad %zu beta %g ws %d row %zu",
                 ta, tb, m, n, k, off, pad, (double)beta, use_ws, i);
        /* float32 dot products of length k with |terms| <= 1: error ~ k·2^-24. */
        tu_assert_close(what, got + g.c_off + i * g.ldc, want + g.c_off + i * g.ldc, n,
                        1e-6 * (double)k + 1e-6, 1e-5);
    }
    /* The padding between rows must be untouched. */
    for (size_t i = 0; i + 1 < m && pad; i++)
        for (size_t j = n; j < g.ldc; j++) {
            float v = got[g.c_off + i * g.ldc + j], o = c[g.c_off + i * g.ldc + j];
            ck_assert_msg((isnan(v) && isnan(o)) || v == o, "gemm wrote outside C");
        }
    free(got);
    free(a);
    free(b);
    free(c);
    free(want);
    cp_tensor_free(ctx, &ta_);
    cp_tensor_free(ctx, &tb_);
    cp_tensor_free(ctx, &tc_);
    cp_tensor_free(ctx, &ws);
}

static void run_case(bool ta, bool tb, size_t m, size_t n, size_t k, size_t off, size_t pad,
                     float alpha, float beta, bool use_ws, uint64_t seed)
{
    run_case_ws(ta, tb, m, n, k, off, pad, alpha, beta, use_ws, 0, seed);
}

/* CLBlast's indirect GEMM path with our workspace (tu_set_clblast_min_indirect). */
START_TEST(test_gemm_indirect)
{
    /* CLBlast's own paths: route every GEMM to CLBlast. */
    cp_gemm_route clb = {.backend = CP_GEMM_CLBLAST};
    cp_gemm_force_route(tu_ctx(), &clb);
    size_t saved = tu_clblast_min_indirect();
    tu_set_clblast_min_indirect(8);
    ck_assert_uint_eq(tu_clblast_min_indirect(), 8);
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        run_case(ta, tb, 37, 29, 23, 5, 3, 1.0f, 0.0f, true, 70 + (uint64_t)t);
        run_case(ta, tb, 37, 29, 23, 0, 0, 1.0f, 1.0f, true, 80 + (uint64_t)t);
        run_case(ta, tb, 19, 33, 41, 0, 0, 1.0f, 0.0f, false, 90 + (uint64_t)t);
        /* A workspace at a non-zero offset: CLBlast's temporary has no
         * offset argument, so cp_gemm falls back to CLBlast's allocation. */
        run_case_ws(ta, tb, 19, 33, 41, 2, 1, 1.0f, 0.5f, true, 7, 100 + (uint64_t)t);
    }
    tu_set_clblast_min_indirect(saved);
    ck_assert_uint_eq(tu_clblast_min_indirect(), saved);
    cp_gemm_force_route(tu_ctx(), NULL);
}
END_TEST

START_TEST(test_gemm_transposes)
{
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        run_case(ta, tb, 37, 29, 23, 0, 0, 1.0f, 0.0f, false, 10 + (uint64_t)t);
        run_case(ta, tb, 37, 29, 23, 5, 3, 1.0f, 0.0f, true, 20 + (uint64_t)t);
        run_case(ta, tb, 1, 7, 3, 2, 1, 0.5f, 0.0f, true, 30 + (uint64_t)t);
    }
}
END_TEST

START_TEST(test_gemm_accumulate)
{
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        run_case(ta, tb, 19, 33, 41, 7, 2, 1.0f, 1.0f, true, 40 + (uint64_t)t);
        run_case(ta, tb, 19, 33, 41, 0, 0, -0.5f, 0.25f, false, 50 + (uint64_t)t);
    }
}
END_TEST

/* Large enough for CLBlast's indirect kernel (pads into the temporary). */
START_TEST(test_gemm_large)
{
    run_case(false, false, 129, 257, 131, 3, 1, 1.0f, 0.0f, true, 60);
    run_case(true, false, 129, 257, 131, 0, 0, 1.0f, 0.0f, true, 61);
    run_case(false, true, 129, 257, 131, 3, 0, 1.0f, 1.0f, false, 62);
    run_case(true, true, 129, 257, 131, 1, 1, 1.0f, 0.0f, true, 63);
}
END_TEST

/* Every backend and kernel variant of cp_gemm (clinpaint/tune.h), forced:
 * odd sizes, all transposes, offsets, padding, beta accumulate, sizes that
 * are and are not multiples of the tiles. */
static const cp_gemm_route routes[] = {
    {.backend = CP_GEMM_CLBLAST},
    {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_ROWVEC, .tm = 6, .tn = 2, .vw = 16, .lx = 1, .ly = 1},
    {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_ROWVEC, .tm = 1, .tn = 1, .vw = 1, .lx = 1, .ly = 1},
    {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_ROWVEC, .tm = 3, .tn = 3, .vw = 4, .lx = 2, .ly = 2},
    {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_ROWVEC, .tm = 2, .tn = 1, .vw = 8, .lx = 4, .ly = 1},
    {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_DOT, .tm = 4, .tn = 2, .vw = 16, .lx = 1, .ly = 1},
    {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_DOT, .tm = 3, .tn = 1, .vw = 4, .lx = 2, .ly = 3},
    {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_LOCAL, .tm = 4, .tn = 4, .vw = 1, .lx = 4, .ly = 4, .tk = 8},
    {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_LOCAL, .tm = 1, .tn = 2, .vw = 1, .lx = 8, .ly = 2, .tk = 5},
};

START_TEST(test_gemm_routes)
{
    const cp_gemm_route *r = &routes[_i];
    cp_gemm_force_route(tu_ctx(), r);
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        uint64_t seed = 1000 + 10 * (uint64_t)_i + (uint64_t)t;
        run_case(ta, tb, 37, 29, 23, 5, 3, 1.0f, 0.0f, false, seed);
        run_case(ta, tb, 1, 7, 3, 2, 1, 0.5f, 0.0f, false, seed + 1);
        run_case(ta, tb, 19, 33, 41, 7, 2, 1.0f, 1.0f, true, seed + 2);
        run_case(ta, tb, 19, 33, 41, 0, 0, -0.5f, 0.25f, false, seed + 3);
        run_case(ta, tb, 64, 96, 33, 0, 0, 1.0f, 0.0f, false, seed + 4);
        run_case(ta, tb, 33, 130, 77, 1, 5, 1.0f, 1.0f, false, seed + 5);
    }
    cp_gemm_force_route(tu_ctx(), NULL);
}
END_TEST

/* The default route of this device, and the forced ones, agree with each
 * other on a model-like shape (conv3 16->32 at 32x32, batch 1) and on 1024-
 * class sizes' edges. */
START_TEST(test_gemm_default_route)
{
    /* Untuned: clear any table a tuning file in the cache folder installed. */
    TU_OK(cp_gemm_set_routes(tu_ctx(), NULL, NULL, 0));
    cp_gemm_args g = {.m = 32, .n = 1024, .k = 144, .lda = 144, .ldb = 1024, .ldc = 1024};
    cp_gemm_route r = cp_gemm_route_for(tu_ctx(), &g);
    if (cp_context_device(tu_ctx())->type & CL_DEVICE_TYPE_CPU)
        ck_assert_int_eq(r.backend, CP_GEMM_OWN);
    else
        ck_assert_int_eq(r.backend, CP_GEMM_CLBLAST);
    run_case(false, false, 32, 1024, 144, 0, 0, 1.0f, 0.0f, false, 2000);
    run_case(true, false, 144, 1024, 32, 0, 0, 1.0f, 0.0f, false, 2001);
    run_case(false, true, 32, 144, 1024, 0, 0, 1.0f, 1.0f, false, 2002);
    run_case(true, true, 31, 45, 130, 0, 0, 1.0f, 0.0f, false, 2003);
}
END_TEST

START_TEST(test_gemm_bad_args)
{
    cp_gemm_args g = {.m = 4, .n = 4, .k = 4, .lda = 3, .ldb = 4, .ldc = 4};
    cp_tensor t = tu_tensor_poisoned(1, 1, 1, 64, "t");
    g.a = g.b = g.c = t.buf;
    ck_assert_int_eq(cp_gemm(tu_ctx(), &g, NULL, 0), CP_ERR_INVALID_ARGUMENT);
    g.lda = 4;
    g.k = 0;
    ck_assert_int_eq(cp_gemm(tu_ctx(), &g, NULL, 0), CP_ERR_INVALID_ARGUMENT);
    cp_tensor_free(tu_ctx(), &t);
}
END_TEST

/* ---- devices with small limits (issue 13): routes that do not fit are
 * skipped for a work-group-of-1 fallback, with correct results ---- */

/* CLINPAINT_TEST_SMALL=1: smaller shapes, for simulators (oclgrind). */
static bool small_sizes(void)
{
    const char *v = getenv("CLINPAINT_TEST_SMALL");
    return v && *v && strcmp(v, "0") != 0;
}

/* Every transpose case at model-like and odd sizes. */
static void all_transposes(uint64_t seed)
{
    bool small = small_sizes();
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        run_case(ta, tb, 37, 29, 23, 5, 3, 1.0f, 0.0f, false, seed + (uint64_t)t);
        if (small) continue;
        run_case(ta, tb, 32, 130, 144, 0, 0, 1.0f, 1.0f, false, seed + 10 + (uint64_t)t);
        run_case(ta, tb, 8, 16, 1100, 0, 0, 1.0f, 0.0f, false, seed + 20 + (uint64_t)t);
    }
}

/* y = x w^T + b; dx = dy w, dw = dy^T x, db = column sums of dy. */
static void dense_case(int n, int in, int out, uint64_t seed)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, seed, 1);
    size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)out * 4),
          *dy = malloc(ny * 4);
    double *y = malloc(ny * 8), *dx = malloc(nx * 8), *dw = malloc(nw * 8),
           *db = malloc((size_t)out * 8);
    ck_assert(x && w && b && dy && y && dx && dw && db);
    tu_fill_uniform(&r, x, nx, -1, 1);
    tu_fill_uniform(&r, w, nw, -1, 1);
    tu_fill_uniform(&r, b, (size_t)out, -1, 1);
    tu_fill_uniform(&r, dy, ny, -1, 1);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int f = 0; f < in; f++) s += (double)x[i * in + f] * w[o * in + f];
            y[i * out + o] = s;
        }
    for (int i = 0; i < n; i++)
        for (int f = 0; f < in; f++) {
            double s = 0;
            for (int o = 0; o < out; o++) s += (double)dy[i * out + o] * w[o * in + f];
            dx[i * in + f] = s;
        }
    for (int o = 0; o < out; o++) {
        double sb = 0;
        for (int i = 0; i < n; i++) sb += dy[i * out + o];
        db[o] = sb;
        for (int f = 0; f < in; f++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += (double)dy[i * out + o] * x[i * in + f];
            dw[o * in + f] = s;
        }
    }
    cp_tensor tx = tu_tensor_from(x, n, in, 1, 1, "x"), tw = tu_tensor_from(w, out, in, 1, 1, "w");
    cp_tensor tb = tu_tensor_from(b, out, 1, 1, 1, "b"), tdy = tu_tensor_from(dy, n, out, 1, 1, "dy");
    cp_tensor ty = tu_tensor_poisoned(n, out, 1, 1, "y"), tdx = tu_tensor_poisoned(n, in, 1, 1, "dx");
    cp_tensor tdw = tu_tensor_poisoned(out, in, 1, 1, "dw"), tdb = tu_tensor_poisoned(out, 1, 1, 1, "db");
    size_t wf = cp_dense_workspace_floats(ctx, n, in, out);
    cp_tensor ws = tu_tensor_poisoned(1, 1, 1, (int64_t)(wf + 1), "ws");
    TU_OK(cp_dense_forward(ctx, &tx, &tw, &tb, &ty, &ws));
    TU_OK(cp_dense_backward(ctx, &tx, &tw, &tdy, &tdx, &tdw, &tdb, false, &ws));
    float *gy = tu_download(&ty), *gdx = tu_download(&tdx), *gdw = tu_download(&tdw),
          *gdb = tu_download(&tdb);
    tu_assert_close("dense y", gy, y, ny, 1e-5 * in, 1e-5);
    tu_assert_close("dense dx", gdx, dx, nx, 1e-5 * out, 1e-5);
    tu_assert_close("dense dw", gdw, dw, nw, 1e-5 * n, 1e-5);
    tu_assert_close("dense db", gdb, db, (size_t)out, 1e-5 * n, 1e-5);
    free(gy), free(gdx), free(gdw), free(gdb);
    free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db);
    cp_tensor *ts[] = {&tx, &tw, &tb, &tdy, &ty, &tdx, &tdw, &tdb, &ws};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) cp_tensor_free(ctx, ts[i]);
}

/* Apple's CPU device runs work-groups of 1: the untuned CPU defaults
 * (gemm_dot in groups up to 4x4) and every forced route must still work,
 * and so must a dense layer (the model's first one stopped training). */
START_TEST(test_gemm_wg_limit_1)
{
    cp_context *ctx = tu_ctx();
    TU_OK(cp_gemm_set_routes(ctx, NULL, NULL, 0));
    cp_context_set_max_work_group_size(ctx, 1);
    all_transposes(3000);
    dense_case(8, small_sizes() ? 256 : 4096, 1, 3100); /* D's last layer: one logit */
    dense_case(5, 300, 17, 3101);
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        cp_gemm_force_route(ctx, &routes[i]);
        run_case(false, true, 33, 21, 70, 1, 2, 1.0f, 0.5f, false, 3200 + i);
        run_case(true, false, 19, 33, 41, 0, 0, 1.0f, 0.0f, false, 3300 + i);
    }
    cp_gemm_force_route(ctx, NULL);
    cp_context_set_max_work_group_size(ctx, 0);
}
END_TEST

/* rusticl allows 32 work items per kernel on a device reporting more: a
 * limit below the device maximum, as the context cap. A 4x4 group fits
 * under 16 and runs as asked; 8x8 does not and falls back. */
START_TEST(test_gemm_kernel_limit_below_device)
{
    cp_context *ctx = tu_ctx();
    cp_context_set_max_work_group_size(ctx, 16);
    cp_gemm_route fits4 = {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_LOCAL, .tm = 2, .tn = 2,
                           .vw = 1, .lx = 4, .ly = 4, .tk = 8};
    cp_gemm_route big8 = fits4;
    big8.lx = big8.ly = 8;
    cp_gemm_args g = {.m = 37, .n = 29, .k = 23};
    bool fits;
    TU_OK(cp_gemm_route_fits(ctx, &g, &fits4, &fits));
    ck_assert(fits);
    TU_OK(cp_gemm_route_fits(ctx, &g, &big8, &fits));
    ck_assert(!fits);
    cp_gemm_force_route(ctx, &big8);
    all_transposes(4000);
    dense_case(8, small_sizes() ? 64 : 512, small_sizes() ? 16 : 64, 4100);
    cp_gemm_force_route(ctx, NULL);
    cp_context_set_max_work_group_size(ctx, 0);
}
END_TEST

/* A route bigger than the device's own work-group maximum (a tuning file
 * from another device) was refused: "bad own-kernel parameters". */
START_TEST(test_gemm_route_beyond_device)
{
    cp_context *ctx = tu_ctx();
    const cp_device_info *d = cp_context_device(ctx);
    int lx = (int)(d->max_work_item_sizes[0] < 4096 ? d->max_work_item_sizes[0] : 4096);
    int ly = (int)(d->max_work_group_size / (size_t)lx + 1);
    cp_gemm_route r = {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_ROWVEC, .tm = 1, .tn = 1,
                       .vw = 1, .lx = lx, .ly = ly};
    cp_gemm_force_route(ctx, &r);
    run_case(false, false, 37, 29, 23, 5, 3, 1.0f, 0.0f, false, 5000);
    run_case(false, true, 9, 70, 33, 0, 0, 1.0f, 1.0f, false, 5001);
    cp_gemm_force_route(ctx, NULL);
}
END_TEST

/* gemm_local's tiles beyond the local memory (a tuning file may ask for
 * more than a device's 32 KiB): skipped, falls back, correct. */
START_TEST(test_gemm_local_mem_limit)
{
    cp_context *ctx = tu_ctx();
    /* 64 x (4·8 + 1) floats for A and for B: 16.9 KB, in groups of 16 (below
     * rusticl's per-kernel 32, within its 32 KiB of local memory). */
    cp_gemm_route r = {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_LOCAL, .tm = 8, .tn = 8,
                       .vw = 1, .lx = 4, .ly = 4, .tk = 64};
    cp_gemm_args g = {.m = 37, .n = 29, .k = 23};
    bool fits;
    TU_OK(cp_gemm_route_fits(ctx, &g, &r, &fits));
    ck_assert(fits);
    cp_context_set_max_local_mem_size(ctx, 16384);
    ck_assert_uint_eq(cp_context_local_mem_size(ctx), 16384);
    TU_OK(cp_gemm_route_fits(ctx, &g, &r, &fits));
    ck_assert(!fits);
    cp_gemm_force_route(ctx, &r);
    all_transposes(6000);
    cp_context_set_max_local_mem_size(ctx, 0);
    /* Beyond the real device's local memory, no cap needed: B's tile of
     * 64 x (512·16 + 1) floats needs 2 MiB, more than devices have. */
    cp_gemm_route huge = {.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_LOCAL, .tm = 16, .tn = 16,
                          .vw = 1, .lx = 512, .ly = 1, .tk = 64};
    if ((size_t)huge.lx <= cp_context_device(ctx)->max_work_group_size) {
        cp_gemm_force_route(ctx, &huge);
        run_case(false, false, 37, 29, 23, 5, 3, 1.0f, 0.0f, false, 6100);
    }
    cp_gemm_force_route(ctx, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_gemm_transposes);
    tcase_add_test(tc, test_gemm_accumulate);
    tcase_add_test(tc, test_gemm_large);
    tcase_add_test(tc, test_gemm_bad_args);
    tcase_add_test(tc, test_gemm_indirect);
    tcase_add_test(tc, test_gemm_default_route);
    tcase_add_loop_test(tc, test_gemm_routes, 0, (int)(sizeof routes / sizeof *routes));
    suite_add_tcase(s, tc);
    /* Devices with small limits (issue 13): CK_RUN_CASE=portability. */
    TCase *tp = tcase_create("portability");
    tcase_set_timeout(tp, 600);
    tcase_add_test(tp, test_gemm_wg_limit_1);
    tcase_add_test(tp, test_gemm_kernel_limit_below_device);
    tcase_add_test(tp, test_gemm_route_beyond_device);
    tcase_add_test(tp, test_gemm_local_mem_limit);
    suite_add_tcase(s, tp);
    return tu_run_suite(s);
}
