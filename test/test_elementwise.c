/* Element-wise operators: add, mul, scale, bias add and its gradient (a
 * per-channel reduction: accuracy on a large tensor, every work-group size),
 * channel concatenation and its backward, the mask operations. Double
 * references, NaN-poisoned outputs, accumulate, in place, views at offsets,
 * finite differences, bad arguments. */
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

static const shape4 shapes[] = {
    {1, 3, 7, 9},    /* odd H, W; C % 4 != 0 */
    {1, 1, 1, 1},    /* one element */
    {8, 10, 1, 1},   /* a dense layer's [N, out] */
    {2, 16, 64, 64}, /* tiny preset: enc1 */
    {2, 128, 4, 4},  /* tiny preset: enc5 */
    {2, 64, 16, 16}, /* tiny preset: enc3 */
    {8, 64, 32, 32}, /* larger */
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static size_t numel(shape4 s) { return (size_t)(s.n * s.c * s.h * s.w); }

static float *rnd(cp_rng *r, size_t n, float lo, float hi)
{
    float *p = malloc(n * sizeof *p);
    ck_assert_ptr_nonnull(p);
    tu_fill_uniform(r, p, n, lo, hi);
    return p;
}

static double *dbuf(size_t n)
{
    double *p = malloc(n * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static cp_tensor dev(const float *h, shape4 s, const char *name)
{
    return tu_tensor_from(h, s.n, s.c, s.h, s.w, name);
}

static cp_tensor poisoned(shape4 s, const char *name)
{
    return tu_tensor_poisoned(s.n, s.c, s.h, s.w, name);
}

/* Checks the device tensor t against want. */
static void expect(const char *what, shape4 s, const cp_tensor *t, const double *want,
                   double atol, double rtol)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s [%lld,%lld,%lld,%lld]", what, (long long)s.n,
             (long long)s.c, (long long)s.h, (long long)s.w);
    float *got = tu_download(t);
    tu_assert_close(msg, got, want, cp_tensor_numel(t), atol, rtol);
    free(got);
}

/* One rounding of a float result of magnitude <= ~4: rtol 2e-7 (1.7 ulp),
 * atol 1e-6 for results cancelling to near 0 from terms up to ~4
 * (add: two products and a sum, each rounded). */
#define EW_ATOL 1e-6
#define EW_RTOL 2e-7

START_TEST(add_mul_scale)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 31, 0);
    for (size_t k = 0; k < NSHAPES; k++) {
        shape4 s = shapes[k];
        size_t n = numel(s);
        float *a = rnd(&r, n, -2, 2), *b = rnd(&r, n, -2, 2), *y0 = rnd(&r, n, -2, 2);
        double *want = dbuf(n);
        cp_tensor ta = dev(a, s, "a"), tb = dev(b, s, "b"), ty = poisoned(s, "y");

        TU_OK(cp_add(ctx, 0.75f, &ta, -1.25f, &tb, &ty));
        for (size_t i = 0; i < n; i++) want[i] = 0.75 * a[i] - 1.25 * b[i];
        expect("add", s, &ty, want, EW_ATOL, EW_RTOL);

        TU_OK(cp_mul(ctx, &ta, &tb, &ty));
        for (size_t i = 0; i < n; i++) want[i] = (double)a[i] * b[i];
        expect("mul", s, &ty, want, 1e-12, EW_RTOL);

        TU_OK(cp_tensor_fill(ctx, &ty, NAN));
        TU_OK(cp_scale(ctx, -3.0f, &ta, &ty, false));
        for (size_t i = 0; i < n; i++) want[i] = -3.0 * a[i];
        expect("scale", s, &ty, want, 1e-12, EW_RTOL);

        TU_OK(cp_tensor_upload(ctx, &ty, y0));
        TU_OK(cp_scale(ctx, 0.5f, &ta, &ty, true));
        for (size_t i = 0; i < n; i++) want[i] = y0[i] + 0.5 * a[i];
        expect("scale (accumulate)", s, &ty, want, EW_ATOL, EW_RTOL);

        /* In place: y is a (add, mul), then scale y by itself accumulating. */
        TU_OK(cp_add(ctx, 1.0f, &ta, 2.0f, &tb, &ta));
        for (size_t i = 0; i < n; i++) want[i] = a[i] + 2.0 * b[i];
        expect("add in place", s, &ta, want, EW_ATOL, EW_RTOL);
        TU_OK(cp_tensor_upload(ctx, &ta, a));
        TU_OK(cp_mul(ctx, &ta, &tb, &tb));
        for (size_t i = 0; i < n; i++) want[i] = (double)a[i] * b[i];
        expect("mul in place", s, &tb, want, 1e-12, EW_RTOL);
        TU_OK(cp_scale(ctx, 2.0f, &ta, &ta, true));
        for (size_t i = 0; i < n; i++) want[i] = 3.0 * a[i];
        expect("scale in place (accumulate)", s, &ta, want, 1e-12, EW_RTOL);

        free(a);
        free(b);
        free(y0);
        free(want);
        cp_tensor_free(ctx, &ta);
        cp_tensor_free(ctx, &tb);
        cp_tensor_free(ctx, &ty);
    }
}
END_TEST

