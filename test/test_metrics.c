/* Metrics (MODEL.md, "Metrics"): PSNR (hole / whole, floored MSE), SSIM on
 * luma against a direct 11×11 reference and a value from skimage, hole L1,
 * clipping (not rounding), per-image averaging, empty holes, mean fill. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/metrics.h"
#include "util/test_util.h"

#define PSNR_MAX (10.0 * log10(255.0 * 255.0 / 1e-10))
static const double C1 = (0.01 * 255.0) * (0.01 * 255.0);
static const double C2 = (0.03 * 255.0) * (0.03 * 255.0);

static float *img(int S) { return calloc(3 * (size_t)S * S, sizeof(float)); }

static float *random_img(int S, uint64_t seed, float lo, float hi)
{
    float *p = img(S);
    cp_rng r;
    cp_rng_seed(&r, seed, 7);
    tu_fill_uniform(&r, p, 3 * (size_t)S * S, lo, hi);
    return p;
}

/* The centre square mask of side S/2. */
static float *center_mask(int S)
{
    float *m = calloc((size_t)S * S, sizeof *m);
    for (int i = S / 4; i < S / 4 + S / 2; i++)
        for (int j = S / 4; j < S / 4 + S / 2; j++) m[i * S + j] = 1.0f;
    return m;
}

static double psnr_of_mse(double mse) { return 10.0 * log10(255.0 * 255.0 / mse); }

/* ---- independent SSIM reference: direct 11×11 window, 2-D weights ---- */
static double ref_to255(float v)
{
    double d = ((double)v + 1.0) * 127.5;
    return d < 0 ? 0 : d > 255 ? 255 : d;
}

static double ref_ssim(const float *y, const float *x, int S)
{
    size_t P = (size_t)S * S;
    double *X = malloc(sizeof *X * P), *Y = malloc(sizeof *Y * P);
    for (size_t i = 0; i < P; i++) {
        X[i] = 0.299 * ref_to255(x[i]) + 0.587 * ref_to255(x[P + i]) + 0.114 * ref_to255(x[2 * P + i]);
        Y[i] = 0.299 * ref_to255(y[i]) + 0.587 * ref_to255(y[P + i]) + 0.114 * ref_to255(y[2 * P + i]);
    }
    double w[11][11], wsum = 0;
    for (int a = 0; a < 11; a++)
        for (int b = 0; b < 11; b++) {
            w[a][b] = exp(-((a - 5) * (a - 5) + (b - 5) * (b - 5)) / (2 * 1.5 * 1.5));
            wsum += w[a][b];
        }
    for (int a = 0; a < 11; a++)
        for (int b = 0; b < 11; b++) w[a][b] /= wsum;
    double total = 0;
    int V = S - 10;
    for (int r = 0; r < V; r++)
        for (int c = 0; c < V; c++) {
            double mx = 0, my = 0;
            for (int a = 0; a < 11; a++)
                for (int b = 0; b < 11; b++) {
                    mx += w[a][b] * X[(r + a) * S + c + b];
                    my += w[a][b] * Y[(r + a) * S + c + b];
                }
            double vx = 0, vy = 0, cxy = 0; /* population, about the mean */
            for (int a = 0; a < 11; a++)
                for (int b = 0; b < 11; b++) {
                    double dx = X[(r + a) * S + c + b] - mx, dy = Y[(r + a) * S + c + b] - my;
                    vx += w[a][b] * dx * dx;
                    vy += w[a][b] * dy * dy;
                    cxy += w[a][b] * dx * dy;
                }
            total += ((2 * mx * my + C1) * (2 * cxy + C2)) /
                     ((mx * mx + my * my + C1) * (vx + vy + C2));
        }
    free(X);
    free(Y);
    return total / ((double)V * V);
}

START_TEST(identical_images_hit_the_floor)
{
    const int S = 16;
    float *x = random_img(S, 1, -1, 1), *m = center_mask(S);
    double v;
    TU_OK(cp_psnr(x, x, NULL, S, &v));
    ck_assert_double_eq_tol(v, PSNR_MAX, 1e-9);
    TU_OK(cp_psnr(x, x, m, S, &v));
    ck_assert_double_eq_tol(v, PSNR_MAX, 1e-9);
    TU_OK(cp_ssim_luma(x, x, S, &v));
    ck_assert_double_eq_tol(v, 1.0, 1e-12);
    TU_OK(cp_hole_l1(x, x, m, S, &v));
    ck_assert_double_eq(v, 0.0);

    cp_metrics_acc acc;
    cp_metrics_init(&acc);
    TU_OK(cp_metrics_add(&acc, x, x, m, S));
    cp_metrics r;
    TU_OK(cp_metrics_result(&acc, &r));
    ck_assert_double_eq_tol(r.psnr, PSNR_MAX, 1e-9);
    ck_assert_double_eq_tol(r.hole_psnr, PSNR_MAX, 1e-9);
    ck_assert_double_eq_tol(r.ssim, 1.0, 1e-12);
    ck_assert_double_eq(r.hole_l1, 0.0);
    ck_assert_int_eq(r.images, 1);
    ck_assert_int_eq(r.images_with_hole, 1);
    free(x);
    free(m);
}
END_TEST

