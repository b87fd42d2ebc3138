/* Batch normalisation: training forward (batch statistics, saved mean and
 * invstd, running statistics with the unbiased variance, or left alone),
 * evaluation forward, backward (dx, dgamma, dbeta, any subset, accumulate),
 * against double references on odd, tiny-preset and large shapes and with
 * every reduction work-group size; accuracy on data with a large mean;
 * finite differences; NaN; bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/ops.h"
#include "backend/opencl/ops/ops_internal.h"
#include "util/gradcheck.h"
#include "util/test_util.h"

typedef struct shape4 {
    int64_t n, c, h, w;
} shape4;

static size_t numel(shape4 s) { return (size_t)(s.n * s.c * s.h * s.w); }

static const cp_bn_params BN = {1e-5f, 0.1f};

static float *rnd(cp_rng *r, size_t n, float lo, float hi)
{
    float *p = malloc(n * sizeof *p);
    ck_assert_ptr_nonnull(p);
    tu_fill_uniform(r, p, n, lo, hi);
    return p;
}

static cp_tensor dev(const float *h, shape4 s, const char *name)
{
    return tu_tensor_from(h, s.n, s.c, s.h, s.w, name);
}

static cp_tensor vec(const float *h, int64_t c, const char *name)
{
    return tu_tensor_from(h, c, 1, 1, 1, name);
}

#define IDX(s, b_, c_, j_) ((size_t)(((b_) * (s).c + (c_)) * (s).h * (s).w) + (j_))

/* Double reference of everything, per channel. */
typedef struct bn_ref {
    double *mean, *var, *invstd, *rm, *rv; /* [C] */
    double *y;                             /* [numel] */
    double *dx, *dgamma, *dbeta;           /* backward, no accumulation */
    double *abs_dg, *abs_db;               /* sum |terms| of dgamma, dbeta */
} bn_ref;

static void ref_compute(shape4 s, const float *x, const float *gamma, const float *beta,
                        const float *rm0, const float *rv0, const float *dy, bn_ref *o)
{
    size_t hw = (size_t)(s.h * s.w), m = (size_t)s.n * hw;
    for (int64_t c = 0; c < s.c; c++) {
        double sum = 0, sq = 0;
        for (int64_t n = 0; n < s.n; n++)
            for (size_t j = 0; j < hw; j++) sum += x[IDX(s, n, c, j)];
        double mean = sum / (double)m;
        for (int64_t n = 0; n < s.n; n++)
            for (size_t j = 0; j < hw; j++) {
                double d = x[IDX(s, n, c, j)] - mean;
                sq += d * d;
            }
        double var = sq / (double)m, inv = 1.0 / sqrt(var + (double)BN.eps);
        o->mean[c] = mean;
        o->var[c] = var;
        o->invstd[c] = inv;
        o->rm[c] = 0.9 * rm0[c] + 0.1 * mean;
        o->rv[c] = 0.9 * rv0[c] + 0.1 * sq / (double)(m - 1);
        double sdy = 0, sdyx = 0, adb = 0, adg = 0;
        for (int64_t n = 0; n < s.n; n++)
            for (size_t j = 0; j < hw; j++) {
                size_t i = IDX(s, n, c, j);
                double xh = (x[i] - mean) * inv;
                o->y[i] = xh * gamma[c] + beta[c];
                sdy += dy[i];
                sdyx += dy[i] * xh;
                adb += fabs(dy[i]);
                adg += fabs(dy[i] * xh);
            }
        o->dbeta[c] = sdy;
        o->dgamma[c] = sdyx;
        o->abs_db[c] = adb;
        o->abs_dg[c] = adg;
        for (int64_t n = 0; n < s.n; n++)
            for (size_t j = 0; j < hw; j++) {
                size_t i = IDX(s, n, c, j);
                double xh = (x[i] - mean) * inv;
                o->dx[i] = gamma[c] * inv * (dy[i] - sdy / (double)m - xh * sdyx / (double)m);
            }
    }
}

static double max_abs(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

static double max_absf(const float *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)v[i]));
    return m;
}