/* Views into one arena at odd offsets: offsets are honoured. */
START_TEST(views_at_offsets)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 32, 0);
    const int64_t total = 1000;
    float *arena = rnd(&r, (size_t)total, -1, 1);
    cp_tensor big;
    TU_OK(cp_tensor_create(ctx, 1, &total, "arena", &big));
    TU_OK(cp_tensor_upload(ctx, &big, arena));
    int64_t shp[4] = {2, 3, 5, 7}; /* 210 */
    cp_tensor a = cp_tensor_view(big.buf, 3, 4, shp, "a");
    cp_tensor b = cp_tensor_view(big.buf, 301, 4, shp, "b");
    cp_tensor y = cp_tensor_view(big.buf, 517, 4, shp, "y");
    int64_t cs = 3;
    cp_tensor bias = cp_tensor_view(big.buf, 997, 1, &cs, "bias");
    TU_OK(cp_add(ctx, 1.0f, &a, 1.0f, &b, &y));
    float *got = tu_download(&big);
    for (int64_t i = 0; i < total; i++) {
        double want = arena[i];
        if (i >= 517 && i < 727) want = (double)arena[i - 514] + arena[i - 216];
        ck_assert_msg(fabs(got[i] - want) <= 1e-6, "arena[%lld] = %g, want %g", (long long)i,
                      (double)got[i], want);
    }
    free(got);
    TU_OK(cp_tensor_upload(ctx, &big, arena));
    TU_OK(cp_bias_add(ctx, &a, &bias, &y));
    got = tu_download(&big);
    for (int64_t i = 517; i < 727; i++) {
        int64_t j = i - 517, c = (j / 35) % 3;
        double want = (double)arena[3 + j] + arena[997 + c];
        ck_assert_msg(fabs(got[i] - want) <= 1e-6, "bias view: arena[%lld]", (long long)i);
    }
    ck_assert_float_eq(got[516], arena[516]);
    ck_assert_float_eq(got[727], arena[727]);
    free(got);
    free(arena);
    cp_tensor_free(ctx, &big);
}
END_TEST

static void ref_bias_sum(const float *dy, shape4 s, double *db)
{
    size_t hw = (size_t)(s.h * s.w);
    for (int64_t c = 0; c < s.c; c++) {
        double acc = 0;
        for (int64_t n = 0; n < s.n; n++)
            for (size_t j = 0; j < hw; j++) acc += dy[((size_t)(n * s.c + c)) * hw + j];
        db[c] = acc;
    }
}

/* Bias gradient tolerance: the device sums with compensated (Neumaier) per-item
 * sums (error ~2 ulp) then a pairwise tree of <= 8 levels (error <= 8 ulp of
 * the partial sums' magnitude), so rtol 1e-6 relative to sum |dy| ~ the
 * result for positive data. For mixed-sign data the error scales with
 * sum |dy|, not |sum dy|: atol 1e-6 * (N H W) covers that. */
