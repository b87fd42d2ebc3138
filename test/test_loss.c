/* Losses and the sum: reconstruction loss (with and without context
 * weight, random and centre masks), BCE on logits (labels 0 and 1, extreme
 * logits), reduce_sum (accuracy on 8 x 32 x 128 x 128 with every
 * work-group size), gradients with grad_scale and accumulate, NaN
 * propagation, finite differences, bad arguments. */
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

static float read_scalar(const cp_tensor *t)
{
    float v;
    TU_OK(cp_tensor_download(tu_ctx(), t, &v));
    return v;
}

static const size_t caps[] = {0, 1, 2, 64};
#define NCAPS (sizeof caps / sizeof caps[0])

/* ---- reconstruction loss ---- */

static double mask_at(const float *m, shape4 s, size_t i)
{
    size_t hw = (size_t)(s.h * s.w), chw = (size_t)s.c * hw;
    return m[i / chw * hw + i % hw];
}

/* 1 = centre square of side H/2 (MODEL.md's "center" mask), or random 0/1. */
static float *make_mask(cp_rng *r, shape4 s, bool centre)
{
    size_t n = (size_t)(s.n * s.h * s.w);
    float *m = malloc(n * sizeof *m);
    for (size_t i = 0; i < n; i++) {
        int64_t y = (int64_t)(i / (size_t)s.w) % s.h, x = (int64_t)(i % (size_t)s.w);
        m[i] = centre ? (y >= s.h / 4 && y < s.h / 4 + s.h / 2 && x >= s.w / 4 &&
                         x < s.w / 4 + s.w / 2)
                      : cp_rng_uniform(r) < 0.3f;
    }
    return m;
}

/* Tolerances: the loss is a sum of n non-negative terms computed with
 * compensated sums per item and a tree (<= 8 levels): rtol 1e-6. The gradient is one
 * product chain per element (factor * W * (g - x)): ~3 ulp, rtol 1e-6,
 * atol 1e-12 for the exact zeros (g == x never happens with random data). */
static void check_rec(shape4 s, float ctx_weight, bool centre, cp_rng *r)
{
    cp_context *ctx = tu_ctx();
    size_t n = numel(s);
    shape4 sm = {s.n, 1, s.h, s.w};
    float *g = rnd(r, n, -1, 1), *x = rnd(r, n, -1, 1), *m = make_mask(r, s, centre);
    float *dg0 = rnd(r, n, -1, 1);
    double *want = malloc(n * sizeof *want);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double w = mask_at(m, s, i) + ctx_weight * (1.0 - mask_at(m, s, i));
        double d = (double)g[i] - x[i];
        sum += w * d * d;
    }
    double loss = sum / (double)n;
    const float scale = 0.999f;
    cp_tensor tg = dev(g, s, "g"), tx = dev(x, s, "x"), tm = dev(m, sm, "m");
    cp_tensor tl = tu_tensor_poisoned(1, 1, 1, 1, "loss");
    cp_tensor tdg = tu_tensor_poisoned(s.n, s.c, s.h, s.w, "dg");
    char what[160];
    for (size_t k = 0; k < NCAPS; k++) {
        cp_opsi_reduce_wg_cap = caps[k];
        TU_OK(cp_tensor_fill(ctx, &tl, NAN));
        TU_OK(cp_loss_rec(ctx, &tg, &tx, &tm, ctx_weight, &tl, NULL, 1.0f, false));
        float got = read_scalar(&tl);
        snprintf(what, sizeof what, "L_rec [%lld,%lld,%lld,%lld] ctx %g (work-group cap %zu)",
                 (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w,
                 (double)ctx_weight, caps[k]);
        tu_assert_close(what, &got, &loss, 1, 1e-12, 1e-6);
    }
    cp_opsi_reduce_wg_cap = 0;
    TU_OK(cp_loss_rec(ctx, &tg, &tx, &tm, ctx_weight, &tl, &tdg, scale, false));
    float got = read_scalar(&tl);
    tu_assert_close("L_rec (with gradient)", &got, &loss, 1, 1e-12, 1e-6);
    for (size_t i = 0; i < n; i++) {
        double w = mask_at(m, s, i) + ctx_weight * (1.0 - mask_at(m, s, i));
        want[i] = (double)scale * 2.0 * w * ((double)g[i] - x[i]) / (double)n;
    }
    float *gd = tu_download(&tdg);
    tu_assert_close("L_rec dg", gd, want, n, 1e-12, 1e-6);
    free(gd);
    TU_OK(cp_tensor_upload(ctx, &tdg, dg0));
    TU_OK(cp_loss_rec(ctx, &tg, &tx, &tm, ctx_weight, &tl, &tdg, scale, true));
    for (size_t i = 0; i < n; i++) want[i] += dg0[i];
    gd = tu_download(&tdg);
    /* + one rounding of dg0 + term, |dg0| < 1 */
    tu_assert_close("L_rec dg (accumulate)", gd, want, n, 1.2e-7, 1e-6);
    free(gd);
    free(g);
    free(x);
    free(m);
    free(dg0);
    free(want);
    cp_tensor *ts[] = {&tg, &tx, &tm, &tl, &tdg};
    for (size_t i = 0; i < 5; i++) cp_tensor_free(ctx, ts[i]);
}

