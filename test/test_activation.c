/* Activations (ELU alpha 1, tanh, sigmoid): forward against double
 * references, backward (from the output y) against a double evaluation of
 * its formula, in place, accumulate, extreme inputs and NaN, finite
 * differences, bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/ops.h"
#include "util/gradcheck.h"
#include "util/test_util.h"

typedef struct shape4 {
    int64_t n, c, h, w;
} shape4;

static const shape4 shapes[] = {
    {1, 3, 7, 9},     /* odd H, W; C % 4 != 0 */
    {1, 1, 1, 1},     /* one element */
    {2, 16, 64, 64},  /* tiny preset: enc1 output */
    {2, 128, 4, 4},   /* tiny preset: enc5 output */
    {2, 3, 64, 64},   /* tiny preset: G's output (tanh) */
    {8, 64, 32, 32},  /* larger */
};

static size_t numel(shape4 s) { return (size_t)(s.n * s.c * s.h * s.w); }

enum act { ELU, TANH, SIGMOID, ACT_COUNT };
static const char *act_name[ACT_COUNT] = {"elu", "tanh", "sigmoid"};

static cp_status act_fwd(enum act a, const cp_tensor *x, cp_tensor *y)
{
    cp_context *ctx = tu_ctx();
    switch (a) {
    case ELU: return cp_elu_forward(ctx, x, y);
    case TANH: return cp_tanh_forward(ctx, x, y);
    default: return cp_sigmoid_forward(ctx, x, y);
    }
}

static cp_status act_bwd(enum act a, const cp_tensor *y, const cp_tensor *dy, cp_tensor *dx,
                         bool acc)
{
    cp_context *ctx = tu_ctx();
    switch (a) {
    case ELU: return cp_elu_backward(ctx, y, dy, dx, acc);
    case TANH: return cp_tanh_backward(ctx, y, dy, dx, acc);
    default: return cp_sigmoid_backward(ctx, y, dy, dx, acc);
    }
}

static double ref_fwd(enum act a, double x)
{
    switch (a) {
    case ELU: return x > 0 ? x : expm1(x);
    case TANH: return tanh(x);
    default: return 1.0 / (1.0 + exp(-x));
    }
}

/* dL/dx from the output y, in double. */
static double ref_bwd(enum act a, double y, double dy)
{
    switch (a) {
    case ELU: return dy * (y > 0 ? 1.0 : y + 1.0);
    case TANH: return dy * (1.0 - y * y);
    default: return dy * y * (1.0 - y);
    }
}

/* Tolerances. Forward: OpenCL 1.2 allows expm1, exp 3 ulp, tanh 5 ulp,
 * division 2.5 ulp; sigmoid chains exp, an add and a division (~7 ulp =
 * 4.2e-7 relative), so rtol 1e-6, plus atol 1e-7 for results near 0 (tiny
 * or denormal sigmoid tails). Backward: the reference uses the device's own
 * y, so the only differences are the float roundings of 1 - y*y, y(1 - y),
 * y + 1 and the product with dy (|dy| < 1): atol 2e-7 (rounding of y*y next
 * to 1 before the subtraction), rtol 1e-6. */
#define FWD_ATOL 1e-7
#define FWD_RTOL 1e-6
#define BWD_ATOL 2e-7
#define BWD_RTOL 1e-6

