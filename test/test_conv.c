/* cp_conv2d_forward / cp_conv2d_backward against plain double-precision CPU
 * loops, on random inputs: odd H and W, C not a multiple of 4, batch 1,
 * stride 2 with asymmetric padding, the `tiny` preset's real layer shapes
 * and one larger shape. Outputs are NaN-poisoned before every run, tensors
 * and workspaces sit at non-zero offsets in some cases, accumulate = true is
 * checked against pre-filled gradients, and every backward is checked by
 * central finite differences on small shapes. Every case runs on each
 * route: the device's default, im2col + GEMM (CLINPAINT_CONV=gemm) and the
 * direct kernels (CLINPAINT_CONV=direct, wherever the shape allows them)
 * and the implicit GEMM (CLINPAINT_CONV=igemm), whose tiles are also run
 * at work-group caps down to 1. Route choice by measurement is checked with
 * injected timings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "clinpaint/ops.h"
#include "clinpaint/tune.h"
#include "backend/opencl/ops/conv_fused.h"
#include "backend/opencl/ops/conv_igemm.h"
#include "backend/opencl/ops/conv_route.h"
#include "util/op_test_util.h"
#include "util/test_util.h"

/* ------------------------------------------------------------ helpers */

/* ------------------------------------------------------ CPU reference */

typedef struct shape {
    int n, ci, h, w, co, ho, wo;
} shape;

static void ref_forward(const cp_conv_params *p, const shape *s, const float *x,
                        const float *w, const float *b, double *y)
{
    for (int n = 0; n < s->n; n++)
        for (int co = 0; co < s->co; co++)
            for (int oy = 0; oy < s->ho; oy++)
                for (int ox = 0; ox < s->wo; ox++) {
                    double acc = b ? b[co] : 0.0;
                    for (int ci = 0; ci < s->ci; ci++)
                        for (int i = 0; i < p->kh; i++) {
                            int iy = oy * p->stride_h - p->pad_top + i;
                            if (iy < 0 || iy >= s->h) continue;
                            for (int j = 0; j < p->kw; j++) {
                                int ix = ox * p->stride_w - p->pad_left + j;
                                if (ix < 0 || ix >= s->w) continue;
                                acc += (double)x[((n * s->ci + ci) * s->h + iy) * s->w + ix] *
                                       (double)w[((co * s->ci + ci) * p->kh + i) * p->kw + j];
                            }
                        }
                    y[((n * s->co + co) * s->ho + oy) * s->wo + ox] = acc;
                }
}

/* dx, dw, db (added to what they hold) from dy, by scattering. */
static void ref_backward(const cp_conv_params *p, const shape *s, const float *x,
                         const float *w, const float *dy, double *dx, double *dw, double *db)
{
    for (int n = 0; n < s->n; n++)
        for (int co = 0; co < s->co; co++)
            for (int oy = 0; oy < s->ho; oy++)
                for (int ox = 0; ox < s->wo; ox++) {
                    double g = dy[((n * s->co + co) * s->ho + oy) * s->wo + ox];
                    db[co] += g;
                    for (int ci = 0; ci < s->ci; ci++)
                        for (int i = 0; i < p->kh; i++) {
                            int iy = oy * p->stride_h - p->pad_top + i;
                            if (iy < 0 || iy >= s->h) continue;
                            for (int j = 0; j < p->kw; j++) {
                                int ix = ox * p->stride_w - p->pad_left + j;
                                if (ix < 0 || ix >= s->w) continue;
                                size_t xi = (size_t)((n * s->ci + ci) * s->h + iy) * s->w + ix;
                                size_t wi = (size_t)((co * s->ci + ci) * p->kh + i) * p->kw + j;
                                dx[xi] += g * w[wi];
                                dw[wi] += g * x[xi];
                            }
                        }
                }
}

/* ----------------------------------------------------------- one case */

typedef enum { WS_EXACT, WS_OFFSET, WS_NONE } ws_mode;

typedef struct conv_case {
    const char *name;
    cp_conv_params p;
    int n, ci, h, w, co;
    size_t off;  /* element offset of every tensor in its buffer */
    ws_mode ws;
    bool bias;
} conv_case;

