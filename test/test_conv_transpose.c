/* cp_conv_transpose2d_forward / _backward (weights [C_in, C_out, kh, kw])
 * against plain double-precision CPU loops written as a scatter (the
 * definition of a transposed convolution), so they share nothing with the
 * device's gather formulation. Shapes: MODEL.md's up2 at the `tiny` preset's
 * decoder sizes (on every route: tu_set_conv_route), odd sizes, batch 1, C not a multiple of 4, and general
 * kernels/strides/paddings including stride > kernel (output positions no
 * input reaches must still be written: bias only). Outputs NaN-poisoned,
 * non-zero offsets, accumulate = true, and finite-difference checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "clinpaint/ops.h"
#include "backend/opencl/ops/conv_fused.h"
#include "backend/opencl/ops/conv_igemm.h"
#include "util/op_test_util.h"
#include "util/test_util.h"

/* ------------------------------------------------------------ helpers */

/* ------------------------------------------------------ CPU reference */

typedef struct shape {
    int n, ci, h, w, co, ho, wo;
} shape;

/* y[n, co, iy*sh - pt + i, ix*sw - pl + j] += x[n, ci, iy, ix] w[ci, co, i, j];
 * and the backward of the same scatter: dx, dw, db added to what they hold. */
static void ref_forward(const cp_conv_params *p, const shape *s, const float *x,
                        const float *w, const float *b, double *y)
{
    size_t ny = (size_t)s->n * s->co * s->ho * s->wo;
    for (size_t i = 0; i < ny; i++) y[i] = b ? b[(i / ((size_t)s->ho * s->wo)) % s->co] : 0.0;
    for (int n = 0; n < s->n; n++)
        for (int ci = 0; ci < s->ci; ci++)
            for (int iy = 0; iy < s->h; iy++)
                for (int ix = 0; ix < s->w; ix++) {
                    double xv = x[((n * s->ci + ci) * s->h + iy) * s->w + ix];
                    for (int co = 0; co < s->co; co++)
                        for (int i = 0; i < p->kh; i++) {
                            int oy = iy * p->stride_h - p->pad_top + i;
                            if (oy < 0 || oy >= s->ho) continue;
                            for (int j = 0; j < p->kw; j++) {
                                int ox = ix * p->stride_w - p->pad_left + j;
                                if (ox < 0 || ox >= s->wo) continue;
                                y[((n * s->co + co) * s->ho + oy) * s->wo + ox] +=
                                    xv * w[((ci * s->co + co) * p->kh + i) * p->kw + j];
                            }
                        }
                }
}

static void ref_backward(const cp_conv_params *p, const shape *s, const float *x,
                         const float *w, const float *dy, double *dx, double *dw, double *db)
{
    size_t ny = (size_t)s->n * s->co * s->ho * s->wo;
    for (size_t i = 0; i < ny; i++) db[(i / ((size_t)s->ho * s->wo)) % s->co] += dy[i];
    for (int n = 0; n < s->n; n++)
        for (int ci = 0; ci < s->ci; ci++)
            for (int iy = 0; iy < s->h; iy++)
                for (int ix = 0; ix < s->w; ix++) {
                    size_t xi = (size_t)((n * s->ci + ci) * s->h + iy) * s->w + ix;
                    for (int co = 0; co < s->co; co++)
                        for (int i = 0; i < p->kh; i++) {
                            int oy = iy * p->stride_h - p->pad_top + i;
                            if (oy < 0 || oy >= s->ho) continue;
                            for (int j = 0; j < p->kw; j++) {
                                int ox = ix * p->stride_w - p->pad_left + j;
                                if (ox < 0 || ox >= s->wo) continue;
                                double g = dy[((n * s->co + co) * s->ho + oy) * s->wo + ox];
                                size_t wi = (size_t)((ci * s->co + co) * p->kh + i) * p->kw + j;
                                dx[xi] += g * w[wi];
                                dw[wi] += g * x[xi];
                            }
                        }
                }
}

/* ----------------------------------------------------------- one case */

typedef enum { WS_EXACT, WS_OFFSET, WS_NONE } ws_mode;