START_TEST(constant_offset_gives_analytic_psnr_and_l1)
{
    const int S = 16;
    float *x = random_img(S, 2, -0.9f, 0.9f), *y = img(S), *m = center_mask(S);
    for (size_t i = 0; i < 3 * (size_t)S * S; i++) y[i] = x[i] + 10.0f / 127.5f;
    double v;
    TU_OK(cp_psnr(y, x, NULL, S, &v));
    ck_assert_double_eq_tol(v, psnr_of_mse(100.0), 1e-3);
    TU_OK(cp_psnr(y, x, m, S, &v));
    ck_assert_double_eq_tol(v, psnr_of_mse(100.0), 1e-3);
    TU_OK(cp_hole_l1(y, x, m, S, &v));
    ck_assert_double_eq_tol(v, 10.0, 1e-4);
    free(x);
    free(y);
    free(m);
}
END_TEST

/* A 0.25 offset on the 255 scale: rounding to integers would give a
 * difference of 0 or 1 everywhere, never an MSE of 0.0625. */
START_TEST(values_are_not_rounded)
{
    const int S = 12;
    float *x = img(S), *y = img(S), *m = center_mask(S);
    for (size_t i = 0; i < 3 * (size_t)S * S; i++) y[i] = 0.25f / 127.5f; /* 127.5 vs 127.75 */
    double v;
    TU_OK(cp_psnr(y, x, NULL, S, &v));
    ck_assert_double_eq_tol(v, psnr_of_mse(0.0625), 1e-4);
    TU_OK(cp_hole_l1(y, x, m, S, &v));
    ck_assert_double_eq_tol(v, 0.25, 1e-6);
    free(x);
    free(y);
    free(m);
}
END_TEST

START_TEST(values_are_clipped_to_0_255)
{
    const int S = 12;
    size_t n = 3 * (size_t)S * S;
    float *x = img(S), *y = img(S), *m = center_mask(S);
    double v;
    /* y = 1.5 counts as 255: equal to x = 1. */
    for (size_t i = 0; i < n; i++) x[i] = 1.0f, y[i] = 1.5f;
    TU_OK(cp_psnr(y, x, NULL, S, &v));
    ck_assert_double_eq_tol(v, PSNR_MAX, 1e-9);
    /* and -3 counts as 0: equal to -1. */
    for (size_t i = 0; i < n; i++) x[i] = -1.0f, y[i] = -3.0f;
    TU_OK(cp_psnr(y, x, m, S, &v));
    ck_assert_double_eq_tol(v, PSNR_MAX, 1e-9);
    TU_OK(cp_ssim_luma(y, x, S, &v));
    ck_assert_double_eq_tol(v, 1.0, 1e-12);
    /* x = 0.9 -> 242.25: the difference to 1.5 is 12.75, not 76.5. */
    for (size_t i = 0; i < n; i++) x[i] = 0.9f, y[i] = 1.5f;
    double d = 255.0 - ((double)0.9f + 1.0) * 127.5;
    TU_OK(cp_psnr(y, x, NULL, S, &v));
    ck_assert_double_eq_tol(v, psnr_of_mse(d * d), 1e-9);
    TU_OK(cp_hole_l1(y, x, m, S, &v));
    ck_assert_double_eq_tol(v, d, 1e-9);
    free(x);
    free(y);
    free(m);
}
END_TEST