START_TEST(rec_matches_reference)
{
    cp_rng r;
    cp_rng_seed(&r, 51, 0);
    check_rec((shape4){1, 3, 7, 9}, 0.1f, false, &r);    /* odd, batch 1 */
    check_rec((shape4){2, 3, 64, 64}, 0.1f, true, &r);   /* tiny preset */
    check_rec((shape4){2, 3, 64, 64}, 0.0f, true, &r);   /* Pathak's masked L2 */
    check_rec((shape4){3, 5, 4, 4}, 0.25f, false, &r);   /* C != 3 */
    check_rec((shape4){8, 3, 128, 128}, 0.1f, true, &r); /* base preset batch */
}
END_TEST

/* ---- BCE on logits ---- */

static double softplus(double z) { return fmax(z, 0.0) + log1p(exp(-fabs(z))); }
static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

/* Loss rtol 1e-6 (sum of positive terms, softplus itself ~4 ulp: exp and
 * log1p at 3 ulp each) plus atol 1e-7 for sums near 0 (all logits strongly
 * on the right side). Gradient: sigmoid ~7 ulp, rtol 1e-6, atol 1e-12 + the
 * denormal tails of sigmoid at |t| ~ 90: atol 1e-30. */
static void check_bce(int64_t n, float lo, float hi, cp_rng *r)
{
    cp_context *ctx = tu_ctx();
    float *t = rnd(r, (size_t)n, lo, hi), *dt0 = rnd(r, (size_t)n, -1, 1);
    double *want = malloc((size_t)n * sizeof *want);
    cp_tensor tt = tu_tensor_from(t, n, 1, 1, 1, "t");
    cp_tensor tl = tu_tensor_poisoned(1, 1, 1, 1, "loss");
    cp_tensor tdt = tu_tensor_poisoned(n, 1, 1, 1, "dt");
    const float scale = 0.001f;
    for (int label = 0; label <= 1; label++) {
        double sgn = label ? -1.0 : 1.0, sum = 0;
        for (int64_t i = 0; i < n; i++) sum += softplus(sgn * t[i]);
        double loss = sum / (double)n;
        char what[96];
        for (size_t k = 0; k < NCAPS; k++) {
            cp_opsi_reduce_wg_cap = caps[k];
            TU_OK(cp_tensor_fill(ctx, &tl, NAN));
            TU_OK(cp_loss_bce_logits(ctx, &tt, label, &tl, NULL, 1.0f, false));
            float got = read_scalar(&tl);
            snprintf(what, sizeof what, "BCE label %d, N %lld, cap %zu", label, (long long)n,
                     caps[k]);
            tu_assert_close(what, &got, &loss, 1, 1e-7, 1e-6);
        }
        cp_opsi_reduce_wg_cap = 0;
        TU_OK(cp_tensor_fill(ctx, &tdt, NAN));
        TU_OK(cp_loss_bce_logits(ctx, &tt, label, &tl, &tdt, scale, false));
        for (int64_t i = 0; i < n; i++)
            want[i] = (double)scale * sgn * sigmoid(sgn * t[i]) / (double)n;
        float *g = tu_download(&tdt);
        snprintf(what, sizeof what, "BCE dt label %d", label);
        tu_assert_close(what, g, want, (size_t)n, 1e-30, 1e-6);
        free(g);
        TU_OK(cp_tensor_upload(ctx, &tdt, dt0));
        TU_OK(cp_loss_bce_logits(ctx, &tt, label, &tl, &tdt, scale, true));
        for (int64_t i = 0; i < n; i++) want[i] += dt0[i];
        g = tu_download(&tdt);
        snprintf(what, sizeof what, "BCE dt label %d (accumulate)", label);
        tu_assert_close(what, g, want, (size_t)n, 1.2e-7, 1e-6);
        free(g);
    }
    free(t);
    free(dt0);
    free(want);
    cp_tensor_free(ctx, &tt);
    cp_tensor_free(ctx, &tl);
    cp_tensor_free(ctx, &tdt);
}