static void check_bias(shape4 s, cp_rng *r, float lo, float hi)
{
    cp_context *ctx = tu_ctx();
    size_t n = numel(s);
    shape4 sb = {s.c, 1, 1, 1};
    float *x = rnd(r, n, lo, hi), *b = rnd(r, (size_t)s.c, -1, 1),
          *db0 = rnd(r, (size_t)s.c, -1, 1);
    double *want = dbuf(n), *wdb = dbuf((size_t)s.c);
    cp_tensor tx = dev(x, s, "x"), tb = dev(b, sb, "b"), ty = poisoned(s, "y"),
              tdb = poisoned(sb, "db");
    /* bias_add is not a reduction: check it on the small shapes only. */
    if (n < (1u << 21)) {
        TU_OK(cp_bias_add(ctx, &tx, &tb, &ty));
        for (size_t i = 0; i < n; i++)
            want[i] = (double)x[i] + b[(i / (size_t)(s.h * s.w)) % (size_t)s.c];
        expect("bias_add", s, &ty, want, EW_ATOL, EW_RTOL);
        TU_OK(cp_bias_add(ctx, &tx, &tb, &tx)); /* in place */
        expect("bias_add in place", s, &tx, want, EW_ATOL, EW_RTOL);
        TU_OK(cp_tensor_upload(ctx, &tx, x));
    }
    double atol = 1e-6 * (double)(s.n * s.h * s.w) * fmax(fabs(lo), fabs(hi));
    ref_bias_sum(x, s, wdb);
    const size_t caps[] = {0, 1, 2, 64};
    for (size_t k = 0; k < 4; k++) {
        cp_opsi_reduce_wg_cap = caps[k];
        char what[64];
        TU_OK(cp_tensor_fill(ctx, &tdb, NAN));
        TU_OK(cp_bias_backward(ctx, &tx, &tdb, false));
        snprintf(what, sizeof what, "bias_backward (work-group cap %zu)", caps[k]);
        expect(what, s, &tdb, wdb, atol, 1e-6);
    }
    cp_opsi_reduce_wg_cap = 0;
    TU_OK(cp_tensor_upload(ctx, &tdb, db0));
    TU_OK(cp_bias_backward(ctx, &tx, &tdb, true));
    for (int64_t c = 0; c < s.c; c++) want[c] = wdb[c] + db0[c];
    expect("bias_backward (accumulate)", s, &tdb, want, atol, 1e-6);
    TU_OK(cp_bias_backward(ctx, &tx, NULL, false)); /* NULL db: skipped */
    free(x);
    free(b);
    free(db0);
    free(want);
    free(wdb);
    cp_tensor_free(ctx, &tx);
    cp_tensor_free(ctx, &tb);
    cp_tensor_free(ctx, &ty);
    cp_tensor_free(ctx, &tdb);
}

START_TEST(bias_add_and_backward)
{
    cp_rng r;
    cp_rng_seed(&r, 33, 0);
    for (size_t k = 0; k < NSHAPES; k++) check_bias(shapes[k], &r, -1, 1);
}
END_TEST

/* 8 x 32 x 128 x 128: 131072 values per channel, all positive, so a serial
 * float sum would be off by ~1e-5 relative; the tree sum must be within
 * 1e-6 of the double sum with every work-group size (1 = one long
 * compensated sum per channel). */
START_TEST(bias_backward_large_accurate)
{
    cp_rng r;
    cp_rng_seed(&r, 34, 0);
    shape4 s = {8, 32, 128, 128};
    check_bias(s, &r, 0.5f, 1.5f);
}
END_TEST

static void ref_concat(const float *a, const float *b, shape4 sa, int64_t cb, double *y)
{
    size_t ia = (size_t)(sa.c * sa.h * sa.w), ib = (size_t)(cb * sa.h * sa.w);
    for (int64_t n = 0; n < sa.n; n++) {
        for (size_t i = 0; i < ia; i++) y[(size_t)n * (ia + ib) + i] = a[(size_t)n * ia + i];
        for (size_t i = 0; i < ib; i++)
            y[(size_t)n * (ia + ib) + ia + i] = b[(size_t)n * ib + i];
    }
}

