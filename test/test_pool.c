/* Max pooling 2x2 stride 2: forward and backward against a double reference
 * on odd sizes, the tiny preset's real shapes and a large shape; the
 * first-maximum tie rule; NaN propagation; accumulate; finite differences;
 * bad shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/ops.h"
#include "util/gradcheck.h"
#include "util/test_util.h"

typedef struct shape4 {
    int64_t n, c, h, w;
} shape4;

static const shape4 shapes[] = {
    {1, 1, 2, 2},    {1, 3, 7, 9},    {3, 5, 5, 3},    {2, 7, 6, 6}, /* odd sizes, C % 4 != 0 */
    {2, 16, 64, 64}, {2, 32, 32, 32}, {2, 64, 16, 16},               /* tiny preset's pools */
    {2, 64, 8, 8},   {2, 128, 4, 4},                                  /* ... down to 2x2 */
    {8, 64, 32, 32},                                                  /* larger */
};

static size_t numel(shape4 s) { return (size_t)(s.n * s.c * s.h * s.w); }

/* Bit-exact comparison (pooling copies values). */
static void assert_exact(const char *what, const float *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg((double)got[i] == want[i], "%s: element %zu is %.9g, expected %.9g",
                      what, i, (double)got[i], want[i]);
}

/* Index 0..3 of the first maximum (a NaN wins) of the window at (nc, oh, ow). */
static int ref_argmax(const float *x, shape4 s, int64_t nc, int64_t oh, int64_t ow)
{
    const float *p = x + (size_t)(nc * s.h * s.w + 2 * oh * s.w + 2 * ow);
    float v[4] = {p[0], p[1], p[s.w], p[s.w + 1]};
    int k = 0;
    for (int i = 1; i < 4; i++) {
        if (isnan(v[k])) break;
        if (isnan(v[i]) || (double)v[i] > (double)v[k]) k = i;
    }
    return k;
}

static void ref_forward(const float *x, shape4 s, double *y)
{
    int64_t ho = s.h / 2, wo = s.w / 2;
    for (int64_t nc = 0; nc < s.n * s.c; nc++)
        for (int64_t oh = 0; oh < ho; oh++)
            for (int64_t ow = 0; ow < wo; ow++) {
                int k = ref_argmax(x, s, nc, oh, ow);
                y[(nc * ho + oh) * wo + ow] =
                    x[nc * s.h * s.w + (2 * oh + k / 2) * s.w + 2 * ow + k % 2];
            }
}

/* dx = (acc ? dx0 : 0) + dy routed to each window's first maximum. */
static void ref_backward(const float *x, const float *dy, const float *dx0, shape4 s,
                         double *dx)
{
    int64_t ho = s.h / 2, wo = s.w / 2;
    for (size_t i = 0; i < numel(s); i++) dx[i] = dx0 ? dx0[i] : 0.0;
    for (int64_t nc = 0; nc < s.n * s.c; nc++)
        for (int64_t oh = 0; oh < ho; oh++)
            for (int64_t ow = 0; ow < wo; ow++) {
                int k = ref_argmax(x, s, nc, oh, ow);
                dx[nc * s.h * s.w + (2 * oh + k / 2) * s.w + 2 * ow + k % 2] +=
                    dy[(nc * ho + oh) * wo + ow];
            }
}

/* Runs forward and backward (plain and accumulating) on host x and checks
 * both against the reference. Forward and the plain backward are exact
 * copies, so they must match bit for bit; the accumulating backward adds
 * two floats (one rounding: rtol 1e-7 covers it). */