START_TEST(bce_matches_reference)
{
    cp_rng r;
    cp_rng_seed(&r, 52, 0);
    check_bce(1, -3, 3, &r);
    check_bce(8, -5, 5, &r);     /* the default batch */
    check_bce(37, -90, 90, &r);  /* saturated: no overflow, no NaN */
    check_bce(1000, -2, 2, &r);
}
END_TEST

/* The D head's [N, 1] output as a 2-D tensor works as well. */
START_TEST(bce_two_dim_logits)
{
    cp_context *ctx = tu_ctx();
    float t[4] = {-1.0f, 0.0f, 2.0f, 30.0f};
    int64_t shp[2] = {4, 1};
    cp_tensor tt;
    TU_OK(cp_tensor_create(ctx, 2, shp, "t", &tt));
    TU_OK(cp_tensor_upload(ctx, &tt, t));
    cp_tensor tl = tu_tensor_poisoned(1, 1, 1, 1, "loss");
    TU_OK(cp_loss_bce_logits(ctx, &tt, 1, &tl, NULL, 1.0f, false));
    double want = (softplus(1) + softplus(0) + softplus(-2) + softplus(-30)) / 4;
    float got = read_scalar(&tl);
    tu_assert_close("BCE [4, 1]", &got, &want, 1, 1e-7, 1e-6);
    cp_tensor_free(ctx, &tt);
    cp_tensor_free(ctx, &tl);
}
END_TEST

/* ---- reduce_sum ---- */

/* 8 x 32 x 128 x 128 = 4.2M values in [0.5, 1.5]: a serial float sum would be
 * ~1e-4 off; compensated sums per item + tree must be within rtol 1e-6 of the double
 * sum with every work-group size (1: one compensated sum of 4.2M terms). */
START_TEST(reduce_sum_large_accurate)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 53, 0);
    shape4 s = {8, 32, 128, 128};
    size_t n = numel(s);
    float *x = rnd(&r, n, 0.5f, 1.5f);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += x[i];
    cp_tensor tx = dev(x, s, "x"), out = tu_tensor_poisoned(1, 1, 1, 1, "sum");
    for (size_t k = 0; k < NCAPS; k++) {
        cp_opsi_reduce_wg_cap = caps[k];
        TU_OK(cp_tensor_fill(ctx, &out, NAN));
        TU_OK(cp_reduce_sum(ctx, &tx, 1.0f, &out));
        float got = read_scalar(&out);
        char what[64];
        snprintf(what, sizeof what, "reduce_sum (work-group cap %zu)", caps[k]);
        tu_assert_close(what, &got, &sum, 1, 0, 1e-6);
        /* mean */
        TU_OK(cp_reduce_sum(ctx, &tx, 1.0f / (float)n, &out));
        got = read_scalar(&out);
        double mean = sum / (double)n;
        tu_assert_close("reduce_sum as mean", &got, &mean, 1, 0, 1e-6);
    }
    cp_opsi_reduce_wg_cap = 0;
    free(x);
    cp_tensor_free(ctx, &tx);
    cp_tensor_free(ctx, &out);
}
END_TEST

