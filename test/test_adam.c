/* Adam (PyTorch's form): several steps against a double reference, checked
 * at t = 1 and t = 10, on views of one arena at odd offsets (the optimiser
 * works on flat ranges of parameter / gradient / moment arenas), MODEL.md's
 * defaults and a larger learning rate; NaN; bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/ops.h"
#include "util/test_util.h"

typedef struct ref_state {
    double *p, *m, *v;
} ref_state;

static void ref_step(const cp_adam_params *a, int64_t t, ref_state *s, const float *g,
                     size_t n)
{
    double b1 = a->beta1, b2 = a->beta2;
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    for (size_t i = 0; i < n; i++) {
        s->m[i] = b1 * s->m[i] + (1.0 - b1) * g[i];
        s->v[i] = b2 * s->v[i] + (1.0 - b2) * (double)g[i] * g[i];
        s->p[i] -= (double)a->lr * (s->m[i] / bc1) / (sqrt(s->v[i] / bc2) + (double)a->eps);
    }
}

/* Tolerances. m and v follow float recurrences with ~2 roundings per step
 * of terms of magnitude <= |g| <= 1 (6e-8 each, 10 steps). v adds positive
 * terms: relative, rtol 2e-6. m's terms can cancel (b1 m vs (1 - b1) g), so
 * its error is absolute: atol 5e-7, rtol 2e-6. p moves by ~lr per step; each step's
 * update is computed to a few ulp of lr (rtol ~1e-6 of lr), and each
 * subtraction rounds p to ulp(|p| <= 2) / 2 = 1.2e-7: after 10 steps the
 * error is <= 10 (1.2e-7 + 1e-6 lr): atol 1.3e-6 + 2e-5 lr. */
static void run_case(const cp_adam_params *a, size_t n, cp_rng *r)
{
    cp_context *ctx = tu_ctx();
    /* arena layout: [pad 3][p n][pad 5][g n][pad 1][m n][v n][pad 2] */
    size_t op = 3, og = op + n + 5, om = og + n + 1, ov = om + n, total = ov + n + 2;
    float *arena = malloc(total * sizeof *arena);
    tu_fill_uniform(r, arena, total, -2, 2);
    for (size_t i = 0; i < n; i++) {
        arena[om + i] = 0.0f; /* fresh optimiser state */
        arena[ov + i] = 0.0f;
    }
    int64_t tot = (int64_t)total, len = (int64_t)n;
    cp_tensor t;
    TU_OK(cp_tensor_create(ctx, 1, &tot, "arena", &t));
    TU_OK(cp_tensor_upload(ctx, &t, arena));
    cp_tensor p = cp_tensor_view(t.buf, op, 1, &len, "p");
    cp_tensor g = cp_tensor_view(t.buf, og, 1, &len, "g");
    cp_tensor m = cp_tensor_view(t.buf, om, 1, &len, "m");
    cp_tensor v = cp_tensor_view(t.buf, ov, 1, &len, "v");
    ref_state s = {malloc(n * sizeof(double)), malloc(n * sizeof(double)),
                   malloc(n * sizeof(double))};
    for (size_t i = 0; i < n; i++) {
        s.p[i] = arena[op + i];
        s.m[i] = 0;
        s.v[i] = 0;
    }
    float *grad = malloc(n * sizeof *grad);
    double atol_p = 1.3e-6 + 2e-5 * (double)a->lr;
    for (int64_t step = 1; step <= 10; step++) {
        /* new gradient each step, some tiny, one exactly zero */
        tu_fill_uniform(r, grad, n, -1, 1);
        grad[0] = 0.0f;
        if (n > 2) grad[1] *= 1e-6f;
        TU_OK(cp_tensor_upload(ctx, &g, grad));
        TU_OK(cp_adam_step(ctx, a, step, &p, &g, &m, &v));
        ref_step(a, step, &s, grad, n);
        if (step == 1 || step == 10) {
            char what[96];
            float *got = tu_download(&t);
            snprintf(what, sizeof what, "adam p, t = %lld, lr %g", (long long)step,
                     (double)a->lr);
            tu_assert_close(what, got + op, s.p, n, atol_p, 0);
            snprintf(what, sizeof what, "adam m, t = %lld", (long long)step);
            tu_assert_close(what, got + om, s.m, n, 5e-7, 2e-6);
            snprintf(what, sizeof what, "adam v, t = %lld", (long long)step);
            tu_assert_close(what, got + ov, s.v, n, 1e-30, 2e-6);
            /* padding and the gradient untouched */
            for (size_t i = 0; i < op; i++) ck_assert(got[i] == arena[i]);
            for (size_t i = og - 5; i < og; i++) ck_assert(got[i] == arena[i]);
            for (size_t i = og; i < og + n; i++) ck_assert(got[i] == grad[i - og]);
            for (size_t i = ov + n; i < total; i++) ck_assert(got[i] == arena[i]);
            /* After the first step every parameter with g != 0 moved by ~lr
             * (m-hat / sqrt(v-hat) = sign(g)), as Adam promises. */
            if (step == 1)
                for (size_t i = 2; i < n; i++)
                    ck_assert(fabs((double)got[op + i] - arena[op + i]) <=
                              (double)a->lr * 1.001 + 2.4e-7);
            free(got);
        }
    }
    free(grad);
    free(s.p);
    free(s.m);
    free(s.v);
    free(arena);
    cp_tensor_free(ctx, &t);
}