START_TEST(hole_psnr_ignores_the_known_region)
{
    const int S = 20;
    size_t P = (size_t)S * S;
    float *x = random_img(S, 3, -0.8f, 0.8f), *y = img(S), *m = center_mask(S);
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < P; i++)
            y[c * P + i] = m[i] != 0.0f ? x[c * P + i] : -x[c * P + i] + 0.1f;
    double hole, all, l1;
    TU_OK(cp_psnr(y, x, m, S, &hole));
    TU_OK(cp_psnr(y, x, NULL, S, &all));
    TU_OK(cp_hole_l1(y, x, m, S, &l1));
    ck_assert_double_eq_tol(hole, PSNR_MAX, 1e-9);
    ck_assert_double_eq(l1, 0.0);
    ck_assert_double_lt(all, 40.0);

    /* An error of 20 in the hole only: over the hole MSE = 400; over the
     * image it is diluted by the hole fraction (1/4). */
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < P; i++)
            y[c * P + i] = x[c * P + i] + (m[i] != 0.0f ? 20.0f / 127.5f : 0.0f);
    TU_OK(cp_psnr(y, x, m, S, &hole));
    TU_OK(cp_psnr(y, x, NULL, S, &all));
    TU_OK(cp_hole_l1(y, x, m, S, &l1));
    ck_assert_double_eq_tol(hole, psnr_of_mse(400.0), 1e-3);
    ck_assert_double_eq_tol(all, psnr_of_mse(100.0), 1e-3);
    ck_assert_double_eq_tol(l1, 20.0, 1e-4);
    free(x);
    free(y);
    free(m);
}
END_TEST

/* Each metric per image, then averaged: not the PSNR of the pooled MSE. */
START_TEST(metrics_average_over_images)
{
    const int S = 16;
    size_t n = 3 * (size_t)S * S;
    float *x = random_img(S, 4, -0.9f, 0.9f), *y1 = img(S), *y2 = img(S), *m = center_mask(S);
    for (size_t i = 0; i < n; i++) {
        y1[i] = x[i] + 10.0f / 127.5f;
        y2[i] = x[i] + 1.0f / 127.5f;
    }
    cp_metrics_acc a, b;
    cp_metrics_init(&a);
    cp_metrics_init(&b);
    TU_OK(cp_metrics_add(&a, y1, x, m, S));
    TU_OK(cp_metrics_add(&b, y2, x, m, S));
    cp_metrics_merge(&a, &b);
    cp_metrics r;
    TU_OK(cp_metrics_result(&a, &r));
    double want = (psnr_of_mse(100.0) + psnr_of_mse(1.0)) / 2;
    ck_assert_double_eq_tol(r.psnr, want, 2e-3);
    ck_assert_double_eq_tol(r.hole_psnr, want, 2e-3);
    ck_assert_double_eq_tol(r.hole_l1, 5.5, 1e-4);
    double s1, s2;
    TU_OK(cp_ssim_luma(y1, x, S, &s1));
    TU_OK(cp_ssim_luma(y2, x, S, &s2));
    ck_assert_double_eq_tol(r.ssim, (s1 + s2) / 2, 1e-12);
    ck_assert_int_eq(r.images, 2);
    ck_assert_int_eq(r.images_with_hole, 2);
    free(x);
    free(y1);
    free(y2);
    free(m);
}
END_TEST

START_TEST(empty_hole_is_skipped_and_counted)
{
    const int S = 16;
    size_t n = 3 * (size_t)S * S;
    float *x = random_img(S, 5, -0.9f, 0.9f), *y = img(S), *m = center_mask(S);
    float *none = calloc((size_t)S * S, sizeof *none);
    for (size_t i = 0; i < n; i++) y[i] = x[i] + 10.0f / 127.5f;
    double v;
    TU_OK(cp_psnr(y, x, none, S, &v));
    ck_assert(isnan(v));
    TU_OK(cp_hole_l1(y, x, none, S, &v));
    ck_assert(isnan(v));

    cp_metrics_acc acc;
    cp_metrics r;
    cp_metrics_init(&acc);
    TU_OK(cp_metrics_result(&acc, &r));
    ck_assert(isnan(r.psnr) && isnan(r.ssim) && isnan(r.hole_psnr) && isnan(r.hole_l1));
    ck_assert_int_eq(r.images, 0);

    TU_OK(cp_metrics_add(&acc, x, x, none, S)); /* perfect, but no hole */
    TU_OK(cp_metrics_result(&acc, &r));
    ck_assert_int_eq(r.images, 1);
    ck_assert_int_eq(r.images_with_hole, 0);
    ck_assert(isnan(r.hole_psnr) && isnan(r.hole_l1));
    ck_assert_double_eq_tol(r.psnr, PSNR_MAX, 1e-9);

    TU_OK(cp_metrics_add(&acc, y, x, m, S));
    TU_OK(cp_metrics_result(&acc, &r));
    ck_assert_int_eq(r.images, 2);
    ck_assert_int_eq(r.images_with_hole, 1);
    ck_assert_double_eq_tol(r.hole_psnr, psnr_of_mse(100.0), 1e-3); /* only image 2 */
    ck_assert_double_eq_tol(r.hole_l1, 10.0, 1e-4);
    ck_assert_double_eq_tol(r.psnr, (PSNR_MAX + psnr_of_mse(100.0)) / 2, 1e-3);
    free(x);
    free(y);
    free(m);
    free(none);
}
END_TEST