START_TEST(reduce_sum_small_and_views)
{
    cp_context *ctx = tu_ctx();
    float a[7] = {1, -2, 3.5f, 4, -5, 6, 0.25f};
    int64_t total = 7, three = 3, one = 1;
    cp_tensor t;
    TU_OK(cp_tensor_create(ctx, 1, &total, "arena", &t));
    TU_OK(cp_tensor_upload(ctx, &t, a));
    /* sum of elements 2..4 written into element 6 of the same buffer */
    cp_tensor v = cp_tensor_view(t.buf, 2, 1, &three, "v");
    cp_tensor o = cp_tensor_view(t.buf, 6, 1, &one, "o");
    TU_OK(cp_reduce_sum(ctx, &v, 2.0f, &o));
    float got[7];
    TU_OK(cp_tensor_download(ctx, &t, got));
    ck_assert_float_eq(got[6], 5.0f);
    ck_assert_float_eq(got[5], 6.0f);
    ck_assert_float_eq(got[0], 1.0f);
    /* mixed signs that cancel, inf */
    float b[4] = {1e8f, 1.0f, -1e8f, 1.0f};
    cp_tensor tb = tu_tensor_from(b, 1, 1, 1, 4, "b"), out = tu_tensor_poisoned(1, 1, 1, 1, "s");
    cp_opsi_reduce_wg_cap = 1; /* one compensated sum: exact here */
    TU_OK(cp_reduce_sum(ctx, &tb, 1.0f, &out));
    ck_assert_float_eq(read_scalar(&out), 2.0f);
    cp_opsi_reduce_wg_cap = 0;
    b[1] = INFINITY;
    TU_OK(cp_tensor_upload(ctx, &tb, b));
    TU_OK(cp_reduce_sum(ctx, &tb, 1.0f, &out));
    ck_assert(isinf(read_scalar(&out)) && read_scalar(&out) > 0);
    cp_tensor_free(ctx, &t);
    cp_tensor_free(ctx, &tb);
    cp_tensor_free(ctx, &out);
}
END_TEST

/* ---- NaN: a NaN anywhere in an input gives a NaN loss ---- */
START_TEST(nan_propagates)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 54, 0);
    shape4 s = {2, 3, 8, 8}, sm = {2, 1, 8, 8};
    size_t n = numel(s);
    float *g = rnd(&r, n, -1, 1), *x = rnd(&r, n, -1, 1), *m = make_mask(&r, s, true);
    cp_tensor tl = tu_tensor_poisoned(1, 1, 1, 1, "loss");
    for (size_t k = 0; k < NCAPS; k++) {
        cp_opsi_reduce_wg_cap = caps[k];
        for (int where = 0; where < 3; where++) {
            /* NaN in g (in a known pixel: weight 0 with ctx_weight 0), in x, in M. */
            float *gg = malloc(n * sizeof *gg), *xx = malloc(n * sizeof *xx);
            float *mm = malloc(128 * sizeof *mm);
            memcpy(gg, g, n * sizeof *gg);
            memcpy(xx, x, n * sizeof *xx);
            memcpy(mm, m, 128 * sizeof *mm);
            if (where == 0) gg[5] = NAN;
            if (where == 1) xx[n - 1] = NAN;
            if (where == 2) mm[77] = NAN;
            cp_tensor tg = dev(gg, s, "g"), tx = dev(xx, s, "x"), tm = dev(mm, sm, "m");
            TU_OK(cp_loss_rec(ctx, &tg, &tx, &tm, 0.0f, &tl, NULL, 1.0f, false));
            ck_assert_msg(isnan(read_scalar(&tl)), "L_rec with NaN (case %d, cap %zu)", where,
                          caps[k]);
            TU_OK(cp_reduce_sum(ctx, &tg, 1.0f, &tl));
            if (where == 0) ck_assert(isnan(read_scalar(&tl)));
            free(gg);
            free(xx);
            free(mm);
            cp_tensor_free(ctx, &tg);
            cp_tensor_free(ctx, &tx);
            cp_tensor_free(ctx, &tm);
        }
        float t[5] = {1, 2, NAN, -3, 40};
        cp_tensor tt = tu_tensor_from(t, 5, 1, 1, 1, "t");
        for (int label = 0; label <= 1; label++) {
            TU_OK(cp_loss_bce_logits(ctx, &tt, label, &tl, NULL, 1.0f, false));
            ck_assert_msg(isnan(read_scalar(&tl)), "BCE with NaN, label %d", label);
        }
        cp_tensor_free(ctx, &tt);
    }
    cp_opsi_reduce_wg_cap = 0;
    free(g);
    free(x);
    free(m);
    cp_tensor_free(ctx, &tl);
}
END_TEST