static void check_case(const float *x, shape4 s, cp_rng *r)
{
    cp_context *ctx = tu_ctx();
    shape4 so = {s.n, s.c, s.h / 2, s.w / 2};
    size_t nx = numel(s), ny = numel(so);
    float *dy = malloc(ny * sizeof *dy), *dx0 = malloc(nx * sizeof *dx0);
    double *want_y = malloc(ny * sizeof *want_y), *want_dx = malloc(nx * sizeof *want_dx);
    tu_fill_uniform(r, dy, ny, -1, 1);
    tu_fill_uniform(r, dx0, nx, -1, 1);

    cp_tensor tx = tu_tensor_from(x, s.n, s.c, s.h, s.w, "x");
    cp_tensor ty = tu_tensor_poisoned(so.n, so.c, so.h, so.w, "y");
    cp_tensor tdy = tu_tensor_from(dy, so.n, so.c, so.h, so.w, "dy");
    cp_tensor tdx = tu_tensor_poisoned(s.n, s.c, s.h, s.w, "dx");

    TU_OK(cp_maxpool2_forward(ctx, &tx, &ty));
    float *y = tu_download(&ty);
    ref_forward(x, s, want_y);
    assert_exact("maxpool forward", y, want_y, ny);

    TU_OK(cp_maxpool2_backward(ctx, &tx, &tdy, &tdx, false));
    float *dx = tu_download(&tdx);
    ref_backward(x, dy, NULL, s, want_dx);
    assert_exact("maxpool backward", dx, want_dx, nx);
    free(dx);

    TU_OK(cp_tensor_upload(ctx, &tdx, dx0));
    TU_OK(cp_maxpool2_backward(ctx, &tx, &tdy, &tdx, true));
    dx = tu_download(&tdx);
    ref_backward(x, dy, dx0, s, want_dx);
    tu_assert_close("maxpool backward (accumulate)", dx, want_dx, nx, 1e-7, 1e-7);

    free(dx);
    free(y);
    free(dy);
    free(dx0);
    free(want_y);
    free(want_dx);
    cp_tensor_free(ctx, &tx);
    cp_tensor_free(ctx, &ty);
    cp_tensor_free(ctx, &tdy);
    cp_tensor_free(ctx, &tdx);
}

START_TEST(matches_reference)
{
    cp_rng r;
    cp_rng_seed(&r, 11, 0);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        float *x = malloc(numel(shapes[k]) * sizeof *x);
        tu_fill_uniform(&r, x, numel(shapes[k]), -2, 2);
        check_case(x, shapes[k], &r);
        free(x);
    }
}
END_TEST

/* Exact ties: every 2x2 pattern of two values (16 per channel) and
 * all-equal windows; plus values quantised to 3 levels so that ties fall at
 * every pair of positions. The reference gives the gradient to the first
 * maximum in row-major order. */
START_TEST(ties_first_maximum_wins)
{
    cp_context *ctx = tu_ctx();
    shape4 s = {1, 2, 8, 8}; /* 16 windows per channel */
    size_t n = numel(s);
    float *x = malloc(n * sizeof *x);
    for (int64_t c = 0; c < s.c; c++)
        for (int win = 0; win < 16; win++) {
            int64_t oh = win / 4, ow = win % 4;
            for (int k = 0; k < 4; k++) {
                /* bit k of win: window element k is the high value */
                float v = (win >> k) & 1 ? 1.5f : -0.5f;
                if (c == 1) v = win == 0 ? 0.0f : v; /* channel 1 window 0 all zero */
                x[c * 64 + (2 * oh + k / 2) * 8 + 2 * ow + k % 2] = v;
            }
        }
    cp_rng r;
    cp_rng_seed(&r, 12, 0);
    check_case(x, s, &r);

    /* Spot checks by hand: window 0 (all -0.5) and window 15 (all 1.5) give
     * the gradient to element 0; window 6 (bits 1, 2) to element 1. */
    float dy[32];
    for (int i = 0; i < 32; i++) dy[i] = 1.0f + (float)i;
    cp_tensor tx = tu_tensor_from(x, s.n, s.c, s.h, s.w, "x");
    cp_tensor tdy = tu_tensor_from(dy, 1, 2, 4, 4, "dy");
    cp_tensor tdx = tu_tensor_poisoned(s.n, s.c, s.h, s.w, "dx");
    TU_OK(cp_maxpool2_backward(ctx, &tx, &tdy, &tdx, false));
    float *dx = tu_download(&tdx);
    ck_assert_float_eq(dx[0], 1.0f);
    ck_assert_float_eq(dx[1], 0.0f);
    ck_assert_float_eq(dx[8], 0.0f);
    ck_assert_float_eq(dx[9], 0.0f);
    /* window 15: oh 3, ow 3 -> element (6, 6) */
    ck_assert_float_eq(dx[6 * 8 + 6], 16.0f);
    ck_assert_float_eq(dx[7 * 8 + 7], 0.0f);
    /* window 6: oh 1, ow 2 -> top-right (2, 5) */
    ck_assert_float_eq(dx[2 * 8 + 5], 7.0f);
    ck_assert_float_eq(dx[3 * 8 + 4], 0.0f);
    free(dx);
    cp_tensor_free(ctx, &tx);
    cp_tensor_free(ctx, &tdy);
    cp_tensor_free(ctx, &tdx);
    free(x);

    /* The same 16 tie patterns along one row of 20 windows: the kernels'
     * 8-window vector path (two blocks) and the scalar tail (4 windows). */
    shape4 s1 = {1, 2, 2, 40};
    x = malloc(numel(s1) * sizeof *x);
    for (int64_t c = 0; c < s1.c; c++)
        for (int win = 0; win < 20; win++)
            for (int k = 0; k < 4; k++)
                x[c * 80 + (k / 2) * 40 + 2 * win + k % 2] =
                    ((win + 5 * c) % 16 >> k) & 1 ? 1.5f : -0.5f;
    check_case(x, s1, &r);
    free(x);

    /* Three levels on larger, odd-sized input: ties everywhere. */
    shape4 s2 = {2, 3, 9, 11};
    x = malloc(numel(s2) * sizeof *x);
    for (size_t i = 0; i < numel(s2); i++) x[i] = (float)cp_rng_range(&r, -1, 1);
    check_case(x, s2, &r);
    free(x);
}
END_TEST