static void expect(const char *what, shape4 s, const cp_tensor *t, const double *want,
                   double atol, double rtol)
{
    char msg[192];
    snprintf(msg, sizeof msg, "%s [%lld,%lld,%lld,%lld] (work-group cap %zu)", what,
             (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w,
             cp_opsi_reduce_wg_cap);
    float *got = tu_download(t);
    tu_assert_close(msg, got, want, cp_tensor_numel(t), atol, rtol);
    free(got);
}

/* Tolerances, from float rounding:
 * - mean: the device sum (compensated per item, then a tree) is within a few ulp
 *   of the sum of |x|: atol 4 ulp(max|x|) = 4 * 2^-23 max|x|, rtol 1e-6.
 * - invstd, running var: the two-pass variance has no cancellation (the
 *   mean's error enters squared), sqrt and division add ~3 ulp: rtol 1e-5.
 * - y = (x - mean) invstd gamma + beta: the mean's error (above) scaled by
 *   invstd |gamma|, plus ~4 ulp of |y|: atol 8 ulp(max|x|) max(invstd)
 *   max|gamma| + 1e-6, rtol 1e-5.
 * - dx: the same x-hat error times the mean of dy x-hat, plus a few ulp of
 *   gamma invstd |dy|: atol 8e-7 max(invstd) max|gamma| (1 + ulp term),
 *   rtol 1e-5.
 * - dgamma, dbeta: sums of M terms; error <= ~1e-6 of the sum of |terms|.
 */
static void check_bn(shape4 s, cp_rng *r, float lo, float hi)
{
    cp_context *ctx = tu_ctx();
    size_t n = numel(s), c = (size_t)s.c;
    shape4 sv = {s.c, 1, 1, 1};
    float *x = rnd(r, n, lo, hi), *dy = rnd(r, n, -1, 1), *dx0 = rnd(r, n, -1, 1);
    float *gamma = rnd(r, c, 0.5f, 1.5f), *beta = rnd(r, c, -0.5f, 0.5f);
    float *rm0 = rnd(r, c, -0.5f, 0.5f), *rv0 = rnd(r, c, 0.5f, 2.0f);
    float *dg0 = rnd(r, c, -1, 1), *db0 = rnd(r, c, -1, 1);
    bn_ref o;
    double *all = malloc((8 * c + 2 * n) * sizeof *all);
    o.mean = all, o.var = all + c, o.invstd = all + 2 * c, o.rm = all + 3 * c;
    o.rv = all + 4 * c, o.dgamma = all + 5 * c, o.dbeta = all + 6 * c;
    o.abs_dg = all + 7 * c, o.y = all + 8 * c, o.dx = all + 8 * c + n;
    double *abs_db = malloc(c * sizeof *abs_db), *want = malloc(n * sizeof *want);
    o.abs_db = abs_db;
    ref_compute(s, x, gamma, beta, rm0, rv0, dy, &o);

    double ulp_x = max_absf(x, n) * 0x1p-23, inv_max = max_abs(o.invstd, c);
    double g_max = max_absf(gamma, c);
    double atol_mean = 4 * ulp_x, atol_y = 8 * ulp_x * inv_max * g_max + 1e-6;
    double atol_dx = 8e-7 * inv_max * g_max * (1 + 8 * ulp_x * inv_max);
    double atol_dg = 1e-6 * max_abs(o.abs_dg, c) + 1e-7;
    double atol_db = 1e-6 * max_abs(abs_db, c) + 1e-7;

    cp_tensor tx = dev(x, s, "x"), tdy = dev(dy, s, "dy"), tg = vec(gamma, s.c, "gamma");
    cp_tensor tb = vec(beta, s.c, "beta"), trm = vec(rm0, s.c, "running_mean");
    cp_tensor trv = vec(rv0, s.c, "running_var");
    cp_tensor ty = tu_tensor_poisoned(s.n, s.c, s.h, s.w, "y");
    cp_tensor tdx = tu_tensor_poisoned(s.n, s.c, s.h, s.w, "dx");
    cp_tensor tsm = tu_tensor_poisoned(s.c, 1, 1, 1, "save_mean");
    cp_tensor tsi = tu_tensor_poisoned(s.c, 1, 1, 1, "save_invstd");
    cp_tensor tdg = tu_tensor_poisoned(s.c, 1, 1, 1, "dgamma");
    cp_tensor tdb = tu_tensor_poisoned(s.c, 1, 1, 1, "dbeta");

    const size_t caps[] = {0, 1, 4};
    for (size_t k = 0; k < 3; k++) {
        cp_opsi_reduce_wg_cap = caps[k];
        TU_OK(cp_tensor_upload(ctx, &trm, rm0));
        TU_OK(cp_tensor_upload(ctx, &trv, rv0));
        TU_OK(cp_tensor_fill(ctx, &ty, NAN));
        TU_OK(cp_tensor_fill(ctx, &tsm, NAN));
        TU_OK(cp_tensor_fill(ctx, &tsi, NAN));
        TU_OK(cp_batchnorm_forward_train(ctx, &BN, &tx, &tg, &tb, &trm, &trv, true, &ty, &tsm,
                                         &tsi));
        expect("bn save_mean", sv, &tsm, o.mean, atol_mean, 1e-6);
        expect("bn save_invstd", sv, &tsi, o.invstd, 0, 1e-5);
        expect("bn y", s, &ty, o.y, atol_y, 1e-5);
        expect("bn running_mean", sv, &trm, o.rm, atol_mean, 1e-6);
        expect("bn running_var (unbiased)", sv, &trv, o.rv, 0, 1e-5);

        TU_OK(cp_tensor_fill(ctx, &tdx, NAN));
        TU_OK(cp_tensor_fill(ctx, &tdg, NAN));
        TU_OK(cp_tensor_fill(ctx, &tdb, NAN));
        TU_OK(cp_batchnorm_backward(ctx, &tx, &tg, &tsm, &tsi, &tdy, &tdx, &tdg, &tdb, false));
        expect("bn dx", s, &tdx, o.dx, atol_dx, 1e-5);
        expect("bn dgamma", sv, &tdg, o.dgamma, atol_dg, 1e-6);
        expect("bn dbeta", sv, &tdb, o.dbeta, atol_db, 1e-6);
    }
    cp_opsi_reduce_wg_cap = 0;

    /* update_running = false leaves the running statistics alone; they may
     * also be NULL then. */
    TU_OK(cp_tensor_upload(ctx, &trm, rm0));
    TU_OK(cp_tensor_upload(ctx, &trv, rv0));
    TU_OK(cp_batchnorm_forward_train(ctx, &BN, &tx, &tg, &tb, &trm, &trv, false, &ty, &tsm,
                                     &tsi));
    float *got = tu_download(&trm);
    ck_assert_int_eq(memcmp(got, rm0, c * sizeof *got), 0);
    free(got);
    got = tu_download(&trv);
    ck_assert_int_eq(memcmp(got, rv0, c * sizeof *got), 0);
    free(got);
    expect("bn y (no running update)", s, &ty, o.y, atol_y, 1e-5);
    TU_OK(cp_tensor_fill(ctx, &ty, NAN));
    TU_OK(cp_batchnorm_forward_train(ctx, &BN, &tx, &tg, &tb, NULL, NULL, false, &ty, &tsm,
                                     &tsi));
    expect("bn y (no running tensors)", s, &ty, o.y, atol_y, 1e-5);

    /* Backward: accumulate, and each output alone. */
    TU_OK(cp_tensor_upload(ctx, &tdx, dx0));
    TU_OK(cp_tensor_upload(ctx, &tdg, dg0));
    TU_OK(cp_tensor_upload(ctx, &tdb, db0));
    TU_OK(cp_batchnorm_backward(ctx, &tx, &tg, &tsm, &tsi, &tdy, &tdx, &tdg, &tdb, true));
    for (size_t i = 0; i < n; i++) want[i] = dx0[i] + o.dx[i];
    expect("bn dx (accumulate)", s, &tdx, want, atol_dx, 1e-5);
    for (size_t i = 0; i < c; i++) want[i] = dg0[i] + o.dgamma[i];
    expect("bn dgamma (accumulate)", sv, &tdg, want, atol_dg, 1e-6);
    for (size_t i = 0; i < c; i++) want[i] = db0[i] + o.dbeta[i];
    expect("bn dbeta (accumulate)", sv, &tdb, want, atol_db, 1e-6);
    TU_OK(cp_tensor_fill(ctx, &tdx, NAN));
    TU_OK(cp_batchnorm_backward(ctx, &tx, &tg, &tsm, &tsi, &tdy, &tdx, NULL, NULL, false));
    expect("bn dx only", s, &tdx, o.dx, atol_dx, 1e-5);
    TU_OK(cp_tensor_fill(ctx, &tdg, NAN));
    TU_OK(cp_batchnorm_backward(ctx, &tx, &tg, &tsm, &tsi, &tdy, NULL, &tdg, NULL, false));
    expect("bn dgamma only", sv, &tdg, o.dgamma, atol_dg, 1e-6);
    TU_OK(cp_tensor_fill(ctx, &tdb, NAN));
    TU_OK(cp_batchnorm_backward(ctx, &tx, &tg, &tsm, &tsi, &tdy, NULL, NULL, &tdb, false));
    expect("bn dbeta only", sv, &tdb, o.dbeta, atol_db, 1e-6);

    /* Evaluation mode with the (updated) running statistics rv0, rm0. */
    for (int64_t ch = 0; ch < s.c; ch++)
        for (int64_t b = 0; b < s.n; b++)
            for (size_t j = 0; j < (size_t)(s.h * s.w); j++) {
                size_t i = IDX(s, b, ch, j);
                want[i] = (x[i] - (double)rm0[ch]) / sqrt((double)rv0[ch] + (double)BN.eps) *
                              gamma[ch] +
                          beta[ch];
            }
    TU_OK(cp_tensor_fill(ctx, &ty, NAN));
    TU_OK(cp_batchnorm_forward_eval(ctx, &BN, &tx, &tg, &tb, &trm, &trv, &ty));
    /* |x - rm| up to max|x| + 0.5, / sqrt(rv) >= 0.7, times gamma <= 1.5 */
    expect("bn eval y", s, &ty, want, 8 * ulp_x * 1.5 * 1.5 + 1e-6, 1e-5);

    free(x);
    free(dy);
    free(dx0);
    free(gamma);
    free(beta);
    free(rm0);
    free(rv0);
    free(dg0);
    free(db0);
    free(all);
    free(abs_db);
    free(want);
    cp_tensor *ts[] = {&tx, &tdy, &tg, &tb, &trm, &trv, &ty, &tdx, &tsm, &tsi, &tdg, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) cp_tensor_free(ctx, ts[i]);
}

START_TEST(matches_reference)
{
    cp_rng r;
    cp_rng_seed(&r, 41, 0);
    const shape4 shapes[] = {
        {1, 3, 5, 7},    /* odd H, W; batch 1; C % 4 != 0 */
        {3, 5, 1, 1},    /* dense-like: M = 3 */
        {1, 2, 1, 2},    /* M = 2, the smallest allowed */
        {2, 128, 4, 4},  /* tiny preset: enc5 */
        {2, 16, 64, 64}, /* tiny preset: enc1 */
        {2, 64, 8, 8},   /* tiny preset: enc4 */
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        check_bn(shapes[k], &r, -2, 2);
}
END_TEST

START_TEST(large_and_offset)
{
    cp_rng r;
    cp_rng_seed(&r, 42, 0);
    shape4 s = {8, 64, 32, 32};
    check_bn(s, &r, -2, 2);
    /* Mean 100, std 0.58: E[x^2] - E[x]^2 in float would lose ~3 digits of
     * the variance; the two-pass variance keeps rtol 1e-5. */
    shape4 s2 = {8, 6, 32, 32};
    check_bn(s2, &r, 99, 101);
}
END_TEST

START_TEST(nan_propagates)
{
    cp_context *ctx = tu_ctx();
    float x[8] = {1, 2, 3, NAN, 5, 6, 7, 8}, ones[2] = {1, 1}, zeros[2] = {0, 0};
    shape4 s = {2, 2, 1, 2};
    cp_tensor tx = dev(x, s, "x"), tg = vec(ones, 2, "gamma"), tb = vec(zeros, 2, "beta");
    cp_tensor ty = tu_tensor_poisoned(2, 2, 1, 2, "y");
    cp_tensor tsm = tu_tensor_poisoned(2, 1, 1, 1, "sm");
    cp_tensor tsi = tu_tensor_poisoned(2, 1, 1, 1, "si");
    TU_OK(cp_batchnorm_forward_train(ctx, &BN, &tx, &tg, &tb, NULL, NULL, false, &ty, &tsm,
                                     &tsi));
    float *y = tu_download(&ty);
    /* x[3] is channel 1 of sample 0: channel 1 is NaN, channel 0 is not. */
    ck_assert(isnan(y[2]) && isnan(y[3]) && isnan(y[6]) && isnan(y[7]));
    ck_assert(!isnan(y[0]) && !isnan(y[1]) && !isnan(y[4]) && !isnan(y[5]));
    free(y);
    cp_tensor *ts[] = {&tx, &tg, &tb, &ty, &tsm, &tsi};
    for (size_t i = 0; i < 6; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

/* ---- finite differences ----
 * L = sum r y with y the training-mode output, shape [2, 3, 4, 5] (M = 40
 * per channel), x in [-2, 2] (std ~1.15). h = 1e-2: the truncation error
 * h^2/6 |d3L/dx3| is ~1e-5 here (derivatives scale with invstd^k ~ 1). The
 * rounding noise: a perturbation changes all 40 outputs of its channel,
 * each rounded to ~1.2e-7 (plus the shared rounding of mean and invstd),
 * so |dL| noise <= 40 * 2 * 2.4e-7 ~ 2e-5, over 2h: <= 1e-3 in the worst
 * case. atol 1e-3, rtol 1e-2; a missing term of the dx formula is ~0.1.
 * gamma and beta enter linearly: only the rounding part applies. */
typedef struct bn_user {
    int wrt; /* 0: x, 1: gamma, 2: beta */
    shape4 s;
    const float *x, *gamma, *beta;
} bn_user;

static void bn_forward(void *user, const float *in, float *out)
{
    bn_user *u = user;
    cp_context *ctx = tu_ctx();
    shape4 s = u->s;
    cp_tensor tx = dev(u->wrt == 0 ? in : u->x, s, "x");
    cp_tensor tg = vec(u->wrt == 1 ? in : u->gamma, s.c, "gamma");
    cp_tensor tb = vec(u->wrt == 2 ? in : u->beta, s.c, "beta");
    cp_tensor ty = tu_tensor_poisoned(s.n, s.c, s.h, s.w, "y");
    cp_tensor tsm = tu_tensor_poisoned(s.c, 1, 1, 1, "sm");
    cp_tensor tsi = tu_tensor_poisoned(s.c, 1, 1, 1, "si");
    TU_OK(cp_batchnorm_forward_train(ctx, &BN, &tx, &tg, &tb, NULL, NULL, false, &ty, &tsm,
                                     &tsi));
    TU_OK(cp_tensor_download(ctx, &ty, out));
    cp_tensor *ts[] = {&tx, &tg, &tb, &ty, &tsm, &tsi};
    for (size_t i = 0; i < 6; i++) cp_tensor_free(ctx, ts[i]);
}

START_TEST(gradcheck)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 43, 0);
    shape4 s = {2, 3, 4, 5};
    size_t n = numel(s);
    float *x = rnd(&r, n, -2, 2), *rr = rnd(&r, n, -1, 1);
    float *gamma = rnd(&r, 3, 0.5f, 1.5f), *beta = rnd(&r, 3, -0.5f, 0.5f);
    cp_tensor tx = dev(x, s, "x"), tr = dev(rr, s, "dy"), tg = vec(gamma, 3, "gamma");
    cp_tensor tb = vec(beta, 3, "beta"), ty = tu_tensor_poisoned(2, 3, 4, 5, "y");
    cp_tensor tsm = tu_tensor_poisoned(3, 1, 1, 1, "sm");
    cp_tensor tsi = tu_tensor_poisoned(3, 1, 1, 1, "si");
    cp_tensor tdx = tu_tensor_poisoned(2, 3, 4, 5, "dx");
    cp_tensor tdg = tu_tensor_poisoned(3, 1, 1, 1, "dg");
    cp_tensor tdb = tu_tensor_poisoned(3, 1, 1, 1, "db");
    TU_OK(cp_batchnorm_forward_train(ctx, &BN, &tx, &tg, &tb, NULL, NULL, false, &ty, &tsm,
                                     &tsi));
    TU_OK(cp_batchnorm_backward(ctx, &tx, &tg, &tsm, &tsi, &tr, &tdx, &tdg, &tdb, false));
    float *dx = tu_download(&tdx), *dg = tu_download(&tdg), *db = tu_download(&tdb);
    tu_gradcheck_opts o = {.h = 1e-2, .atol = 1e-3, .rtol = 1e-2, .checks = n};
    bn_user u = {0, s, x, gamma, beta};
    tu_gradcheck("batchnorm dx", bn_forward, &u, x, n, n, rr, dx, &o, &r);
    u.wrt = 1;
    tu_gradcheck("batchnorm dgamma", bn_forward, &u, gamma, 3, n, rr, dg, &o, &r);
    u.wrt = 2;
    tu_gradcheck("batchnorm dbeta", bn_forward, &u, beta, 3, n, rr, db, &o, &r);
    free(dx);
    free(dg);
    free(db);
    free(x);
    free(rr);
    free(gamma);
    free(beta);
    cp_tensor *ts[] = {&tx, &tr, &tg, &tb, &ty, &tsm, &tsi, &tdx, &tdg, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

START_TEST(bad_arguments)
{
    cp_context *ctx = tu_ctx();
    cp_tensor x = tu_tensor_poisoned(2, 3, 4, 4, "x"), y = tu_tensor_poisoned(2, 3, 4, 4, "y");
    cp_tensor c3 = tu_tensor_poisoned(3, 1, 1, 1, "c3");
    cp_tensor c4 = tu_tensor_poisoned(4, 1, 1, 1, "gamma4");
    cp_tensor one = tu_tensor_poisoned(1, 3, 1, 1, "one");
    ck_assert_int_eq(cp_batchnorm_forward_train(ctx, &BN, &x, &c4, &c3, NULL, NULL, false, &y,
                                                &c3, &c3),
                     CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "gamma4[4,1,1,1]"));
    /* update_running needs the running tensors */
    ck_assert_int_eq(cp_batchnorm_forward_train(ctx, &BN, &x, &c3, &c3, NULL, NULL, true, &y,
                                                &c3, &c3),
                     CP_ERR_INVALID_ARGUMENT);
    /* one value per channel: no batch statistics */
    ck_assert_int_eq(cp_batchnorm_forward_train(ctx, &BN, &one, &c3, &c3, NULL, NULL, false,
                                                &one, &c3, &c3),
                     CP_ERR_INVALID_ARGUMENT);
    cp_bn_params bad = {0.0f, 0.1f};
    ck_assert_int_eq(cp_batchnorm_forward_eval(ctx, &bad, &x, &c3, &c3, &c3, &c3, &y),
                     CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_batchnorm_backward(ctx, &x, &c3, &c3, &c3, &c3, &y, NULL, NULL, false),
                     CP_ERR_INVALID_ARGUMENT);
    TU_OK(cp_batchnorm_backward(ctx, &x, &c3, &c3, &c3, &y, NULL, NULL, NULL, false));
    cp_tensor *ts[] = {&x, &y, &c3, &c4, &one};
    for (size_t i = 0; i < 5; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

/* ---- portability (issue 13): statistics and backward over 262,144 values
 * per channel (beyond llvmpipe's 65,535-iteration loop limit for one work
 * item) at work-group limit 1 and at rusticl's per-kernel 32. Test case
 * "portability"; CLINPAINT_TEST_SMALL=1 shrinks it for oclgrind. ---- */
START_TEST(large_context_caps)
{
    const char *small = getenv("CLINPAINT_TEST_SMALL");
    bool is_small = small && *small && strcmp(small, "0") != 0;
    cp_rng r;
    cp_rng_seed(&r, 43, 0);
    shape4 s = is_small ? (shape4){2, 3, 24, 20} : (shape4){4, 3, 256, 256};
    const size_t ctx_caps[] = {1, 32};
    for (size_t k = 0; k < 2; k++) {
        cp_context_set_max_work_group_size(tu_ctx(), ctx_caps[k]);
        check_bn(s, &r, -2, 2);
    }
    cp_context_set_max_work_group_size(tu_ctx(), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batchnorm");
    TCase *tc = tcase_create("batchnorm");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, matches_reference);
    tcase_add_test(tc, large_and_offset);
    tcase_add_test(tc, nan_propagates);
    tcase_add_test(tc, gradcheck);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("portability");
    tcase_set_timeout(tp, 600);
    tcase_add_test(tp, large_context_caps);
    suite_add_tcase(s, tp);
    return tu_run_suite(s);
}