/* Random images (independent and correlated) against the direct 11×11
 * reference: catches padding, sample covariance, a wrong σ or window. */
START_TEST(ssim_matches_direct_reference)
{
    static const int sizes[] = {11, 16, 37};
    for (int k = 0; k < 3; k++) {
        int S = sizes[k];
        size_t n = 3 * (size_t)S * S;
        float *x = random_img(S, 10 + (uint64_t)k, -1.1f, 1.1f);
        float *y = random_img(S, 20 + (uint64_t)k, -1.1f, 1.1f);
        float *z = img(S);
        for (size_t i = 0; i < n; i++) z[i] = 0.7f * x[i] + 0.3f * y[i];
        double got, want;
        TU_OK(cp_ssim_luma(y, x, S, &got));
        want = ref_ssim(y, x, S);
        ck_assert_msg(fabs(got - want) < 1e-10, "S=%d independent: %.15g vs %.15g", S, got, want);
        TU_OK(cp_ssim_luma(z, x, S, &got));
        want = ref_ssim(z, x, S);
        ck_assert_msg(fabs(got - want) < 1e-10, "S=%d correlated: %.15g vs %.15g", S, got, want);
        ck_assert_double_gt(got, 0.3); /* a meaningful value, not ~0 */
        free(x);
        free(y);
        free(z);
    }
}
END_TEST

/* Constant images: window variance 0, so SSIM is the luminance term
 * (2μ(μ+c) + C1) / (μ² + (μ+c)² + C1) everywhere in the valid region.
 * Zero padding would add variance and darker means at the border. */
START_TEST(ssim_of_constant_images_is_analytic)
{
    static const int sizes[] = {11, 16, 37};
    for (int k = 0; k < 3; k++) {
        int S = sizes[k];
        size_t P = (size_t)S * S;
        float *x = img(S), *y = img(S);
        const float xv[3] = {-0.2f, 0.1f, 0.4f}, yv[3] = {0.3f, 0.5f, 0.2f};
        for (size_t c = 0; c < 3; c++)
            for (size_t i = 0; i < P; i++) x[c * P + i] = xv[c], y[c * P + i] = yv[c];
        double mx = 0.299 * ref_to255(xv[0]) + 0.587 * ref_to255(xv[1]) + 0.114 * ref_to255(xv[2]);
        double my = 0.299 * ref_to255(yv[0]) + 0.587 * ref_to255(yv[1]) + 0.114 * ref_to255(yv[2]);
        double want = (2 * mx * my + C1) / (mx * mx + my * my + C1), got;
        TU_OK(cp_ssim_luma(y, x, S, &got));
        ck_assert_msg(fabs(got - want) < 1e-12, "S=%d: %.15g vs %.15g", S, got, want);
        ck_assert_double_lt(got, 0.99);
        free(x);
        free(y);
    }
}
END_TEST

/* Formula images (exactly reproducible in numpy) with some values beyond
 * ±1; the expected values come from skimage 0.26:
 *   structural_similarity(luma(x), luma(y), gaussian_weights=True, sigma=1.5,
 *                         use_sample_covariance=False, data_range=255)
 * (with use_sample_covariance=True they would be 0.62486530061 and
 * 0.61272151992). */
static void formula_images(int S, float *x, float *y)
{
    size_t P = (size_t)S * S;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                float a = (float)(((i * 7 + j * 13 + c * 5) % 17) / 8.5 - 1.0);
                float b = (float)(((i * 3 + j * j + c * 11 + i * j) % 23) / 9.5 - 1.2);
                x[c * P + (size_t)i * S + j] = a;
                y[c * P + (size_t)i * S + j] = (float)(0.5 * (double)a + 0.5 * (double)b);
            }
}

START_TEST(ssim_matches_skimage)
{
    static const int sizes[] = {16, 23};
    static const double want[] = {0.6249411535209712, 0.612798481466646};
    for (int k = 0; k < 2; k++) {
        int S = sizes[k];
        float *x = img(S), *y = img(S);
        formula_images(S, x, y);
        double got;
        TU_OK(cp_ssim_luma(y, x, S, &got));
        ck_assert_msg(fabs(got - want[k]) < 1e-10, "S=%d: %.15g vs skimage %.15g", S, got, want[k]);
        free(x);
        free(y);
    }
}
END_TEST

