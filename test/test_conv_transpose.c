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
#include "backend/opencl/ops/conv_igemm.h"
#include "util/conv_case.h"
#include "util/op_test_util.h"
#include "util/test_util.h"

/* ------------------------------------------------------ CPU reference */

typedef tu_conv_shape shape;

/* y[n, co, iy*sh - pt + i, ix*sw - pl + j] += x[n, ci, iy, ix] w[ci, co, i, j]:
 * one walk over every such product. With y: the forward, y = b (or 0) plus
 * the products. With dy: the backward of the same scatter, dx, dw and db
 * added to what they hold. */
static void ref_walk(const cp_conv_params *p, const shape *s, const float *x, const float *w,
                     const float *b, double *y, const float *dy, double *dx, double *dw,
                     double *db)
{
    size_t ny = (size_t)s->n * s->co * s->ho * s->wo;
    for (size_t i = 0; i < ny && y; i++) y[i] = b ? b[(i / ((size_t)s->ho * s->wo)) % s->co] : 0.0;
    for (size_t i = 0; i < ny && dy; i++) db[(i / ((size_t)s->ho * s->wo)) % s->co] += dy[i];
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
                                size_t yi = (size_t)((n * s->co + co) * s->ho + oy) * s->wo + ox;
                                size_t wi = (size_t)((ci * s->co + co) * p->kh + i) * p->kw + j;
                                if (y) y[yi] += (double)x[xi] * w[wi];
                                if (dy) {
                                    dx[xi] += dy[yi] * (double)w[wi];
                                    dw[wi] += dy[yi] * (double)x[xi];
                                }
                            }
                        }
                }
}

/* ----------------------------------------------------------- one case */

typedef tu_conv_case tc_case;

/* The cases run against the reference above (util/conv_case.c). */
static const tu_conv_ref ref = {.transposed = true, .ws_offset = 41, .walk = ref_walk};

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

/* The cases every route runs: test_up2_and_general_shapes below, one group
 * of its table per loop iteration and route. */
static const tu_conv_group route_groups[] = {
    {0, 9, 100}, /* up2, at the `tiny` preset's decoder sizes among others */
    {9, 5, 200}, /* general kernels, strides and paddings: GEMM or igemm */
};
#define ROUTE_GROUPS (int)(sizeof route_groups / sizeof *route_groups)

START_TEST(test_up2_and_general_shapes)
{
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
        /* general shapes (direct does not apply: GEMM or igemm) */
        {"k3 s2 asym pad 5x4, 3->5", k3s2_asym(), 2, 3, 5, 4, 5, 2, WS_EXACT, true},
        {"k3 s2 asym pad 1x2 batch 1", k3s2_asym(), 1, 2, 1, 2, 3, 0, WS_OFFSET, true},
        {"k2x1 s3x2 gaps 4x5", k2s3_gaps(), 2, 3, 4, 5, 6, 1, WS_EXACT, true},
        {"k4 s2 p1 6x7, 5->2", k4s2p1(), 2, 5, 6, 7, 2, 0, WS_NONE, true},
        {"k3 s1 p1 (conv3 geometry) 5x5", cp_conv3_params(), 2, 4, 5, 5, 3, 0, WS_EXACT, false},
    };
    tu_conv_run_route_group(&ref, cases, sizeof cases / sizeof *cases, route_groups,
                            ROUTE_GROUPS, _i);
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
    const tc_case cases[] = {
        {"indirect up2 offsets", cp_up2_params(), 2, 6, 7, 6, 3, 3, WS_EXACT, false},
        {"indirect k3 s2 asym, ws offset", k3s2_asym(), 2, 3, 5, 4, 5, 2, WS_OFFSET, true},
        {"indirect up2 batch 1", cp_up2_params(), 1, 3, 5, 3, 5, 0, WS_EXACT, true},
    };
    tu_conv_run_indirect(&ref, cases, sizeof cases / sizeof *cases, 600);
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
    static const size_t caps[] = {1, 4};
    const tc_case cases[] = {
        {"igemm up2 batch 1 odd 5x3, 3->5", cp_up2_params(), 1, 3, 5, 3, 5, 0, WS_EXACT, true},
        {"igemm up2 7x6, 6->19 offsets", cp_up2_params(), 2, 6, 7, 6, 19, 3, WS_OFFSET, true},
        {"igemm k2x1 s3x2 gaps 4x5", k2s3_gaps(), 2, 3, 4, 5, 6, 1, WS_EXACT, true},
    };
    const tu_conv_gradcheck_case gc = {"igemm up2 capped", cp_up2_params(), 2, 3, 3, 4, 4, 710};
    tu_conv_run_igemm_caps(&ref, caps, sizeof caps / sizeof *caps, cases,
                           sizeof cases / sizeof *cases, 700, &gc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv_transpose");
    TCase *tc = tcase_create("conv_transpose");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_up2_and_general_shapes, 0, TU_CONV_ROUTES * ROUTE_GROUPS);
    tcase_add_test(tc, test_out_size_and_bad_shapes);
    tcase_add_loop_test(tc, test_conv_transpose_gradcheck, 0, TU_CONV_ROUTES);
    tcase_add_test(tc, test_indirect_gemm);
    tcase_add_test(tc, test_conv_transpose_igemm_wg_caps);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