typedef struct tc_case {
    const char *name;
    cp_conv_params p;
    int n, ci, h, w, co;
    size_t off;
    ws_mode ws;
    bool bias;
} tc_case;

static cp_tensor make_ws(ws_mode m, size_t floats)
{
    if (m == WS_EXACT) return tu_tensor_at(NULL, 1, 1, 1, (int64_t)floats, 0, "ws");
    if (m == WS_OFFSET) return tu_tensor_at(NULL, 1, 1, 1, (int64_t)floats, 41, "ws");
    cp_tensor t;
    memset(&t, 0, sizeof t);
    return t;
}

static void run_case(const tc_case *c, uint64_t seed)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, seed, 7);
    shape s = {c->n, c->ci, c->h, c->w, c->co, 0, 0};
    int64_t ho, wo;
    ck_assert(cp_conv_transpose_out_size(&c->p, c->h, c->w, &ho, &wo));
    s.ho = (int)ho;
    s.wo = (int)wo;
    size_t nx = (size_t)c->n * c->ci * c->h * c->w;
    size_t nw = (size_t)c->ci * c->co * c->p.kh * c->p.kw;
    size_t ny = (size_t)c->n * c->co * s.ho * s.wo;
    float *x = tu_rand_array(&r, nx), *w = tu_rand_array(&r, nw), *b = tu_rand_array(&r, (size_t)c->co);
    float *dy = tu_rand_array(&r, ny);
    float *gx0 = tu_rand_array(&r, nx), *gw0 = tu_rand_array(&r, nw), *gb0 = tu_rand_array(&r, (size_t)c->co);
    double *y_ref = tu_dzeros(ny), *dx_ref = tu_dzeros(nx), *dw_ref = tu_dzeros(nw),
           *db_ref = tu_dzeros((size_t)c->co);
    ref_forward(&c->p, &s, x, w, c->bias ? b : NULL, y_ref);
    ref_backward(&c->p, &s, x, w, dy, dx_ref, dw_ref, db_ref);

    cp_tensor tx = tu_tensor_at(x, c->n, c->ci, c->h, c->w, c->off, "x");
    cp_tensor tw = tu_tensor_at(w, c->ci, c->co, c->p.kh, c->p.kw, c->off, "w");
    cp_tensor tb = tu_tensor_at(b, c->co, 1, 1, 1, c->off, "b");
    cp_tensor tdy = tu_tensor_at(dy, c->n, c->co, s.ho, s.wo, c->off, "dy");
    cp_tensor ty = tu_tensor_at(NULL, c->n, c->co, s.ho, s.wo, c->off, "y");
    size_t wsf = cp_conv_transpose2d_workspace_floats(ctx, &c->p, c->n, c->ci, c->h, c->w, c->co);
    ck_assert_uint_gt(wsf, 0);
    cp_tensor ws = make_ws(c->ws, wsf);
    const cp_tensor *wsp = c->ws == WS_NONE ? NULL : &ws;

    /* Terms per output: at most ci·ceil(kh/sh)·ceil(kw/sw) <= ci·kh·kw. */
    size_t y_terms = (size_t)c->ci * c->p.kh * c->p.kw;
    size_t dx_terms = (size_t)c->co * c->p.kh * c->p.kw;
    size_t dw_terms = (size_t)c->n * c->h * c->w;
    size_t db_terms = (size_t)c->n * s.ho * s.wo;

    TU_OK(cp_conv_transpose2d_forward(ctx, &c->p, &tx, &tw, c->bias ? &tb : NULL, &ty, wsp));
    float *got = tu_download(&ty);
    tu_assert_close_sum(c->name, "y", got, y_ref, ny, y_terms);
    free(got);

    /* With ELU fused into the epilogue (the graph's fusion, src/graph/fuse.c):
     * ELU of the same sums, into a fresh NaN-poisoned output. ELU is
     * 1-Lipschitz, so the sum's tolerance holds. */
    cp_tensor tye = tu_tensor_at(NULL, c->n, c->co, s.ho, s.wo, c->off, "y_elu");
    TU_OK(cp_conv_transpose2d_forward_act(ctx, &c->p, &tx, &tw, c->bias ? &tb : NULL, CP_FUSED_ELU, &tye, wsp));
    double *ye_ref = tu_dzeros(ny);
    for (size_t i = 0; i < ny; i++) ye_ref[i] = y_ref[i] > 0 ? y_ref[i] : expm1(y_ref[i]);
    got = tu_download(&tye);
    tu_assert_close_sum(c->name, "elu(y) fused", got, ye_ref, ny, y_terms);
    free(got);
    free(ye_ref);
    cp_tensor_free(ctx, &tye);

    cp_tensor tdx = tu_tensor_at(NULL, c->n, c->ci, c->h, c->w, c->off, "dx");
    cp_tensor tdw = tu_tensor_at(NULL, c->ci, c->co, c->p.kh, c->p.kw, c->off, "dw");
    cp_tensor tdb = tu_tensor_at(NULL, c->co, 1, 1, 1, c->off, "db");
    TU_OK(cp_conv_transpose2d_backward(ctx, &c->p, &tx, &tw, &tdy, &tdx, &tdw, &tdb, false, wsp));
    got = tu_download(&tdx);
    tu_assert_close_sum(c->name, "dx", got, dx_ref, nx, dx_terms);
    free(got);
    got = tu_download(&tdw);
    tu_assert_close_sum(c->name, "dw", got, dw_ref, nw, dw_terms);
    free(got);
    got = tu_download(&tdb);
    tu_assert_close_sum(c->name, "db", got, db_ref, (size_t)c->co, db_terms);
    free(got);

    /* dx of a layer whose input x is an ELU output, with ELU'(x) applied in
     * dx's epilogue (the graph's ELU-backward fusion), into a NaN-poisoned
     * dx: dx_ref · (x > 0 ? 1 : x + 1) (|factor| <= 1: the same tolerance). */
    {
        cp_tensor tdxg = tu_tensor_at(NULL, c->n, c->ci, c->h, c->w, c->off, "dx_elu");
        TU_OK(cp_conv_transpose2d_backward_act(ctx, &c->p, &tx, &tw, &tdy, &tdxg, NULL, NULL, false, CP_FUSED_ELU, wsp));
        double *dxg_ref = tu_dzeros(nx);
        for (size_t i = 0; i < nx; i++) dxg_ref[i] = dx_ref[i] * (x[i] > 0 ? 1.0 : x[i] + 1.0);
        got = tu_download(&tdxg);
        tu_assert_close_sum(c->name, "dx times ELU'(x) fused", got, dxg_ref, nx, dx_terms);
        free(got);
        free(dxg_ref);
        cp_tensor_free(ctx, &tdxg);
    }

    TU_OK(cp_tensor_upload(ctx, &tdx, gx0));
    TU_OK(cp_tensor_upload(ctx, &tdw, gw0));
    TU_OK(cp_tensor_upload(ctx, &tdb, gb0));
    for (size_t i = 0; i < nx; i++) dx_ref[i] += gx0[i];
    for (size_t i = 0; i < nw; i++) dw_ref[i] += gw0[i];
    for (int i = 0; i < c->co; i++) db_ref[i] += gb0[i];
    TU_OK(cp_conv_transpose2d_backward(ctx, &c->p, &tx, &tw, &tdy, &tdx, &tdw, &tdb, true, wsp));
    got = tu_download(&tdx);
    tu_assert_close_sum(c->name, "dx (accumulate)", got, dx_ref, nx, dx_terms);
    free(got);
    got = tu_download(&tdw);
    tu_assert_close_sum(c->name, "dw (accumulate)", got, dw_ref, nw, dw_terms);
    free(got);
    got = tu_download(&tdb);
    tu_assert_close_sum(c->name, "db (accumulate)", got, db_ref, (size_t)c->co, db_terms);
    free(got);

    free(x); free(w); free(b); free(dy); free(gx0); free(gw0); free(gb0);
    free(y_ref); free(dx_ref); free(dw_ref); free(db_ref);
    cp_tensor *ts[] = {&tx, &tw, &tb, &tdy, &ty, &ws, &tdx, &tdw, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) cp_tensor_free(ctx, ts[i]);
}