START_TEST(mean_fill_known_values)
{
    const int S = 8;
    size_t P = (size_t)S * S;
    float *x = img(S), *out = img(S), *m = center_mask(S); /* hole: rows/cols 2..5 */
    /* Known pixels: channel c holds c*0.1 + 0.2 in column 0, c*0.1 - 0.2 in
     * column 1, c*0.1 elsewhere -> mean c*0.1 (equal counts in cols 0, 1). */
    for (size_t c = 0; c < 3; c++)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                float v = (float)c * 0.1f + (j == 0 ? 0.2f : j == 1 ? -0.2f : 0.0f);
                x[c * P + (size_t)i * S + j] = m[i * S + j] != 0.0f ? 0.9f : v;
            }
    TU_OK(cp_mean_fill(x, m, S, out));
    int bad = 0;
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < P; i++) {
            if (m[i] != 0.0f)
                bad += fabsf(out[c * P + i] - (float)c * 0.1f) > 1e-6f;
            else
                bad += out[c * P + i] != x[c * P + i];
        }
    ck_assert_int_eq(bad, 0);

    /* In place gives the same. */
    float *copy = img(S);
    memcpy(copy, x, sizeof *x * 3 * P);
    TU_OK(cp_mean_fill(copy, m, S, copy));
    ck_assert_int_eq(memcmp(copy, out, sizeof *x * 3 * P), 0);

    /* All hole: zeros. No hole: a copy. */
    float *all = malloc(sizeof *all * P), *none = calloc(P, sizeof *none);
    for (size_t i = 0; i < P; i++) all[i] = 1.0f;
    TU_OK(cp_mean_fill(x, all, S, out));
    for (size_t i = 0; i < 3 * P; i++) bad += out[i] != 0.0f;
    ck_assert_int_eq(bad, 0);
    TU_OK(cp_mean_fill(x, none, S, out));
    ck_assert_int_eq(memcmp(x, out, sizeof *x * 3 * P), 0);
    free(x);
    free(out);
    free(m);
    free(copy);
    free(all);
    free(none);
}
END_TEST

/* The floor on a random image: hole L1 of the fill is the mean |x - mean|. */
START_TEST(mean_fill_floor_metrics)
{
    const int S = 16;
    size_t P = (size_t)S * S;
    float *x = random_img(S, 6, -1, 1), *f = img(S), *m = center_mask(S);
    TU_OK(cp_mean_fill(x, m, S, f));
    double want = 0;
    size_t holes = 0;
    for (size_t c = 0; c < 3; c++) {
        double s = 0;
        size_t k = 0;
        for (size_t i = 0; i < P; i++)
            if (m[i] == 0.0f) s += x[c * P + i], k++;
        double mean = s / (double)k;
        for (size_t i = 0; i < P; i++)
            if (m[i] != 0.0f) want += fabs(x[c * P + i] - mean) * 127.5, holes++;
    }
    want /= (double)holes;
    double got;
    TU_OK(cp_hole_l1(f, x, m, S, &got));
    ck_assert_double_eq_tol(got, want, 1e-4);
    free(x);
    free(f);
    free(m);
}
END_TEST

START_TEST(bad_arguments)
{
    float *x = img(16), *m = center_mask(16);
    double v;
    cp_metrics_acc acc;
    cp_metrics_init(&acc);
    ck_assert_int_eq(cp_ssim_luma(x, x, 10, &v), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_metrics_add(&acc, x, x, m, 10), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_metrics_add(&acc, x, NULL, m, 16), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_metrics_add(&acc, x, x, NULL, 16), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_metrics_add(NULL, x, x, m, 16), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_psnr(NULL, x, NULL, 16, &v), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_psnr(x, x, NULL, 0, &v), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_hole_l1(x, x, NULL, 16, &v), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_mean_fill(x, NULL, 16, x), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_metrics_result(&acc, NULL), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(acc.images, 0);
    free(x);
    free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, identical_images_hit_the_floor);
    tcase_add_test(tc, constant_offset_gives_analytic_psnr_and_l1);
    tcase_add_test(tc, values_are_not_rounded);
    tcase_add_test(tc, values_are_clipped_to_0_255);
    tcase_add_test(tc, hole_psnr_ignores_the_known_region);
    tcase_add_test(tc, metrics_average_over_images);
    tcase_add_test(tc, empty_hole_is_skipped_and_counted);
    tcase_add_test(tc, ssim_matches_direct_reference);
    tcase_add_test(tc, ssim_of_constant_images_is_analytic);
    tcase_add_test(tc, ssim_matches_skimage);
    tcase_add_test(tc, mean_fill_known_values);
    tcase_add_test(tc, mean_fill_floor_metrics);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