/* ---- finite differences ----
 * L_rec is quadratic in g, so the central difference has no truncation
 * error; BCE's truncation is h^2/6 |softplus'''| / N <= 1.7e-5 * 0.1 / N
 * with h = 1e-2. Rounding: the loss (~0.3, float, ulp 3e-8) is recomputed
 * with one term changed; its rounding noise over 2h = 0.02 is ~3e-6, while
 * the gradients are ~1/n = 1e-2 (n = 96) or 1/N = 0.1. atol 2e-5,
 * rtol 1e-3. */
typedef struct loss_user {
    int which; /* 0: L_rec wrt g, 1: BCE label 0, 2: BCE label 1 */
    shape4 s;
    const float *x, *m;
} loss_user;

static void loss_forward(void *user, const float *in, float *out)
{
    loss_user *u = user;
    cp_context *ctx = tu_ctx();
    cp_tensor tl = tu_tensor_poisoned(1, 1, 1, 1, "loss");
    if (u->which == 0) {
        shape4 sm = {u->s.n, 1, u->s.h, u->s.w};
        cp_tensor tg = dev(in, u->s, "g"), tx = dev(u->x, u->s, "x"), tm = dev(u->m, sm, "m");
        TU_OK(cp_loss_rec(ctx, &tg, &tx, &tm, 0.1f, &tl, NULL, 1.0f, false));
        cp_tensor_free(ctx, &tg);
        cp_tensor_free(ctx, &tx);
        cp_tensor_free(ctx, &tm);
    } else {
        cp_tensor tt = dev(in, u->s, "t");
        TU_OK(cp_loss_bce_logits(ctx, &tt, u->which - 1, &tl, NULL, 1.0f, false));
        cp_tensor_free(ctx, &tt);
    }
    TU_OK(cp_tensor_download(ctx, &tl, out));
    cp_tensor_free(ctx, &tl);
}