START_TEST(concat)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 35, 0);
    /* (a shape, Cb): G's input (3 + 1 channels at S = 64), odd, larger. */
    const shape4 as[] = {{2, 3, 64, 64}, {1, 5, 3, 7}, {3, 1, 1, 1}, {8, 32, 32, 32}};
    const int64_t cbs[] = {1, 2, 3, 32};
    for (size_t k = 0; k < 4; k++) {
        shape4 sa = as[k], sb = {sa.n, cbs[k], sa.h, sa.w},
               sy = {sa.n, sa.c + cbs[k], sa.h, sa.w};
        size_t na = numel(sa), nb = numel(sb), ny = numel(sy);
        float *a = rnd(&r, na, -1, 1), *b = rnd(&r, nb, -1, 1), *dy = rnd(&r, ny, -1, 1);
        float *da0 = rnd(&r, na, -1, 1), *db0 = rnd(&r, nb, -1, 1);
        double *want = dbuf(ny);
        cp_tensor ta = dev(a, sa, "a"), tb = dev(b, sb, "b"), ty = poisoned(sy, "y");
        TU_OK(cp_concat_channels(ctx, &ta, &tb, &ty));
        ref_concat(a, b, sa, sb.c, want);
        expect("concat", sy, &ty, want, 1e-12, 0);

        /* Backward: the slices of dy (exact copies), then accumulate. */
        cp_tensor tdy = dev(dy, sy, "dy"), tda = poisoned(sa, "da"), tdb = poisoned(sb, "db");
        TU_OK(cp_concat_channels_backward(ctx, &tdy, &tda, &tdb, false));
        float *gda = tu_download(&tda), *gdb = tu_download(&tdb);
        for (int64_t n = 0; n < sa.n; n++) {
            size_t ia = na / (size_t)sa.n, ib = nb / (size_t)sa.n;
            for (size_t i = 0; i < ia; i++)
                ck_assert(gda[(size_t)n * ia + i] == dy[(size_t)n * (ia + ib) + i]);
            for (size_t i = 0; i < ib; i++)
                ck_assert(gdb[(size_t)n * ib + i] == dy[(size_t)n * (ia + ib) + ia + i]);
        }
        TU_OK(cp_tensor_upload(ctx, &tda, da0));
        TU_OK(cp_tensor_upload(ctx, &tdb, db0));
        TU_OK(cp_concat_channels_backward(ctx, &tdy, &tda, &tdb, true));
        for (size_t i = 0; i < na; i++) want[i] = (double)da0[i] + gda[i];
        expect("concat backward da (accumulate)", sa, &tda, want, EW_ATOL, EW_RTOL);
        for (size_t i = 0; i < nb; i++) want[i] = (double)db0[i] + gdb[i];
        expect("concat backward db (accumulate)", sb, &tdb, want, EW_ATOL, EW_RTOL);
        /* Only one of the two. */
        TU_OK(cp_tensor_fill(ctx, &tdb, NAN));
        TU_OK(cp_concat_channels_backward(ctx, &tdy, NULL, &tdb, false));
        for (size_t i = 0; i < nb; i++) want[i] = gdb[i];
        expect("concat backward db only", sb, &tdb, want, 1e-12, 0);
        TU_OK(cp_tensor_fill(ctx, &tda, NAN));
        TU_OK(cp_concat_channels_backward(ctx, &tdy, &tda, NULL, false));
        for (size_t i = 0; i < na; i++) want[i] = gda[i];
        expect("concat backward da only", sa, &tda, want, 1e-12, 0);

        free(gda);
        free(gdb);
        free(a);
        free(b);
        free(dy);
        free(da0);
        free(db0);
        free(want);
        cp_tensor_free(ctx, &ta);
        cp_tensor_free(ctx, &tb);
        cp_tensor_free(ctx, &ty);
        cp_tensor_free(ctx, &tdy);
        cp_tensor_free(ctx, &tda);
        cp_tensor_free(ctx, &tdb);
    }
}
END_TEST

/* Random 0/1 masks, with a few fractional values (the operators are the
 * formulas, whatever M holds). */
static float *random_mask(cp_rng *r, size_t n)
{
    float *m = malloc(n * sizeof *m);
    for (size_t i = 0; i < n; i++) {
        float u = cp_rng_uniform(r);
        m[i] = u < 0.45f ? 0.0f : u < 0.9f ? 1.0f : cp_rng_uniform(r);
    }
    return m;
}