START_TEST(nan_propagates)
{
    cp_context *ctx = tu_ctx();
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    x[5] = NAN;  /* row 1, col 1: window 0 */
    x[15] = NAN; /* row 3, col 3: window 3 */
    cp_tensor tx = tu_tensor_from(x, 1, 1, 4, 4, "x");
    cp_tensor ty = tu_tensor_poisoned(1, 1, 2, 2, "y");
    TU_OK(cp_maxpool2_forward(ctx, &tx, &ty));
    float *y = tu_download(&ty);
    ck_assert(isnan(y[0]) && isnan(y[3]));
    ck_assert_float_eq(y[1], 7.0f);
    ck_assert_float_eq(y[2], 13.0f);
    free(y);
    cp_tensor_free(ctx, &tx);
    cp_tensor_free(ctx, &ty);

    /* The vector path (8 windows per work-item): a row of 8 windows, NaN at
     * window element 0, 1, 2 or 3 after / before larger numbers. */
    float xw[2 * 16];
    for (int i = 0; i < 32; i++) xw[i] = (float)i * 0.25f; /* no ties: bottom-right wins */
    xw[0] = NAN;          /* window 0: NaN first */
    xw[2 * 2 + 1] = NAN;  /* window 2: NaN second */
    xw[16 + 2 * 5] = NAN; /* window 5: NaN third, after 2.5 and 2.75 */
    xw[16 + 2 * 7 + 1] = NAN; /* window 7: NaN last */
    xw[2 * 3 + 1] = NAN;      /* window 3: two NaNs, the first (element 1) wins */
    xw[16 + 2 * 3 + 1] = NAN;
    cp_tensor twx = tu_tensor_from(xw, 1, 1, 2, 16, "x");
    cp_tensor twy = tu_tensor_poisoned(1, 1, 1, 8, "y");
    TU_OK(cp_maxpool2_forward(ctx, &twx, &twy));
    y = tu_download(&twy);
    for (int win = 0; win < 8; win++) {
        bool nan_window = win == 0 || win == 2 || win == 3 || win == 5 || win == 7;
        if (nan_window) ck_assert_msg(isnan(y[win]), "window %d: %g, expected NaN", win, y[win]);
        else ck_assert_float_eq(y[win], (float)(16 + 2 * win + 1) * 0.25f);
    }
    free(y);
    float dyw[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cp_tensor twdy = tu_tensor_from(dyw, 1, 1, 1, 8, "dy");
    cp_tensor twdx = tu_tensor_poisoned(1, 1, 2, 16, "dx");
    TU_OK(cp_maxpool2_backward(ctx, &twx, &twdy, &twdx, false));
    float *dxw = tu_download(&twdx);
    /* the NaN takes the gradient; elsewhere the bottom-right (largest) */
    ck_assert_float_eq(dxw[0], 1.0f);
    ck_assert_float_eq(dxw[2 * 2 + 1], 3.0f);
    ck_assert_float_eq(dxw[16 + 2 * 5], 6.0f);
    ck_assert_float_eq(dxw[16 + 2 * 7 + 1], 8.0f);
    ck_assert_float_eq(dxw[16 + 2 * 1 + 1], 2.0f);
    ck_assert_float_eq(dxw[2 * 3 + 1], 4.0f);
    ck_assert_float_eq(dxw[16 + 2 * 3 + 1], 0.0f);
    float total = 0.0f;
    for (int i = 0; i < 32; i++) total += dxw[i];
    ck_assert_float_eq(total, 36.0f); /* every dy once, all other elements 0 */
    free(dxw);
    cp_tensor_free(ctx, &twx);
    cp_tensor_free(ctx, &twdx);
    cp_tensor_free(ctx, &twdy);
}
END_TEST

typedef struct pool_user {
    shape4 s;
} pool_user;

static void pool_forward(void *user, const float *x, float *y)
{
    pool_user *u = user;
    cp_context *ctx = tu_ctx();
    cp_tensor tx = tu_tensor_from(x, u->s.n, u->s.c, u->s.h, u->s.w, "x");
    cp_tensor ty = tu_tensor_poisoned(u->s.n, u->s.c, u->s.h / 2, u->s.w / 2, "y");
    TU_OK(cp_maxpool2_forward(ctx, &tx, &ty));
    TU_OK(cp_tensor_download(ctx, &ty, y));
    cp_tensor_free(ctx, &tx);
    cp_tensor_free(ctx, &ty);
}

/* Finite differences. The input is a shuffled ladder of values 0.01 apart,
 * so with h = 1e-3 (< half the spacing) no perturbation changes a window's
 * winner: pooling is then linear around x, and the central difference of
 * L = sum r y equals r at the winner (0 elsewhere) up to double rounding of
 * L (the other terms cancel exactly), far below atol = 1e-5. */
START_TEST(gradcheck)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 13, 0);
    const shape4 gs[] = {{2, 3, 5, 7}, {1, 2, 4, 4}};
    for (size_t k = 0; k < 2; k++) {
        pool_user u = {gs[k]};
        size_t nx = numel(u.s), ny = (size_t)(u.s.n * u.s.c * (u.s.h / 2) * (u.s.w / 2));
        float *x = malloc(nx * sizeof *x), *rr = malloc(ny * sizeof *rr);
        for (size_t i = 0; i < nx; i++) x[i] = -1.0f + 0.01f * (float)i;
        for (size_t i = nx - 1; i > 0; i--) { /* Fisher-Yates */
            size_t j = (size_t)cp_rng_range(&r, 0, (int64_t)i);
            float t = x[i];
            x[i] = x[j];
            x[j] = t;
        }
        tu_fill_uniform(&r, rr, ny, -1, 1);
        cp_tensor tx = tu_tensor_from(x, u.s.n, u.s.c, u.s.h, u.s.w, "x");
        cp_tensor tdy = tu_tensor_from(rr, u.s.n, u.s.c, u.s.h / 2, u.s.w / 2, "dy");
        cp_tensor tdx = tu_tensor_poisoned(u.s.n, u.s.c, u.s.h, u.s.w, "dx");
        TU_OK(cp_maxpool2_backward(ctx, &tx, &tdy, &tdx, false));
        float *dx = tu_download(&tdx);
        tu_gradcheck_opts o = {.h = 1e-3, .atol = 1e-5, .rtol = 1e-5, .checks = nx};
        tu_gradcheck("maxpool dx", pool_forward, &u, x, nx, ny, rr, dx, &o, &r);
        free(dx);
        free(x);
        free(rr);
        cp_tensor_free(ctx, &tx);
        cp_tensor_free(ctx, &tdy);
        cp_tensor_free(ctx, &tdx);
    }
}
END_TEST

START_TEST(bad_shapes)
{
    cp_context *ctx = tu_ctx();
    cp_tensor x = tu_tensor_poisoned(1, 2, 5, 5, "x");
    cp_tensor y = tu_tensor_poisoned(1, 2, 3, 2, "y");
    cp_tensor one = tu_tensor_poisoned(1, 2, 1, 4, "thin");
    ck_assert_int_eq(cp_maxpool2_forward(ctx, &x, &y), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "y[1,2,3,2]"));
    ck_assert_int_eq(cp_maxpool2_forward(ctx, &one, &y), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_maxpool2_forward(ctx, NULL, &y), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_maxpool2_backward(ctx, &x, &y, &x, false), CP_ERR_INVALID_ARGUMENT);
    /* NULL dx: nothing to compute. */
    TU_OK(cp_maxpool2_backward(ctx, &x, &y, NULL, false));
    cp_tensor_free(ctx, &x);
    cp_tensor_free(ctx, &y);
    cp_tensor_free(ctx, &one);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, matches_reference);
    tcase_add_test(tc, ties_first_maximum_wins);
    tcase_add_test(tc, nan_propagates);
    tcase_add_test(tc, gradcheck);
    tcase_add_test(tc, bad_shapes);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