static void check_act(enum act a, shape4 s, cp_rng *r)
{
    cp_context *ctx = tu_ctx();
    size_t n = numel(s);
    char what[96];
    float *x = malloc(n * sizeof *x), *dy = malloc(n * sizeof *dy),
          *dx0 = malloc(n * sizeof *dx0);
    double *want = malloc(n * sizeof *want);
    tu_fill_uniform(r, x, n, -4, 4);
    tu_fill_uniform(r, dy, n, -1, 1);
    tu_fill_uniform(r, dx0, n, -1, 1);
    cp_tensor tx = tu_tensor_from(x, s.n, s.c, s.h, s.w, "x");
    cp_tensor ty = tu_tensor_poisoned(s.n, s.c, s.h, s.w, "y");
    cp_tensor tdy = tu_tensor_from(dy, s.n, s.c, s.h, s.w, "dy");
    cp_tensor tdx = tu_tensor_poisoned(s.n, s.c, s.h, s.w, "dx");

    TU_OK(act_fwd(a, &tx, &ty));
    float *y = tu_download(&ty);
    for (size_t i = 0; i < n; i++) want[i] = ref_fwd(a, x[i]);
    snprintf(what, sizeof what, "%s forward [%lld,%lld,%lld,%lld]", act_name[a],
             (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w);
    tu_assert_close(what, y, want, n, FWD_ATOL, FWD_RTOL);

    /* In place: x overwritten by y, same values. */
    TU_OK(act_fwd(a, &tx, &tx));
    float *yi = tu_download(&tx);
    snprintf(what, sizeof what, "%s forward in place", act_name[a]);
    tu_assert_close(what, yi, want, n, FWD_ATOL, FWD_RTOL);
    free(yi);

    TU_OK(act_bwd(a, &ty, &tdy, &tdx, false));
    float *dx = tu_download(&tdx);
    for (size_t i = 0; i < n; i++) want[i] = ref_bwd(a, y[i], dy[i]);
    snprintf(what, sizeof what, "%s backward", act_name[a]);
    tu_assert_close(what, dx, want, n, BWD_ATOL, BWD_RTOL);
    free(dx);

    TU_OK(cp_tensor_upload(ctx, &tdx, dx0));
    TU_OK(act_bwd(a, &ty, &tdy, &tdx, true));
    dx = tu_download(&tdx);
    for (size_t i = 0; i < n; i++) want[i] = dx0[i] + ref_bwd(a, y[i], dy[i]);
    snprintf(what, sizeof what, "%s backward (accumulate)", act_name[a]);
    tu_assert_close(what, dx, want, n, BWD_ATOL, BWD_RTOL);
    free(dx);

    /* In place on the gradient: dx is dy's buffer. */
    TU_OK(act_bwd(a, &ty, &tdy, &tdy, false));
    dx = tu_download(&tdy);
    for (size_t i = 0; i < n; i++) want[i] = ref_bwd(a, y[i], dy[i]);
    snprintf(what, sizeof what, "%s backward in place", act_name[a]);
    tu_assert_close(what, dx, want, n, BWD_ATOL, BWD_RTOL);
    free(dx);

    free(y);
    free(x);
    free(dy);
    free(dx0);
    free(want);
    cp_tensor_free(ctx, &tx);
    cp_tensor_free(ctx, &ty);
    cp_tensor_free(ctx, &tdy);
    cp_tensor_free(ctx, &tdx);
}

START_TEST(matches_reference)
{
    cp_rng r;
    cp_rng_seed(&r, 21, 0);
    for (int a = 0; a < ACT_COUNT; a++)
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
            check_act((enum act)a, shapes[k], &r);
}
END_TEST

/* Saturation without overflow or NaN, tiny inputs, and NaN propagation. */
START_TEST(extremes_and_nan)
{
    cp_context *ctx = tu_ctx();
    const float x[] = {-100.0f, -20.0f, -1e-6f, 0.0f, 1e-6f, 20.0f, 100.0f, 3e38f, -3e38f, NAN};
    const size_t n = sizeof x / sizeof x[0];
    double want[sizeof x / sizeof x[0]];
    cp_tensor tx = tu_tensor_from(x, 1, 1, 1, (int64_t)n, "x");
    cp_tensor ty = tu_tensor_poisoned(1, 1, 1, (int64_t)n, "y");
    for (int a = 0; a < ACT_COUNT; a++) {
        TU_OK(act_fwd((enum act)a, &tx, &ty));
        float *y = tu_download(&ty);
        for (size_t i = 0; i < n - 1; i++) want[i] = ref_fwd((enum act)a, x[i]);
        tu_assert_close(act_name[a], y, want, n - 1, FWD_ATOL, FWD_RTOL);
        ck_assert_msg(isnan(y[n - 1]), "%s(NaN) is %g", act_name[a], (double)y[n - 1]);
        /* The backward sees NaN too. */
        cp_tensor tdx = tu_tensor_poisoned(1, 1, 1, (int64_t)n, "dx");
        TU_OK(act_bwd((enum act)a, &ty, &tx, &tdx, false));
        float *dx = tu_download(&tdx);
        ck_assert_msg(isnan(dx[n - 1]), "%s backward at NaN is %g", act_name[a],
                      (double)dx[n - 1]);
        free(dx);
        free(y);
        cp_tensor_free(ctx, &tdx);
    }
    cp_tensor_free(ctx, &tx);
    cp_tensor_free(ctx, &ty);
}
END_TEST

typedef struct act_user {
    enum act a;
    shape4 s;
} act_user;

static void act_forward_host(void *user, const float *x, float *y)
{
    act_user *u = user;
    cp_context *ctx = tu_ctx();
    cp_tensor tx = tu_tensor_from(x, u->s.n, u->s.c, u->s.h, u->s.w, "x");
    cp_tensor ty = tu_tensor_poisoned(u->s.n, u->s.c, u->s.h, u->s.w, "y");
    TU_OK(act_fwd(u->a, &tx, &ty));
    TU_OK(cp_tensor_download(ctx, &ty, y));
    cp_tensor_free(ctx, &tx);
    cp_tensor_free(ctx, &ty);
}

/* Finite differences with h = 1e-2. Truncation error of the central
 * difference is h^2/6 |f'''| <= 3.4e-5 (|f'''| <= 2 for tanh, <= 1 for ELU
 * on x < 0, 0.125 for sigmoid). Rounding: only y_i changes with x_i (the
 * other terms of L cancel exactly in double), and each evaluation of y_i is
 * off by at most ~5 ulp of |y| <= 3, i.e. 9e-7; over 2h that is <= 1e-4
 * (times |r| < 1). Hence atol 2e-4 and rtol 1e-3. Inputs are |x| in
 * [0.05, 3], away from ELU's kink at 0 by more than h. */
START_TEST(gradcheck)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 22, 0);
    act_user u = {ELU, {2, 3, 5, 7}};
    size_t n = numel(u.s);
    float *x = malloc(n * sizeof *x), *rr = malloc(n * sizeof *rr);
    for (int a = 0; a < ACT_COUNT; a++) {
        u.a = (enum act)a;
        tu_fill_uniform(&r, x, n, 0.05f, 3.0f);
        for (size_t i = 0; i < n; i++)
            if (cp_rng_uniform(&r) < 0.5f) x[i] = -x[i];
        tu_fill_uniform(&r, rr, n, -1, 1);
        cp_tensor tx = tu_tensor_from(x, u.s.n, u.s.c, u.s.h, u.s.w, "x");
        cp_tensor tr = tu_tensor_from(rr, u.s.n, u.s.c, u.s.h, u.s.w, "dy");
        cp_tensor tdx = tu_tensor_poisoned(u.s.n, u.s.c, u.s.h, u.s.w, "dx");
        TU_OK(act_fwd(u.a, &tx, &tx)); /* y, in place */
        TU_OK(act_bwd(u.a, &tx, &tr, &tdx, false));
        float *dx = tu_download(&tdx);
        tu_gradcheck_opts o = {.h = 1e-2, .atol = 2e-4, .rtol = 1e-3, .checks = n};
        tu_gradcheck(act_name[a], act_forward_host, &u, x, n, n, rr, dx, &o, &r);
        free(dx);
        cp_tensor_free(ctx, &tx);
        cp_tensor_free(ctx, &tr);
        cp_tensor_free(ctx, &tdx);
    }
    free(x);
    free(rr);
}
END_TEST

START_TEST(bad_arguments)
{
    cp_context *ctx = tu_ctx();
    cp_tensor a = tu_tensor_poisoned(1, 2, 3, 4, "a");
    cp_tensor b = tu_tensor_poisoned(1, 2, 3, 5, "b");
    ck_assert_int_eq(cp_elu_forward(ctx, &a, &b), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "b[1,2,3,5]"));
    ck_assert_int_eq(cp_tanh_forward(ctx, NULL, &b), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_sigmoid_backward(ctx, &a, &b, &a, false), CP_ERR_INVALID_ARGUMENT);
    TU_OK(cp_elu_backward(ctx, &a, &a, NULL, false)); /* NULL dx: nothing to do */
    cp_tensor_free(ctx, &a);
    cp_tensor_free(ctx, &b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("activation");
    TCase *tc = tcase_create("activation");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, matches_reference);
    tcase_add_test(tc, extremes_and_nan);
    tcase_add_test(tc, gradcheck);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