/* Kernel 3, stride 2, padding 1 top / 0 left / 0 bottom / 2 right. */
static cp_conv_params k3s2_asym(void)
{
    return (cp_conv_params){.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                            .pad_top = 1, .pad_left = 0, .pad_bottom = 0, .pad_right = 2};
}

/* Kernel 2×1, stride 3×2: output positions that no input reaches. */
static cp_conv_params k2s3_gaps(void)
{
    return (cp_conv_params){.kh = 2, .kw = 1, .stride_h = 3, .stride_w = 2};
}

/* DCGAN-style kernel 4, stride 2, padding 1. */
static cp_conv_params k4s2p1(void)
{
    return (cp_conv_params){.kh = 4, .kw = 4, .stride_h = 2, .stride_w = 2,
                            .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1};
}

START_TEST(test_up2_shapes)
{
    TU_CONV_ROUTE_OR_SKIP(_i);
    const tc_case cases[] = {
        {"up2 batch 1 odd 5x3, 3->5", cp_up2_params(), 1, 3, 5, 3, 5, 0, WS_EXACT, true},
        {"up2 offsets no bias 7x6, 6->3", cp_up2_params(), 2, 6, 7, 6, 3, 3, WS_OFFSET, false},
        {"up2 1x1", cp_up2_params(), 3, 2, 1, 1, 7, 0, WS_NONE, true},
        {"tiny dec1 up2 128->128 2x2", cp_up2_params(), 2, 128, 2, 2, 128, 0, WS_EXACT, true},
        {"tiny dec3 up2 64->64 8x8", cp_up2_params(), 2, 64, 8, 8, 64, 1, WS_OFFSET, true},
        {"tiny dec5 up2 32->32 32x32", cp_up2_params(), 2, 32, 32, 32, 32, 0, WS_EXACT, true},
        /* direct kernels' edges: 3 vectors of 4, partial channel blocks
         * (forward 4, dx 16, dw 8 channels per work-item), 48 = 3 × 16,
         * a partial dw chunk (4 MiB chunks: 51 rows of 64 + 4·64 channels
         * × 64 px, then 49) */
        {"up2 w12 batch 1, 17->5", cp_up2_params(), 1, 17, 3, 12, 5, 0, WS_EXACT, true},
        {"up2 w48 3->9 offsets", cp_up2_params(), 2, 3, 5, 48, 9, 2, WS_OFFSET, true},
        {"up2 w64 partial dw chunk 64->64", cp_up2_params(), 1, 64, 100, 64, 64, 0, WS_EXACT,
         false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 100 + i);
}
END_TEST

START_TEST(test_general_shapes)
{
    TU_CONV_ROUTE_OR_SKIP(_i); /* direct does not apply: GEMM or igemm */
    const tc_case cases[] = {
        {"k3 s2 asym pad 5x4, 3->5", k3s2_asym(), 2, 3, 5, 4, 5, 2, WS_EXACT, true},
        {"k3 s2 asym pad 1x2 batch 1", k3s2_asym(), 1, 2, 1, 2, 3, 0, WS_OFFSET, true},
        {"k2x1 s3x2 gaps 4x5", k2s3_gaps(), 2, 3, 4, 5, 6, 1, WS_EXACT, true},
        {"k4 s2 p1 6x7, 5->2", k4s2p1(), 2, 5, 6, 7, 2, 0, WS_NONE, true},
        {"k3 s1 p1 (conv3 geometry) 5x5", cp_conv3_params(), 2, 4, 5, 5, 3, 0, WS_EXACT, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 200 + i);
}
END_TEST

START_TEST(test_out_size_and_bad_shapes)
{
    cp_conv_params up = cp_up2_params(), g = k4s2p1();
    int64_t ho, wo;
    ck_assert(cp_conv_transpose_out_size(&up, 3, 5, &ho, &wo) && ho == 6 && wo == 10);
    ck_assert(cp_conv_transpose_out_size(&g, 6, 7, &ho, &wo) && ho == 12 && wo == 14);
    cp_conv_params bad = {.kh = 1, .kw = 1, .stride_h = 1, .stride_w = 1, .pad_top = 1};
    ck_assert(!cp_conv_transpose_out_size(&bad, 1, 4, &ho, &wo));
    cp_context *ctx = tu_ctx();
    cp_tensor x = tu_tensor_at(NULL, 1, 3, 2, 2, 0, "x"), w = tu_tensor_at(NULL, 4, 3, 2, 2, 0, "w");
    cp_tensor y = tu_tensor_at(NULL, 1, 3, 4, 4, 0, "y");
    /* w is [C_in=4, ...] but x has 3 channels. */
    ck_assert_int_eq(cp_conv_transpose2d_forward(ctx, &up, &x, &w, NULL, &y, NULL),
                     CP_ERR_INVALID_ARGUMENT);
    cp_tensor *ts[] = {&x, &w, &y};
    for (size_t i = 0; i < 3; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

/* CLBlast's indirect GEMM path with our workspace (tu_set_clblast_min_indirect). */
START_TEST(test_indirect_gemm)
{
    tu_set_conv_route(1);
    const tc_case cases[] = {
        {"indirect up2 offsets", cp_up2_params(), 2, 6, 7, 6, 3, 3, WS_EXACT, false},
        {"indirect k3 s2 asym, ws offset", k3s2_asym(), 2, 3, 5, 4, 5, 2, WS_OFFSET, true},
        {"indirect up2 batch 1", cp_up2_params(), 1, 3, 5, 3, 5, 0, WS_EXACT, true},
    };
    size_t saved = tu_clblast_min_indirect();
    tu_set_clblast_min_indirect(8);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 600 + i);
    tu_set_clblast_min_indirect(saved);
}
END_TEST

/* ------------------------------------------------------- gradient check */

START_TEST(test_conv_transpose_gradcheck)
{
    TU_CONV_ROUTE_OR_SKIP(_i);
    cp_conv_params up = cp_up2_params(), a = k3s2_asym(), gaps = k2s3_gaps();
    tu_conv_gradcheck("up2", &up, true, 2, 3, 3, 4, 4, 500);
    tu_conv_gradcheck("k3 s2 asym", &a, true, 2, 2, 3, 4, 3, 501);
    tu_conv_gradcheck("k2x1 s3x2", &gaps, true, 1, 3, 3, 2, 2, 502);
}
END_TEST

/* The implicit GEMM at work-group caps 1 and 4 (fallback tiles). */
START_TEST(test_conv_transpose_igemm_wg_caps)
{
    setenv("CLINPAINT_CONV", "igemm", 1);
    static const size_t caps[] = {1, 4};
    const tc_case cases[] = {
        {"igemm up2 batch 1 odd 5x3, 3->5", cp_up2_params(), 1, 3, 5, 3, 5, 0, WS_EXACT, true},
        {"igemm up2 7x6, 6->19 offsets", cp_up2_params(), 2, 6, 7, 6, 19, 3, WS_OFFSET, true},
        {"igemm k2x1 s3x2 gaps 4x5", k2s3_gaps(), 2, 3, 4, 5, 6, 1, WS_EXACT, true},
    };
    for (size_t k = 0; k < sizeof caps / sizeof *caps; k++) {
        cp_igemm_wg_cap = caps[k];
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 700 + i);
        cp_conv_params up = cp_up2_params();
        tu_conv_gradcheck("igemm up2 capped", &up, true, 2, 3, 3, 4, 4, 710);
    }
    cp_igemm_wg_cap = 0;
    unsetenv("CLINPAINT_CONV");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv_transpose");
    TCase *tc = tcase_create("conv_transpose");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_up2_shapes, 0, TU_CONV_ROUTES);
    tcase_add_loop_test(tc, test_general_shapes, 0, TU_CONV_ROUTES);
    tcase_add_test(tc, test_out_size_and_bad_shapes);
    tcase_add_loop_test(tc, test_conv_transpose_gradcheck, 0, TU_CONV_ROUTES);
    tcase_add_test(tc, test_indirect_gemm);
    tcase_add_test(tc, test_conv_transpose_igemm_wg_caps);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