START_TEST(masks)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 36, 0);
    const shape4 xs[] = {{2, 3, 64, 64}, {1, 3, 7, 9}, {3, 5, 4, 4}, {8, 3, 128, 128}};
    for (size_t k = 0; k < 4; k++) {
        shape4 s = xs[k], sm = {s.n, 1, s.h, s.w};
        size_t n = numel(s), hw = (size_t)(s.h * s.w), chw = (size_t)s.c * hw;
        float *x = rnd(&r, n, -1, 1), *g = rnd(&r, n, -1, 1), *dy = rnd(&r, n, -1, 1);
        float *dg0 = rnd(&r, n, -1, 1), *m = random_mask(&r, numel(sm));
        double *want = dbuf(n);
        cp_tensor tx = dev(x, s, "x"), tg = dev(g, s, "g"), tm = dev(m, sm, "m"),
                  ty = poisoned(s, "y"), tdy = dev(dy, s, "dy"), tdg = poisoned(s, "dg");
#define MV(i) ((double)m[(i) / chw * hw + (i) % hw])
        TU_OK(cp_mask_known(ctx, &tx, &tm, &ty));
        for (size_t i = 0; i < n; i++) want[i] = x[i] * (1.0 - MV(i));
        expect("mask_known", s, &ty, want, EW_ATOL, EW_RTOL);

        TU_OK(cp_tensor_fill(ctx, &ty, NAN));
        TU_OK(cp_composite(ctx, &tg, &tx, &tm, &ty));
        for (size_t i = 0; i < n; i++) want[i] = MV(i) * g[i] + (1.0 - MV(i)) * x[i];
        expect("composite", s, &ty, want, EW_ATOL, EW_RTOL);

        TU_OK(cp_composite_backward(ctx, &tm, &tdy, &tdg, false));
        for (size_t i = 0; i < n; i++) want[i] = MV(i) * dy[i];
        expect("composite_backward", s, &tdg, want, 1e-12, EW_RTOL);
        TU_OK(cp_tensor_upload(ctx, &tdg, dg0));
        TU_OK(cp_composite_backward(ctx, &tm, &tdy, &tdg, true));
        for (size_t i = 0; i < n; i++) want[i] = dg0[i] + MV(i) * dy[i];
        expect("composite_backward (accumulate)", s, &tdg, want, EW_ATOL, EW_RTOL);

        /* In place: mask_known on x itself; composite into g. */
        TU_OK(cp_composite(ctx, &tg, &tx, &tm, &tg));
        for (size_t i = 0; i < n; i++) want[i] = MV(i) * g[i] + (1.0 - MV(i)) * x[i];
        expect("composite in place", s, &tg, want, EW_ATOL, EW_RTOL);
        TU_OK(cp_mask_known(ctx, &tx, &tm, &tx));
        for (size_t i = 0; i < n; i++) want[i] = x[i] * (1.0 - MV(i));
        expect("mask_known in place", s, &tx, want, EW_ATOL, EW_RTOL);
#undef MV
        free(x);
        free(g);
        free(dy);
        free(dg0);
        free(m);
        free(want);
        cp_tensor_free(ctx, &tx);
        cp_tensor_free(ctx, &tg);
        cp_tensor_free(ctx, &tm);
        cp_tensor_free(ctx, &ty);
        cp_tensor_free(ctx, &tdy);
        cp_tensor_free(ctx, &tdg);
    }
}
END_TEST

/* NaN in g shows in the composite even under a known pixel (M = 0), and
 * NaN in x even under a hole: training must see it. */
START_TEST(composite_nan_propagates)
{
    cp_context *ctx = tu_ctx();
    float g[4] = {NAN, 1, 2, 3}, x[4] = {0, NAN, 2, 3}, m[4] = {0, 1, 0, 1};
    cp_tensor tg = tu_tensor_from(g, 1, 1, 2, 2, "g"), tx = tu_tensor_from(x, 1, 1, 2, 2, "x");
    cp_tensor tm = tu_tensor_from(m, 1, 1, 2, 2, "m"), ty = tu_tensor_poisoned(1, 1, 2, 2, "y");
    TU_OK(cp_composite(ctx, &tg, &tx, &tm, &ty));
    float *y = tu_download(&ty);
    ck_assert(isnan(y[0]) && isnan(y[1]));
    ck_assert_float_eq(y[2], 2.0f);
    ck_assert_float_eq(y[3], 3.0f);
    free(y);
    cp_tensor_free(ctx, &tg);
    cp_tensor_free(ctx, &tx);
    cp_tensor_free(ctx, &tm);
    cp_tensor_free(ctx, &ty);
}
END_TEST