START_TEST(matches_reference)
{
    cp_rng r;
    cp_rng_seed(&r, 61, 0);
    const cp_adam_params model = {1e-4f, 0.5f, 0.999f, 1e-8f}; /* MODEL.md */
    const cp_adam_params big = {1e-2f, 0.9f, 0.999f, 1e-8f};   /* PyTorch's defaults */
    const size_t sizes[] = {1, 7, 1000, 65537};
    for (size_t k = 0; k < 4; k++) {
        run_case(&model, sizes[k], &r);
        run_case(&big, sizes[k], &r);
    }
}
END_TEST

START_TEST(nan_gradient_shows)
{
    cp_context *ctx = tu_ctx();
    const cp_adam_params a = {1e-4f, 0.5f, 0.999f, 1e-8f};
    float p[3] = {1, 2, 3}, g[3] = {0.5f, NAN, -0.5f}, z[3] = {0, 0, 0};
    cp_tensor tp = tu_tensor_from(p, 3, 1, 1, 1, "p"), tg = tu_tensor_from(g, 3, 1, 1, 1, "g");
    cp_tensor tm = tu_tensor_from(z, 3, 1, 1, 1, "m"), tv = tu_tensor_from(z, 3, 1, 1, 1, "v");
    TU_OK(cp_adam_step(ctx, &a, 1, &tp, &tg, &tm, &tv));
    float *got = tu_download(&tp);
    ck_assert(!isnan(got[0]) && isnan(got[1]) && !isnan(got[2]));
    free(got);
    cp_tensor_free(ctx, &tp);
    cp_tensor_free(ctx, &tg);
    cp_tensor_free(ctx, &tm);
    cp_tensor_free(ctx, &tv);
}
END_TEST

START_TEST(bad_arguments)
{
    cp_context *ctx = tu_ctx();
    const cp_adam_params a = {1e-4f, 0.5f, 0.999f, 1e-8f};
    cp_tensor p = tu_tensor_poisoned(4, 1, 1, 1, "p"), g5 = tu_tensor_poisoned(5, 1, 1, 1, "g5");
    ck_assert_int_eq(cp_adam_step(ctx, &a, 0, &p, &p, &p, &p), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_adam_step(ctx, &a, 1, &p, &g5, &p, &p), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "g5[5,1,1,1]"));
    ck_assert_int_eq(cp_adam_step(ctx, &a, 1, &p, &p, NULL, &p), CP_ERR_INVALID_ARGUMENT);
    const cp_adam_params bad = {1e-4f, 1.0f, 0.999f, 1e-8f};
    ck_assert_int_eq(cp_adam_step(ctx, &bad, 1, &p, &p, &p, &p), CP_ERR_INVALID_ARGUMENT);
    cp_tensor_free(ctx, &p);
    cp_tensor_free(ctx, &g5);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("adam");
    TCase *tc = tcase_create("adam");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, matches_reference);
    tcase_add_test(tc, nan_gradient_shows);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