START_TEST(gradcheck)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 55, 0);
    tu_gradcheck_opts o = {.h = 1e-2, .atol = 2e-5, .rtol = 1e-3, .checks = 96};
    float one = 1.0f; /* r: L itself */
    shape4 s = {2, 3, 4, 4}, sm = {2, 1, 4, 4};
    size_t n = numel(s);
    float *g = rnd(&r, n, -1, 1), *x = rnd(&r, n, -1, 1), *m = make_mask(&r, s, false);
    cp_tensor tg = dev(g, s, "g"), tx = dev(x, s, "x"), tm = dev(m, sm, "m");
    cp_tensor tl = tu_tensor_poisoned(1, 1, 1, 1, "loss");
    cp_tensor tdg = tu_tensor_poisoned(2, 3, 4, 4, "dg");
    TU_OK(cp_loss_rec(ctx, &tg, &tx, &tm, 0.1f, &tl, &tdg, 1.0f, false));
    float *an = tu_download(&tdg);
    loss_user u = {0, s, x, m};
    tu_gradcheck("L_rec dg", loss_forward, &u, g, n, 1, &one, an, &o, &r);
    free(an);

    shape4 st = {10, 1, 1, 1};
    float *t = rnd(&r, 10, -4, 4);
    cp_tensor tt = dev(t, st, "t"), tdt = tu_tensor_poisoned(10, 1, 1, 1, "dt");
    for (int label = 0; label <= 1; label++) {
        TU_OK(cp_loss_bce_logits(ctx, &tt, label, &tl, &tdt, 1.0f, false));
        an = tu_download(&tdt);
        u = (loss_user){1 + label, st, NULL, NULL};
        tu_gradcheck(label ? "BCE dt (label 1)" : "BCE dt (label 0)", loss_forward, &u, t, 10,
                     1, &one, an, &o, &r);
        free(an);
    }
    free(g);
    free(x);
    free(m);
    free(t);
    cp_tensor *ts[] = {&tg, &tx, &tm, &tl, &tdg, &tt, &tdt};
    for (size_t i = 0; i < 7; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

START_TEST(bad_arguments)
{
    cp_context *ctx = tu_ctx();
    cp_tensor g = tu_tensor_poisoned(2, 3, 4, 4, "g"), m3 = tu_tensor_poisoned(2, 3, 4, 4, "m3");
    cp_tensor m = tu_tensor_poisoned(2, 1, 4, 4, "m"), l2 = tu_tensor_poisoned(2, 1, 1, 1, "l2");
    cp_tensor l = tu_tensor_poisoned(1, 1, 1, 1, "l"), t = tu_tensor_poisoned(4, 2, 1, 1, "t42");
    ck_assert_int_eq(cp_loss_rec(ctx, &g, &g, &m3, 0.1f, &l, NULL, 1, false),
                     CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "m3[2,3,4,4]"));
    ck_assert_int_eq(cp_loss_rec(ctx, &g, &g, &m, 0.1f, &l2, NULL, 1, false),
                     CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_loss_rec(ctx, &g, &g, &m, 0.1f, &l, &m, 1, false),
                     CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_loss_bce_logits(ctx, &t, 1, &l, NULL, 1, false),
                     CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "t42[4,2,1,1]"));
    ck_assert_int_eq(cp_loss_bce_logits(ctx, &l2, 2, &l, NULL, 1, false),
                     CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_reduce_sum(ctx, &g, 1, &l2), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_reduce_sum(ctx, NULL, 1, &l), CP_ERR_INVALID_ARGUMENT);
    cp_tensor *ts[] = {&g, &m3, &m, &l2, &l, &t};
    for (size_t i = 0; i < 6; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

/* ---- portability (issue 13): bounded loops, device limits. Own test case
 * "portability" (CK_RUN_CASE=portability) with small sizes under
 * CLINPAINT_TEST_SMALL=1, for simulators such as oclgrind. ---- */

static bool small_sizes(void)
{
    const char *v = getenv("CLINPAINT_TEST_SMALL");
    return v && *v && strcmp(v, "0") != 0;
}

/* Context work-group caps: none, Apple's CPU device (1), rusticl's
 * per-kernel limit (32). */
static const size_t ctx_caps[] = {0, 1, 32};
#define NCTX_CAPS (sizeof ctx_caps / sizeof ctx_caps[0])

/* 4M elements at work-group limit 1: llvmpipe stopped the old one-group
 * loop after 65,535 iterations (131,051 for 4M ones). Integer values (every
 * partial sum exact) must give the exact sum; random ones the double sum
 * within rtol 1e-6; two runs must agree bit for bit; no work item loops
 * more than CP_RED_MAX_ITEMS times. */
START_TEST(sum_4m_bounded_exact_deterministic)
{
    cp_context *ctx = tu_ctx();
    size_t n = small_sizes() ? 70001 : 4u << 20;
    shape4 s = {1, 1, 1, (int64_t)n};
    float *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    double exact = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)((int)((i * 7) % 13) - 5); /* -5 .. 7 */
        exact += x[i];
    }
    cp_rng r;
    cp_rng_seed(&r, 54, 0);
    float *u = rnd(&r, n, 0.5f, 1.5f);
    double usum = 0;
    for (size_t i = 0; i < n; i++) usum += u[i];
    cp_tensor tx = dev(x, s, "x"), tu = dev(u, s, "u");
    cp_tensor out = tu_tensor_poisoned(1, 1, 1, 1, "sum");
    for (size_t k = 0; k < NCTX_CAPS; k++) {
        cp_context_set_max_work_group_size(ctx, ctx_caps[k]);
        cl_kernel map;
        cp_opsi_red plan;
        TU_OK(cp_kernel_get(ctx, "reduce.cl", "", "reduce_sum_map", &map));
        TU_OK(cp_opsi_red_plan(ctx, map, 1, n, 0, &plan));
        ck_assert_uint_le(plan.items, CP_RED_MAX_ITEMS);
        if (ctx_caps[k]) ck_assert_uint_le(plan.wg, ctx_caps[k]);
        ck_assert_uint_ge((uint64_t)plan.chunks * plan.wg * plan.items, n);
        TU_OK(cp_reduce_sum(ctx, &tx, 1.0f, &out));
        float got = read_scalar(&out);
        ck_assert_msg((double)got == exact, "integer sum of %zu at cap %zu: %.1f, want %.1f", n,
                      ctx_caps[k], (double)got, exact);
        TU_OK(cp_reduce_sum(ctx, &tu, 1.0f, &out));
        float first = read_scalar(&out);
        char what[80];
        snprintf(what, sizeof what, "sum of %zu randoms (context cap %zu)", n, ctx_caps[k]);
        tu_assert_close(what, &first, &usum, 1, 0, 1e-6);
        TU_OK(cp_tensor_fill(ctx, &out, NAN));
        TU_OK(cp_reduce_sum(ctx, &tu, 1.0f, &out));
        float second = read_scalar(&out);
        ck_assert_msg(memcmp(&first, &second, sizeof first) == 0,
                      "two runs differ at cap %zu: %a vs %a", ctx_caps[k], (double)first,
                      (double)second);
    }
    cp_context_set_max_work_group_size(ctx, 0);
    free(x);
    free(u);
    cp_tensor_free(ctx, &tx);
    cp_tensor_free(ctx, &tu);
    cp_tensor_free(ctx, &out);
}
END_TEST

