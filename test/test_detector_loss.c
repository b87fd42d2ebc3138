/* The detector's loss op (cp_loss_bce_dice, cl/loss_dice.cl): values and
 * gradient against a double CPU reference at batch 1 and 3 with odd sizes
 * and every reduction work-group size, grad_scale and accumulate, finite
 * differences, the empty-mask case, NaN propagation and bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/ops.h"
#include "backend/opencl/ops/ops_internal.h"
#include "util/gradcheck.h"
#include "util/test_util.h"

static const double eps = 1.0;

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }
static double softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }

/* The loss and dz (scale 1) in double. */
static double reference(const float *z, const float *t, int n, int hw, double w, double *dz)
{
    double bce = 0, dice = 0;
    for (int b = 0; b < n; b++) {
        double inter = 0, s = 0;
        for (int j = 0; j < hw; j++) {
            double zv = z[b * hw + j], tv = t[b * hw + j], p = sigmoid(zv);
            bce += softplus(zv) - zv * tv;
            inter += p * tv;
            s += p + tv;
        }
        dice += (2 * inter + eps) / (s + eps);
        for (int j = 0; dz && j < hw; j++) {
            double zv = z[b * hw + j], tv = t[b * hw + j], p = sigmoid(zv);
            double dd = (2 * tv * (s + eps) - (2 * inter + eps)) / ((s + eps) * (s + eps));
            dz[b * hw + j] = (p - tv) / ((double)n * hw) - w / n * dd * p * (1 - p);
        }
    }
    return bce / ((double)n * hw) + w * (1 - dice / n);
}

static float *random_logits(cp_rng *r, size_t n)
{
    float *z = malloc(n * sizeof *z);
    tu_fill_uniform(r, z, n, -4, 4);
    return z;
}

/* A blob per image (like a mask on the lower face), some images empty. */
static float *random_target(cp_rng *r, int n, int h, int w, bool empty_first)
{
    float *t = calloc((size_t)(n * h * w), sizeof *t);
    for (int b = empty_first ? 1 : 0; b < n; b++) {
        int y0 = (int)cp_rng_range(r, 0, h / 2), x0 = (int)cp_rng_range(r, 0, w / 2);
        for (int y = y0; y < h; y++)
            for (int x = x0; x < w; x++) t[(b * h + y) * w + x] = cp_rng_uniform(r) < 0.9f;
    }
    return t;
}

static void check_values(int n, int h, int w, float dice_weight, bool empty_first, uint64_t seed)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, seed, 0);
    size_t count = (size_t)(n * h * w);
    int hw = h * w;
    float *z = random_logits(&r, count), *t = random_target(&r, n, h, w, empty_first);
    float *dz0 = malloc(count * sizeof *dz0);
    tu_fill_uniform(&r, dz0, count, -1, 1);
    double *dz = malloc(count * sizeof *dz), *want = malloc(count * sizeof *want);
    double want_loss = reference(z, t, n, hw, dice_weight, dz);
    cp_tensor tz = tu_tensor_from(z, n, 1, h, w, "z"), tt = tu_tensor_from(t, n, 1, h, w, "t");
    static const size_t caps[] = {0, 1, 2, 64};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        cp_opsi_reduce_wg_cap = caps[c];
        for (int acc = 0; acc <= 1; acc++) {
            cp_tensor tl = tu_tensor_poisoned(1, 1, 1, 1, "loss");
            cp_tensor tdz = acc ? tu_tensor_from(dz0, n, 1, h, w, "dz")
                                : tu_tensor_poisoned(n, 1, h, w, "dz");
            TU_OK(cp_loss_bce_dice(ctx, &tz, &tt, dice_weight, &tl, &tdz, 0.7f, acc));
            float loss;
            TU_OK(cp_tensor_download(ctx, &tl, &loss));
            char what[96];
            snprintf(what, sizeof what, "loss %dx%dx%d cap %zu", n, h, w, caps[c]);
            tu_assert_close(what, &loss, &want_loss, 1, 1e-6, 1e-5);
            for (size_t i = 0; i < count; i++) want[i] = 0.7 * dz[i] + (acc ? dz0[i] : 0.0);
            float *got = tu_download(&tdz);
            snprintf(what, sizeof what, "dz %dx%dx%d cap %zu acc %d", n, h, w, caps[c], acc);
            tu_assert_close(what, got, want, count, 1e-7, 1e-4);
            free(got);
            cp_tensor_free(ctx, &tl);
            cp_tensor_free(ctx, &tdz);
        }
    }
    cp_opsi_reduce_wg_cap = 0;
    /* Without dz: the loss only. */
    cp_tensor tl = tu_tensor_poisoned(1, 1, 1, 1, "loss");
    TU_OK(cp_loss_bce_dice(ctx, &tz, &tt, dice_weight, &tl, NULL, 0.0f, false));
    float loss;
    TU_OK(cp_tensor_download(ctx, &tl, &loss));
    tu_assert_close("loss without gradient", &loss, &want_loss, 1, 1e-6, 1e-5);
    cp_tensor_free(ctx, &tl);
    cp_tensor_free(ctx, &tz);
    cp_tensor_free(ctx, &tt);
    free(z);
    free(t);
    free(dz0);
    free(dz);
    free(want);
}

START_TEST(matches_reference_batch1_odd)
{
    check_values(1, 7, 5, 1.0f, false, 3);
}
END_TEST

START_TEST(matches_reference_batch3_odd)
{
    check_values(3, 13, 11, 1.0f, true, 4);
    check_values(2, 33, 29, 0.5f, false, 5);
    check_values(2, 64, 64, 1.0f, true, 6); /* several chunks per image */
}
END_TEST