/* ---- finite differences ----
 * These operators are linear in the checked input, so the central
 * difference has no truncation error: only float rounding of the outputs
 * matters. With h = 1e-2, outputs |y| <= 3 (ulp/2 = 1.8e-7) and at most 100
 * outputs depending on the perturbed input, the rounding noise in
 * (L+ - L-) / 2h is <= 100 * 2 * 1.8e-7 / 0.02 = 1.8e-3 in the worst case
 * (sqrt(100) times less in practice): atol 2e-3, rtol 1e-3. */
typedef struct ew_user {
    int which; /* 0: bias_add wrt b, 1: composite wrt g, 2: concat wrt a, 3: wrt b */
    shape4 s;
    const float *other; /* x for bias/composite, the other part for concat */
    const float *m;
    int64_t c2; /* channels of the other concat part */
} ew_user;

static void ew_forward(void *user, const float *in, float *out)
{
    ew_user *u = user;
    cp_context *ctx = tu_ctx();
    shape4 s = u->s;
    if (u->which == 0) {
        cp_tensor tx = dev(u->other, s, "x"), tb = tu_tensor_from(in, s.c, 1, 1, 1, "b");
        cp_tensor ty = poisoned(s, "y");
        TU_OK(cp_bias_add(ctx, &tx, &tb, &ty));
        TU_OK(cp_tensor_download(ctx, &ty, out));
        cp_tensor_free(ctx, &tx);
        cp_tensor_free(ctx, &tb);
        cp_tensor_free(ctx, &ty);
    } else if (u->which == 1) {
        shape4 sm = {s.n, 1, s.h, s.w};
        cp_tensor tg = dev(in, s, "g"), tx = dev(u->other, s, "x"), tm = dev(u->m, sm, "m");
        cp_tensor ty = poisoned(s, "y");
        TU_OK(cp_composite(ctx, &tg, &tx, &tm, &ty));
        TU_OK(cp_tensor_download(ctx, &ty, out));
        cp_tensor_free(ctx, &tg);
        cp_tensor_free(ctx, &tx);
        cp_tensor_free(ctx, &tm);
        cp_tensor_free(ctx, &ty);
    } else {
        shape4 so = {s.n, u->c2, s.h, s.w}, sy = {s.n, s.c + u->c2, s.h, s.w};
        cp_tensor ta = dev(in, s, "part"), tb = dev(u->other, so, "other");
        cp_tensor ty = poisoned(sy, "y");
        if (u->which == 2)
            TU_OK(cp_concat_channels(ctx, &ta, &tb, &ty));
        else
            TU_OK(cp_concat_channels(ctx, &tb, &ta, &ty));
        TU_OK(cp_tensor_download(ctx, &ty, out));
        cp_tensor_free(ctx, &ta);
        cp_tensor_free(ctx, &tb);
        cp_tensor_free(ctx, &ty);
    }
}