static cp_tensor make_ws(const conv_case *c, size_t floats)
{
    switch (c->ws) {
    case WS_EXACT: return tu_tensor_at(NULL, 1, 1, 1, (int64_t)floats, 0, "ws");
    case WS_OFFSET: return tu_tensor_at(NULL, 1, 1, 1, (int64_t)floats, 37, "ws");
    default: {
        cp_tensor t;
        memset(&t, 0, sizeof t);
        return t;
    }
    }
}

static void run_case(const conv_case *c, uint64_t seed)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, seed, 7);
    shape s = {c->n, c->ci, c->h, c->w, c->co, 0, 0};
    int64_t ho, wo;
    ck_assert(cp_conv_out_size(&c->p, c->h, c->w, &ho, &wo));
    s.ho = (int)ho;
    s.wo = (int)wo;
    size_t nx = (size_t)c->n * c->ci * c->h * c->w;
    size_t nw = (size_t)c->co * c->ci * c->p.kh * c->p.kw;
    size_t ny = (size_t)c->n * c->co * s.ho * s.wo;
    float *x = tu_rand_array(&r, nx), *w = tu_rand_array(&r, nw), *b = tu_rand_array(&r, (size_t)c->co);
    float *dy = tu_rand_array(&r, ny);
    float *gx0 = tu_rand_array(&r, nx), *gw0 = tu_rand_array(&r, nw), *gb0 = tu_rand_array(&r, (size_t)c->co);
    double *y_ref = tu_dzeros(ny), *dx_ref = tu_dzeros(nx), *dw_ref = tu_dzeros(nw),
           *db_ref = tu_dzeros((size_t)c->co);
    ref_forward(&c->p, &s, x, w, c->bias ? b : NULL, y_ref);
    ref_backward(&c->p, &s, x, w, dy, dx_ref, dw_ref, db_ref);

    cp_tensor tx = tu_tensor_at(x, c->n, c->ci, c->h, c->w, c->off, "x");
    cp_tensor tw = tu_tensor_at(w, c->co, c->ci, c->p.kh, c->p.kw, c->off, "w");
    cp_tensor tb = tu_tensor_at(b, c->co, 1, 1, 1, c->off, "b");
    cp_tensor tdy = tu_tensor_at(dy, c->n, c->co, s.ho, s.wo, c->off, "dy");
    cp_tensor ty = tu_tensor_at(NULL, c->n, c->co, s.ho, s.wo, c->off, "y");
    size_t wsf = cp_conv2d_workspace_floats(ctx, &c->p, c->n, c->ci, c->h, c->w, c->co);
    ck_assert_uint_gt(wsf, 0);
    cp_tensor ws = make_ws(c, wsf);
    const cp_tensor *wsp = c->ws == WS_NONE ? NULL : &ws;

    size_t k_terms = (size_t)c->ci * c->p.kh * c->p.kw;
    size_t p_terms = (size_t)c->n * s.ho * s.wo;
    size_t dx_terms = (size_t)c->co * c->p.kh * c->p.kw;

    TU_OK(cp_conv2d_forward(ctx, &c->p, &tx, &tw, c->bias ? &tb : NULL, &ty, wsp));
    float *got = tu_download(&ty);
    tu_assert_close_sum(c->name, "y", got, y_ref, ny, k_terms);
    free(got);

    /* With ELU fused into the epilogue (the graph's fusion, src/graph/fuse.c):
     * ELU of the same sums, into a fresh NaN-poisoned output. ELU is
     * 1-Lipschitz, so the sum's tolerance holds. */
    cp_tensor tye = tu_tensor_at(NULL, c->n, c->co, s.ho, s.wo, c->off, "y_elu");
    TU_OK(cp_conv2d_forward_act(ctx, &c->p, &tx, &tw, c->bias ? &tb : NULL, CP_FUSED_ELU, &tye, wsp));
    double *ye_ref = tu_dzeros(ny);
    for (size_t i = 0; i < ny; i++) ye_ref[i] = y_ref[i] > 0 ? y_ref[i] : expm1(y_ref[i]);
    got = tu_download(&tye);
    tu_assert_close_sum(c->name, "elu(y) fused", got, ye_ref, ny, k_terms);
    free(got);
    free(ye_ref);
    cp_tensor_free(ctx, &tye);

    /* Overwrite mode into NaN-poisoned gradients. */
    cp_tensor tdx = tu_tensor_at(NULL, c->n, c->ci, c->h, c->w, c->off, "dx");
    cp_tensor tdw = tu_tensor_at(NULL, c->co, c->ci, c->p.kh, c->p.kw, c->off, "dw");
    cp_tensor tdb = tu_tensor_at(NULL, c->co, 1, 1, 1, c->off, "db");
    TU_OK(cp_conv2d_backward(ctx, &c->p, &tx, &tw, &tdy, &tdx, &tdw, &tdb, false, wsp));
    got = tu_download(&tdx);
    tu_assert_close_sum(c->name, "dx", got, dx_ref, nx, dx_terms);
    free(got);
    got = tu_download(&tdw);
    tu_assert_close_sum(c->name, "dw", got, dw_ref, nw, p_terms);
    free(got);
    got = tu_download(&tdb);
    tu_assert_close_sum(c->name, "db", got, db_ref, (size_t)c->co, p_terms);
    free(got);

    /* dx of a layer whose input x is an ELU output, with ELU'(x) applied in
     * dx's epilogue (the graph's ELU-backward fusion), into a NaN-poisoned
     * dx: dx_ref · (x > 0 ? 1 : x + 1) (|factor| <= 1: the same tolerance). */
    {
        cp_tensor tdxg = tu_tensor_at(NULL, c->n, c->ci, c->h, c->w, c->off, "dx_elu");
        TU_OK(cp_conv2d_backward_act(ctx, &c->p, &tx, &tw, &tdy, &tdxg, NULL, NULL, false, CP_FUSED_ELU, wsp));
        double *dxg_ref = tu_dzeros(nx);
        for (size_t i = 0; i < nx; i++) dxg_ref[i] = dx_ref[i] * (x[i] > 0 ? 1.0 : x[i] + 1.0);
        got = tu_download(&tdxg);
        tu_assert_close_sum(c->name, "dx times ELU'(x) fused", got, dxg_ref, nx, dx_terms);
        free(got);
        free(dxg_ref);
        cp_tensor_free(ctx, &tdxg);
    }

    /* Accumulate mode onto known values. */
    TU_OK(cp_tensor_upload(ctx, &tdx, gx0));
    TU_OK(cp_tensor_upload(ctx, &tdw, gw0));
    TU_OK(cp_tensor_upload(ctx, &tdb, gb0));
    for (size_t i = 0; i < nx; i++) dx_ref[i] += gx0[i];
    for (size_t i = 0; i < nw; i++) dw_ref[i] += gw0[i];
    for (int i = 0; i < c->co; i++) db_ref[i] += gb0[i];
    TU_OK(cp_conv2d_backward(ctx, &c->p, &tx, &tw, &tdy, &tdx, &tdw, &tdb, true, wsp));
    got = tu_download(&tdx);
    tu_assert_close_sum(c->name, "dx (accumulate)", got, dx_ref, nx, dx_terms);
    free(got);
    got = tu_download(&tdw);
    tu_assert_close_sum(c->name, "dw (accumulate)", got, dw_ref, nw, p_terms);
    free(got);
    got = tu_download(&tdb);
    tu_assert_close_sum(c->name, "db (accumulate)", got, db_ref, (size_t)c->co, p_terms);
    free(got);

    free(x); free(w); free(b); free(dy); free(gx0); free(gw0); free(gb0);
    free(y_ref); free(dx_ref); free(dw_ref); free(db_ref);
    cp_tensor *ts[] = {&tx, &tw, &tb, &tdy, &ty, &ws, &tdx, &tdw, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) cp_tensor_free(ctx, ts[i]);
}