typedef struct loss_user {
    const float *t;
    int n, h, w;
} loss_user;

static void loss_forward(void *user, const float *in, float *out)
{
    const loss_user *u = user;
    cp_context *ctx = tu_ctx();
    cp_tensor tz = tu_tensor_from(in, u->n, 1, u->h, u->w, "z");
    cp_tensor tt = tu_tensor_from(u->t, u->n, 1, u->h, u->w, "t");
    cp_tensor tl = tu_tensor_poisoned(1, 1, 1, 1, "loss");
    TU_OK(cp_loss_bce_dice(ctx, &tz, &tt, 1.0f, &tl, NULL, 0.0f, false));
    TU_OK(cp_tensor_download(ctx, &tl, out));
    cp_tensor_free(ctx, &tz);
    cp_tensor_free(ctx, &tt);
    cp_tensor_free(ctx, &tl);
}

START_TEST(finite_differences)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 77, 0);
    const int cases[2][3] = {{1, 5, 3}, {2, 6, 7}};
    for (int k = 0; k < 2; k++) {
        int n = cases[k][0], h = cases[k][1], w = cases[k][2];
        size_t count = (size_t)(n * h * w);
        float *z = malloc(count * sizeof *z);
        tu_fill_uniform(&r, z, count, -2, 2);
        float *t = random_target(&r, n, h, w, k == 1);
        cp_tensor tz = tu_tensor_from(z, n, 1, h, w, "z"), tt = tu_tensor_from(t, n, 1, h, w, "t");
        cp_tensor tl = tu_tensor_poisoned(1, 1, 1, 1, "loss"), tdz = tu_tensor_poisoned(n, 1, h, w, "dz");
        TU_OK(cp_loss_bce_dice(ctx, &tz, &tt, 1.0f, &tl, &tdz, 1.0f, false));
        float *an = tu_download(&tdz), one = 1.0f;
        loss_user u = {t, n, h, w};
        tu_gradcheck_opts o = {.h = 1e-2, .atol = 2e-5, .rtol = 2e-3, .checks = count};
        tu_gradcheck("bce+dice dz", loss_forward, &u, z, count, 1, &one, an, &o, &r);
        free(an);
        free(z);
        free(t);
        cp_tensor *ts[] = {&tz, &tt, &tl, &tdz};
        for (int i = 0; i < 4; i++) cp_tensor_free(ctx, ts[i]);
    }
}
END_TEST

/* No mask on the face and a confident "nothing": the loss is near 0 (the
 * Dice term of an empty image is 1 by the +1 smoothing, not 0/0). */
START_TEST(empty_mask_is_not_penalised)
{
    cp_context *ctx = tu_ctx();
    enum { N = 2, H = 9, W = 9 };
    float z[N * H * W], t[N * H * W];
    for (int i = 0; i < N * H * W; i++) {
        z[i] = -12.0f;
        t[i] = 0.0f;
    }
    cp_tensor tz = tu_tensor_from(z, N, 1, H, W, "z"), tt = tu_tensor_from(t, N, 1, H, W, "t");
    cp_tensor tl = tu_tensor_poisoned(1, 1, 1, 1, "loss");
    TU_OK(cp_loss_bce_dice(ctx, &tz, &tt, 1.0f, &tl, NULL, 0.0f, false));
    float loss;
    TU_OK(cp_tensor_download(ctx, &tl, &loss));
    ck_assert_msg(loss >= 0.0f && loss < 1e-3f, "loss %g", (double)loss);
    z[5] = NAN;
    cp_tensor tn = tu_tensor_from(z, N, 1, H, W, "z");
    TU_OK(cp_loss_bce_dice(ctx, &tn, &tt, 1.0f, &tl, NULL, 0.0f, false));
    TU_OK(cp_tensor_download(ctx, &tl, &loss));
    ck_assert_msg(isnan(loss), "NaN in the logits gives %g", (double)loss);
    cp_tensor *ts[] = {&tz, &tt, &tl, &tn};
    for (int i = 0; i < 4; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

START_TEST(bad_arguments)
{
    cp_context *ctx = tu_ctx();
    cp_tensor z2 = tu_tensor_poisoned(1, 2, 4, 4, "z2"), t2 = tu_tensor_poisoned(1, 2, 4, 4, "t2");
    cp_tensor z = tu_tensor_poisoned(1, 1, 4, 4, "z"), t = tu_tensor_poisoned(1, 1, 4, 5, "t");
    cp_tensor l = tu_tensor_poisoned(1, 1, 1, 1, "loss"), l2 = tu_tensor_poisoned(1, 1, 1, 2, "l2");
    ck_assert_int_eq(cp_loss_bce_dice(ctx, &z2, &t2, 1.0f, &l, NULL, 0, false), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "[N, 1, H, W]"));
    ck_assert_int_eq(cp_loss_bce_dice(ctx, &z, &t, 1.0f, &l, NULL, 0, false), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_loss_bce_dice(ctx, &z, &z, 1.0f, &l2, NULL, 0, false), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_loss_bce_dice(ctx, &z, &z, 1.0f, &l, &t, 1, false), CP_ERR_INVALID_ARGUMENT);
    cp_tensor *ts[] = {&z2, &t2, &z, &t, &l, &l2};
    for (int i = 0; i < 6; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("detector_loss");
    TCase *tc = tcase_create("loss_dice");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, matches_reference_batch1_odd);
    tcase_add_test(tc, matches_reference_batch3_odd);
    tcase_add_test(tc, finite_differences);
    tcase_add_test(tc, empty_mask_is_not_penalised);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