START_TEST(gradcheck)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 37, 0);
    tu_gradcheck_opts o = {.h = 1e-2, .atol = 2e-3, .rtol = 1e-3, .checks = 200};
    shape4 s = {2, 5, 3, 3}, sm = {2, 1, 3, 3};
    size_t n = numel(s);
    float *x = rnd(&r, n, -2, 2), *rr = rnd(&r, 2 * n, -1, 1), *m = random_mask(&r, 18);
    cp_tensor tr = dev(rr, s, "r");

    /* bias_add wrt b: db = bias_backward(r) */
    float *b = rnd(&r, 5, -1, 1);
    cp_tensor tdb = tu_tensor_poisoned(5, 1, 1, 1, "db");
    TU_OK(cp_bias_backward(ctx, &tr, &tdb, false));
    float *an = tu_download(&tdb);
    ew_user u = {0, s, x, m, 0};
    tu_gradcheck("bias_add db", ew_forward, &u, b, 5, n, rr, an, &o, &r);
    free(an);

    /* composite wrt g: dg = M r */
    float *g = rnd(&r, n, -1, 1);
    cp_tensor tm = dev(m, sm, "m"), tdg = poisoned(s, "dg");
    TU_OK(cp_composite_backward(ctx, &tm, &tr, &tdg, false));
    an = tu_download(&tdg);
    u = (ew_user){1, s, x, m, 0};
    tu_gradcheck("composite dg", ew_forward, &u, g, n, n, rr, an, &o, &r);
    free(an);

    /* concat of a [2,5,3,3] and b [2,3,3,3] wrt each part */
    shape4 sy = {2, 8, 3, 3}, sb = {2, 3, 3, 3};
    cp_tensor try_ = dev(rr, sy, "r"), tda = poisoned(s, "da"), tdbb = poisoned(sb, "db");
    TU_OK(cp_concat_channels_backward(ctx, &try_, &tda, &tdbb, false));
    float *ga = tu_download(&tda), *gb = tu_download(&tdbb);
    float *pb = rnd(&r, numel(sb), -1, 1);
    u = (ew_user){2, s, pb, NULL, 3};
    tu_gradcheck("concat da", ew_forward, &u, x, n, numel(sy), rr, ga, &o, &r);
    u = (ew_user){3, sb, x, NULL, 5};
    tu_gradcheck("concat db", ew_forward, &u, pb, numel(sb), numel(sy), rr, gb, &o, &r);

    free(ga);
    free(gb);
    free(pb);
    free(b);
    free(g);
    free(x);
    free(rr);
    free(m);
    cp_tensor_free(ctx, &tr);
    cp_tensor_free(ctx, &tdb);
    cp_tensor_free(ctx, &tm);
    cp_tensor_free(ctx, &tdg);
    cp_tensor_free(ctx, &try_);
    cp_tensor_free(ctx, &tda);
    cp_tensor_free(ctx, &tdbb);
}
END_TEST

START_TEST(bad_arguments)
{
    cp_context *ctx = tu_ctx();
    cp_tensor a = tu_tensor_poisoned(2, 3, 4, 5, "a");
    cp_tensor b = tu_tensor_poisoned(2, 3, 4, 4, "b");
    cp_tensor m = tu_tensor_poisoned(2, 3, 4, 5, "m3");
    cp_tensor bias = tu_tensor_poisoned(4, 1, 1, 1, "bias");
    ck_assert_int_eq(cp_add(ctx, 1, &a, 1, &b, &a), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "b[2,3,4,4]"));
    ck_assert_int_eq(cp_mul(ctx, &a, NULL, &a), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_bias_add(ctx, &a, &bias, &a), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "bias[4,1,1,1]"));
    ck_assert_int_eq(cp_bias_backward(ctx, &a, &bias, false), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_mask_known(ctx, &a, &m, &a), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "m3[2,3,4,5]"));
    ck_assert_int_eq(cp_concat_channels(ctx, &a, &b, &a), CP_ERR_INVALID_ARGUMENT);
    /* a view running past the end of its buffer */
    int64_t shp[4] = {2, 3, 4, 4};
    cp_tensor past = cp_tensor_view(a.buf, 30, 4, shp, "past");
    ck_assert_int_eq(cp_scale(ctx, 1.0f, &b, &past, false), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "past the end"));
    cp_tensor_free(ctx, &a);
    cp_tensor_free(ctx, &b);
    cp_tensor_free(ctx, &m);
    cp_tensor_free(ctx, &bias);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("elementwise");
    TCase *tc = tcase_create("elementwise");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, add_mul_scale);
    tcase_add_test(tc, views_at_offsets);
    tcase_add_test(tc, bias_add_and_backward);
    tcase_add_test(tc, bias_backward_large_accurate);
    tcase_add_test(tc, concat);
    tcase_add_test(tc, masks);
    tcase_add_test(tc, composite_nan_propagates);
    tcase_add_test(tc, gradcheck);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