/* Stride 2, kernel 3×2, asymmetric padding: rows 0 top / 2 bottom, columns
 * 1 left / 0 right. */
static cp_conv_params strided_params(void)
{
    return (cp_conv_params){.kh = 3, .kw = 2, .stride_h = 2, .stride_w = 2,
                            .pad_top = 0, .pad_left = 1, .pad_bottom = 2, .pad_right = 0};
}

START_TEST(test_conv_small_shapes)
{
    TU_CONV_ROUTE_OR_SKIP(_i);
    const conv_case cases[] = {
        {"conv3 batch 1, odd 7x5, 3->5", cp_conv3_params(), 1, 3, 7, 5, 5, 0, WS_EXACT, true},
        {"conv3 no bias, offsets, 5->6", cp_conv3_params(), 2, 5, 6, 9, 6, 3, WS_OFFSET, false},
        {"conv2 odd 9x7, 6->3", cp_conv2_params(), 3, 6, 9, 7, 3, 1, WS_NONE, true},
        {"conv2 1x1 image", cp_conv2_params(), 2, 3, 1, 1, 2, 0, WS_EXACT, true},
        {"stride 2 asym pad 11x8", strided_params(), 2, 3, 11, 8, 5, 2, WS_EXACT, true},
        {"stride 2 asym pad 4x3", strided_params(), 1, 2, 4, 3, 3, 0, WS_OFFSET, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 100 + i);
}
END_TEST

/* The `tiny` preset (S = 64, widths 16, 32, 64, 64, 128, 128) at batch 2. */
START_TEST(test_conv_tiny_preset)
{
    TU_CONV_ROUTE_OR_SKIP(_i);
    const conv_case cases[] = {
        {"tiny G enc1 conv3 4->16 64x64", cp_conv3_params(), 2, 4, 64, 64, 16, 0, WS_EXACT, true},
        {"tiny enc1 conv2 16->16 64x64", cp_conv2_params(), 2, 16, 64, 64, 16, 0, WS_EXACT, true},
        {"tiny enc2 conv3 16->32 32x32", cp_conv3_params(), 2, 16, 32, 32, 32, 5, WS_OFFSET, true},
        {"tiny enc5 conv3 64->128 4x4", cp_conv3_params(), 2, 64, 4, 4, 128, 0, WS_EXACT, true},
        {"tiny enc6 conv2 128->128 2x2", cp_conv2_params(), 2, 128, 2, 2, 128, 0, WS_EXACT, true},
        {"tiny dec6 conv2 16->3 64x64", cp_conv2_params(), 2, 16, 64, 64, 3, 0, WS_NONE, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 200 + i);
}
END_TEST

/* Shapes of the direct kernels' edge cases: vector widths 4, 8 and 16 with
 * one or two vectors per work-item (widths 12, 20, 24, 48, 64), channel
 * counts that leave partial channel blocks (3, 5, 9, 13), odd heights,
 * batch 1, and dw chunks of which the last is partial (4 MiB chunks: 128
 * rows of 64 + 64 channels × 64 px, then 72). */
START_TEST(test_conv_direct_shapes)
{
    TU_CONV_ROUTE_OR_SKIP(_i);
    const conv_case cases[] = {
        {"conv3 w12 (vw 4) 3->5", cp_conv3_params(), 2, 3, 7, 12, 5, 0, WS_EXACT, true},
        {"conv2 w20 (vw 4, 5 vectors) 5->9", cp_conv2_params(), 1, 5, 5, 20, 9, 3, WS_OFFSET, true},
        {"conv3 w24 (vw 8) 9->13", cp_conv3_params(), 3, 9, 3, 24, 13, 0, WS_NONE, false},
        {"conv2 w48 (vw 16, odd vectors) 4->3", cp_conv2_params(), 2, 4, 9, 48, 3, 1, WS_EXACT, true},
        {"conv3 w64 batch 1, 1 row 6->10", cp_conv3_params(), 1, 6, 1, 64, 10, 0, WS_EXACT, true},
        {"conv3 64 wide, partial dw chunk 64->64", cp_conv3_params(), 2, 64, 100, 64, 64, 0,
         WS_OFFSET, true},
        /* other windows the direct route takes: 3x5 with padding top 0 /
         * bottom 2 / left 1 / right 3 (width kept), and 1x1 */
        {"k3x5 asym pad w16 5->6", {.kh = 3, .kw = 5, .stride_h = 1, .stride_w = 1,
                                    .pad_top = 0, .pad_left = 1, .pad_bottom = 2,
                                    .pad_right = 3}, 2, 5, 6, 16, 6, 0, WS_EXACT, true},
        {"k1x1 w32 7->9", {.kh = 1, .kw = 1, .stride_h = 1, .stride_w = 1}, 2, 7, 3, 32, 9, 2,
         WS_OFFSET, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 700 + i);
}
END_TEST

START_TEST(test_conv_large)
{
    TU_CONV_ROUTE_OR_SKIP(_i);
    const conv_case c = {"8x64x32x32 conv3 64->64", cp_conv3_params(), 8, 64, 32, 32, 64, 0,
                         WS_EXACT, true};
    run_case(&c, 300);
}
END_TEST

/* Only the requested gradients are computed; the others may be NULL. */
START_TEST(test_conv_partial_backward)
{
    TU_CONV_ROUTE_OR_SKIP(_i);
    cp_context *ctx = tu_ctx();
    cp_conv_params p = cp_conv3_params();
    shape s = {2, 3, 5, 4, 4, 5, 4};
    cp_rng r;
    cp_rng_seed(&r, 400, 1);
    size_t nx = 2 * 3 * 5 * 4, nw = 4 * 3 * 9, ny = 2 * 4 * 5 * 4;
    float *x = tu_rand_array(&r, nx), *w = tu_rand_array(&r, nw), *dy = tu_rand_array(&r, ny);
    double *dx_ref = tu_dzeros(nx), *dw_ref = tu_dzeros(nw), *db_ref = tu_dzeros(4);
    ref_backward(&p, &s, x, w, dy, dx_ref, dw_ref, db_ref);
    cp_tensor tx = tu_tensor_at(x, 2, 3, 5, 4, 0, "x"), tw = tu_tensor_at(w, 4, 3, 3, 3, 0, "w");
    cp_tensor tdy = tu_tensor_at(dy, 2, 4, 5, 4, 0, "dy");
    cp_tensor tdx = tu_tensor_at(NULL, 2, 3, 5, 4, 0, "dx"), tdw = tu_tensor_at(NULL, 4, 3, 3, 3, 0, "dw");
    cp_tensor tdb = tu_tensor_at(NULL, 4, 1, 1, 1, 0, "db");
    size_t wsf = cp_conv2d_workspace_floats(ctx, &p, 2, 3, 5, 4, 4);
    cp_tensor ws = tu_tensor_at(NULL, 1, 1, 1, (int64_t)wsf, 0, "ws");
    TU_OK(cp_conv2d_backward(ctx, &p, &tx, &tw, &tdy, &tdx, NULL, NULL, false, &ws));
    float *got = tu_download(&tdx);
    tu_assert_close_sum("partial", "dx only", got, dx_ref, nx, 36);
    free(got);
    TU_OK(cp_conv2d_backward(ctx, &p, &tx, &tw, &tdy, NULL, &tdw, NULL, false, &ws));
    got = tu_download(&tdw);
    tu_assert_close_sum("partial", "dw only", got, dw_ref, nw, 40);
    free(got);
    TU_OK(cp_conv2d_backward(ctx, &p, &tx, &tw, &tdy, NULL, NULL, &tdb, false, NULL));
    got = tu_download(&tdb);
    tu_assert_close_sum("partial", "db only", got, db_ref, 4, 40);
    free(got);
    TU_OK(cp_conv2d_backward(ctx, &p, &tx, &tw, &tdy, NULL, NULL, NULL, false, NULL));
    free(x); free(w); free(dy); free(dx_ref); free(dw_ref); free(db_ref);
    cp_tensor *ts[] = {&tx, &tw, &tdy, &tdx, &tdw, &tdb, &ws};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

START_TEST(test_conv_bad_shapes)
{
    tu_set_conv_route(1); /* the too-small workspace below is im2col + GEMM's */
    cp_context *ctx = tu_ctx();
    cp_conv_params p = cp_conv3_params();
    cp_tensor x = tu_tensor_at(NULL, 1, 3, 5, 5, 0, "x"), w = tu_tensor_at(NULL, 4, 2, 3, 3, 0, "w");
    cp_tensor y = tu_tensor_at(NULL, 1, 4, 5, 5, 0, "y"), w2 = tu_tensor_at(NULL, 4, 3, 3, 3, 0, "w");
    cp_tensor ysmall = tu_tensor_at(NULL, 1, 4, 4, 5, 0, "y"), ws1 = tu_tensor_at(NULL, 1, 1, 1, 8, 0, "ws");
    ck_assert_int_eq(cp_conv2d_forward(ctx, &p, &x, &w, NULL, &y, NULL), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_conv2d_forward(ctx, &p, &x, &w2, NULL, &ysmall, NULL),
                     CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_conv2d_forward(ctx, &p, &x, &w2, NULL, &y, &ws1), CP_ERR_INVALID_ARGUMENT);
    cp_conv_params bad = p;
    bad.stride_h = 0;
    ck_assert_int_eq(cp_conv2d_forward(ctx, &bad, &x, &w2, NULL, &y, NULL),
                     CP_ERR_INVALID_ARGUMENT);
    /* A view running past the end of its buffer is refused (on CPU devices
     * a kernel would otherwise write into the host heap). */
    cp_tensor past = cp_tensor_view(y.buf, 1, 4, (int64_t[]){1, 4, 5, 5}, "y_past_end");
    ck_assert_int_eq(cp_conv2d_forward(ctx, &p, &x, &w2, NULL, &past, NULL),
                     CP_ERR_INVALID_ARGUMENT);
    int64_t ho, wo;
    ck_assert(!cp_conv_out_size(&p, 0, 5, &ho, &wo));
    cp_conv_params big = {.kh = 5, .kw = 5, .stride_h = 1, .stride_w = 1};
    ck_assert(!cp_conv_out_size(&big, 4, 9, &ho, &wo));
    ck_assert(cp_conv_out_size(&big, 5, 9, &ho, &wo) && ho == 1 && wo == 5);
    cp_conv_params c2 = cp_conv2_params();
    ck_assert(cp_conv_out_size(&c2, 7, 6, &ho, &wo) && ho == 7 && wo == 6);
    cp_tensor *ts[] = {&x, &w, &y, &w2, &ysmall, &ws1};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

/* CLBlast's indirect GEMM path with our workspace (tu_set_clblast_min_indirect). */
START_TEST(test_indirect_gemm)
{
    tu_set_conv_route(1);
    const conv_case cases[] = {
        {"indirect conv3 5->6 offsets", cp_conv3_params(), 2, 5, 6, 9, 6, 3, WS_EXACT, true},
        {"indirect stride 2, ws offset", strided_params(), 2, 3, 11, 8, 5, 0, WS_OFFSET, true},
        {"indirect conv2 batch 1", cp_conv2_params(), 1, 6, 9, 7, 3, 1, WS_EXACT, true},
    };
    size_t saved = tu_clblast_min_indirect();
    tu_set_clblast_min_indirect(8);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 600 + i);
    tu_set_clblast_min_indirect(saved);
}
END_TEST

/* The implicit GEMM's smaller tiles, as on devices with small work-group
 * limits (down to Apple's CPU device's 1): caps 1, 4, 64 (tiles 1×1, 2×2,
 * 8×8, and the narrow ones for <= 16 output channels), odd sizes, batch 1,
 * channel counts not a multiple of any tile, dw in one chunk and in several. */
START_TEST(test_conv_igemm_wg_caps)
{
    setenv("CLINPAINT_CONV", "igemm", 1);
    static const size_t caps[] = {1, 4, 64};
    const conv_case cases[] = {
        {"igemm conv3 batch 1 odd 7x5, 3->5", cp_conv3_params(), 1, 3, 7, 5, 5, 0, WS_EXACT, true},
        {"igemm conv2 9x7, 6->19 offsets", cp_conv2_params(), 2, 6, 9, 7, 19, 3, WS_OFFSET, true},
        {"igemm stride 2 asym 11x8, 3->17", strided_params(), 2, 3, 11, 8, 17, 0, WS_NONE, true},
        {"igemm conv3 several dw chunks 33x31, 5->70", cp_conv3_params(), 5, 5, 33, 31, 70, 1,
         WS_EXACT, true},
    };
    for (size_t k = 0; k < sizeof caps / sizeof *caps; k++) {
        cp_igemm_wg_cap = caps[k];
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 800 + i);
        cp_conv_params c3 = cp_conv3_params();
        tu_conv_gradcheck("igemm conv3 capped", &c3, false, 2, 3, 5, 6, 4, 810);
    }
    cp_igemm_wg_cap = 0;
    unsetenv("CLINPAINT_CONV");
}
END_TEST

/* Injected timings: igemm fastest, direct slowest. */
static double igemm_wins(const cp_conv_layer *l, int pass, cp_conv_route r, double s)
{
    (void)l, (void)pass, (void)s;
    return r == CP_CONV_IGEMM ? 1e-3 : r == CP_CONV_GEMM ? 2e-3 : 3e-3;
}

/* Measurement picks the fastest verified route even on a device that
 * reports itself a CPU (whose default would be direct / GEMM), the choice
 * is kept for the shape, and the op then runs on it with correct results. */
START_TEST(test_conv_route_by_measurement)
{
    unsetenv("CLINPAINT_CONV");
    cp_context *ctx = tu_ctx();
    cp_conv_layer l = {.transposed = false, .p = cp_conv3_params(), .n = 2, .c_in = 5,
                       .h = 6, .w = 16, .c_out = 7};
    cp_conv_choice def = cp_conv_route_default(ctx, &l);
    if (cp_context_device(ctx)->type & CL_DEVICE_TYPE_CPU)
        ck_assert_int_eq(def.pass[CP_CONV_FWD], CP_CONV_DIRECT); /* width 16: direct */
    cp_conv_timing_hook = igemm_wins;
    cp_conv_choice ch;
    double s[3][CP_CONV_ROUTES];
    TU_OK(cp_conv_measure(ctx, &l, 1, &ch, s));
    cp_conv_timing_hook = NULL;
    ck_assert(ch.measured);
    for (int p = 0; p < 3; p++) {
        ck_assert_int_eq(ch.pass[p], CP_CONV_IGEMM);
        ck_assert(s[p][CP_CONV_GEMM] > 0 && s[p][CP_CONV_IGEMM] > 0);
        ck_assert(s[p][CP_CONV_DIRECT] > 0); /* width 16, stride 1: direct applies */
    }
    TU_OK(cp_conv_route_record(ctx, &l, &ch));
    cp_conv_choice got = cp_conv_route_for(ctx, &l);
    for (int p = 0; p < 3; p++) ck_assert_int_eq(got.pass[p], CP_CONV_IGEMM);
    const conv_case c = {"measured igemm conv3 6x16 5->7", cp_conv3_params(), 2, 5, 6, 16, 7, 0,
                         WS_EXACT, true};
    run_case(&c, 900);
    /* A forced route still wins over the table. */
    setenv("CLINPAINT_CONV", "gemm", 1);
    got = cp_conv_route_for(ctx, &l);
    ck_assert_int_eq(got.pass[CP_CONV_FWD], CP_CONV_GEMM);
    unsetenv("CLINPAINT_CONV");
    cp_conv_route r;
    ck_assert(cp_conv_route_parse("igemm", &r) && r == CP_CONV_IGEMM);
    ck_assert(!cp_conv_route_parse("fast", &r));
    /* A shape direct cannot run is refused for it. */
    cp_conv_layer odd = l;
    odd.w = 5;
    ck_assert(!cp_conv_route_applies(&odd, CP_CONV_FWD, CP_CONV_DIRECT));
    cp_conv_choice bad = {{CP_CONV_DIRECT, CP_CONV_GEMM, CP_CONV_GEMM}, true};
    ck_assert_int_eq(cp_conv_route_record(ctx, &odd, &bad), CP_ERR_INVALID_ARGUMENT);
}
END_TEST

/* The routes file: choices saved beside the tuning file are applied by a
 * later cp_tune_conv_apply (a new process's start-up), a corrupt file is
 * ignored, and cp_tune_conv_run measures a preset's layers within its
 * budget and saves them. */
START_TEST(test_conv_routes_file)
{
    unsetenv("CLINPAINT_CONV");
    char *dir = tu_tempdir();
    setenv("CLINPAINT_CACHE_DIR", dir, 1);
    cp_context *ctx = tu_ctx();
    cp_conv_layer l = {.transposed = true, .p = cp_up2_params(), .n = 3, .c_in = 5, .h = 3,
                       .w = 7, .c_out = 6};
    cp_conv_choice saved = {{CP_CONV_IGEMM, CP_CONV_GEMM, CP_CONV_IGEMM}, true};
    double ms[3] = {1, 2, 3};
    TU_OK(cp_tune_conv_save(ctx, &l, &saved, ms));
    cp_conv_choice other = {{CP_CONV_GEMM, CP_CONV_IGEMM, CP_CONV_GEMM}, true};
    TU_OK(cp_conv_route_record(ctx, &l, &other));
    ck_assert_int_eq(cp_conv_route_for(ctx, &l).pass[CP_CONV_FWD], CP_CONV_GEMM);
    TU_OK(cp_tune_conv_apply(ctx)); /* what start-up does */
    cp_conv_choice got = cp_conv_route_for(ctx, &l);
    for (int p = 0; p < 3; p++) ck_assert_int_eq(got.pass[p], saved.pass[p]);
    ck_assert(got.measured);
    cp_conv_route_first_use(ctx, 0, NULL); /* no first-use measurement in later tests */

    /* The preset's layers: 24 distinct shapes in tiny, 5 of them up2. */
    cp_conv_layer *layers;
    int n, up = 0;
    TU_OK(cp_tune_conv_layers("tiny", 8, &layers, &n));
    ck_assert_int_eq(n, 24);
    for (int i = 0; i < n; i++) up += layers[i].transposed;
    ck_assert_int_eq(up, 5);
    free(layers);
    ck_assert_int_eq(cp_tune_conv_layers("nope", 8, &layers, &n), CP_ERR_INVALID_ARGUMENT);

    /* A tiny budget: one layer measured and saved, then it stops. */
    TU_OK(cp_tune_conv_run(ctx, "tiny", 1, 1e-6, true, NULL, NULL));
    TU_OK(cp_tune_conv_layers("tiny", 1, &layers, &n));
    got = cp_conv_route_for(ctx, &layers[0]);
    ck_assert(got.measured);
    free(layers);

    /* A corrupt file changes nothing and fails nothing. */
    char path[1200];
    char gemm[1100];
    ck_assert(cp_tune_file_path(ctx, gemm, sizeof gemm));
    const char *hash = strrchr(gemm, '-');
    snprintf(path, sizeof path, "%s/conv-routes%s", dir, hash);
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs("{\"format\": \"clinpaint-conv-routes-1\", \"layers\": [{\"kh\": 99", f);
    ck_assert_int_eq(fclose(f), 0);
    TU_OK(cp_tune_conv_apply(ctx));
    cp_conv_route_first_use(ctx, 0, NULL);
    got = cp_conv_route_for(ctx, &l);
    for (int p = 0; p < 3; p++) ck_assert_int_eq(got.pass[p], saved.pass[p]);
    unsetenv("CLINPAINT_CACHE_DIR");
    tu_rmdir(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------- gradient check */

START_TEST(test_conv_gradcheck)
{
    TU_CONV_ROUTE_OR_SKIP(_i);
    cp_conv_params c3 = cp_conv3_params(), c2 = cp_conv2_params(), st = strided_params();
    tu_conv_gradcheck("conv3", &c3, false, 2, 3, 5, 6, 4, 500);
    tu_conv_gradcheck("conv2", &c2, false, 2, 3, 5, 4, 3, 501);
    tu_conv_gradcheck("stride 2 asym", &st, false, 2, 2, 7, 6, 3, 502);
    /* widths the direct kernels take (vectors of 8 and of 4) */
    tu_conv_gradcheck("conv3 w8", &c3, false, 1, 2, 3, 8, 3, 503);
    tu_conv_gradcheck("conv2 w4 batch 2", &c2, false, 2, 2, 3, 4, 2, 504);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_conv_small_shapes, 0, TU_CONV_ROUTES);
    tcase_add_loop_test(tc, test_conv_tiny_preset, 0, TU_CONV_ROUTES);
    tcase_add_loop_test(tc, test_conv_direct_shapes, 0, TU_CONV_ROUTES);
    tcase_add_loop_test(tc, test_conv_large, 0, TU_CONV_ROUTES);
    tcase_add_loop_test(tc, test_conv_partial_backward, 0, TU_CONV_ROUTES);
    tcase_add_test(tc, test_conv_bad_shapes);
    tcase_add_loop_test(tc, test_conv_gradcheck, 0, TU_CONV_ROUTES);
    tcase_add_test(tc, test_indirect_gemm);
    tcase_add_test(tc, test_conv_igemm_wg_caps);
    tcase_add_test(tc, test_conv_route_by_measurement);
    tcase_add_test(tc, test_conv_routes_file);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