/* The reconstruction loss on a large batch at each context cap (with the
 * reduction-only caps of check_rec inside). */
START_TEST(rec_large_context_caps)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 55, 0);
    shape4 s = small_sizes() ? (shape4){2, 3, 40, 40} : (shape4){8, 3, 256, 256};
    for (size_t k = 0; k < NCTX_CAPS; k++) {
        cp_context_set_max_work_group_size(ctx, ctx_caps[k]);
        check_rec(s, 0.1f, true, &r);
        check_bce(small_sizes() ? 70 : 5000, -30, 30, &r);
    }
    cp_context_set_max_work_group_size(ctx, 0);
}
END_TEST

/* Bias gradients (cp_bias_backward; dense and convolutions share it):
 * per-channel sums over N·H·W = 524,288 values, beyond one long loop. */
START_TEST(channel_sum_large_context_caps)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 56, 0);
    shape4 s = small_sizes() ? (shape4){3, 5, 20, 30} : (shape4){8, 6, 256, 256};
    size_t n = numel(s), c = (size_t)s.c, hw = (size_t)(s.h * s.w);
    float *dy = rnd(&r, n, -1, 2), *db0 = rnd(&r, c, -1, 1);
    double *want = calloc(c, sizeof *want), *want_acc = malloc(c * sizeof *want_acc);
    ck_assert(want && want_acc);
    for (size_t b = 0; b < (size_t)s.n; b++)
        for (size_t ch = 0; ch < c; ch++)
            for (size_t j = 0; j < hw; j++) want[ch] += dy[(b * c + ch) * hw + j];
    for (size_t ch = 0; ch < c; ch++) want_acc[ch] = want[ch] + db0[ch];
    cp_tensor tdy = dev(dy, s, "dy"), tdb = tu_tensor_poisoned(s.c, 1, 1, 1, "db");
    for (size_t k = 0; k < NCTX_CAPS; k++) {
        cp_context_set_max_work_group_size(ctx, ctx_caps[k]);
        TU_OK(cp_tensor_fill(ctx, &tdb, NAN));
        TU_OK(cp_bias_backward(ctx, &tdy, &tdb, false));
        float *got = tu_download(&tdb);
        char what[80];
        snprintf(what, sizeof what, "bias gradient (context cap %zu)", ctx_caps[k]);
        tu_assert_close(what, got, want, c, 1e-3, 1e-6);
        free(got);
        TU_OK(cp_tensor_upload(ctx, &tdb, db0));
        TU_OK(cp_bias_backward(ctx, &tdy, &tdb, true));
        got = tu_download(&tdb);
        tu_assert_close("bias gradient (accumulate)", got, want_acc, c, 1e-3, 1e-6);
        free(got);
    }
    cp_context_set_max_work_group_size(ctx, 0);
    free(dy);
    free(db0);
    free(want);
    free(want_acc);
    cp_tensor_free(ctx, &tdy);
    cp_tensor_free(ctx, &tdb);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("loss");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, rec_matches_reference);
    tcase_add_test(tc, bce_matches_reference);
    tcase_add_test(tc, bce_two_dim_logits);
    tcase_add_test(tc, reduce_sum_large_accurate);
    tcase_add_test(tc, reduce_sum_small_and_views);
    tcase_add_test(tc, nan_propagates);
    tcase_add_test(tc, gradcheck);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("portability");
    tcase_set_timeout(tp, 600);
    tcase_add_test(tp, sum_4m_bounded_exact_deterministic);
    tcase_add_test(tp, rec_large_context_caps);
    tcase_add_test(tp, channel_sum_large_context_caps);
    suite_add_tcase(s, tp);
    return tu_run_suite(s);
}
