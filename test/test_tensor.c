/* Tensors: round trips on odd sizes, views at offsets, fill, copy, memory
 * accounting, bad shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/test_util.h"

START_TEST(round_trip_odd_shapes)
{
    cp_context *ctx = tu_ctx();
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {3, 5, 7, 1}, {1, 3, 17, 13}, {2, 7, 31, 29}};
    cp_rng r;
    cp_rng_seed(&r, 1, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        cp_tensor t;
        TU_OK(cp_tensor_create(ctx, 4, shapes[s], "t", &t));
        size_t n = cp_tensor_numel(&t);
        ck_assert_uint_eq(n, (size_t)(shapes[s][0] * shapes[s][1] * shapes[s][2] * shapes[s][3]));
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        tu_fill_uniform(&r, a, n, -3, 3);
        TU_OK(cp_tensor_upload(ctx, &t, a));
        memset(b, 0, n * sizeof *b);
        TU_OK(cp_tensor_download(ctx, &t, b));
        ck_assert_int_eq(memcmp(a, b, n * sizeof *a), 0);
        free(a);
        free(b);
        cp_tensor_free(ctx, &t);
        ck_assert_ptr_null(t.buf);
    }
}
END_TEST

START_TEST(views_fill_copy)
{
    cp_context *ctx = tu_ctx();
    cp_tensor big;
    int64_t n = 101;
    TU_OK(cp_tensor_create(ctx, 1, &n, "arena", &big));
    TU_OK(cp_tensor_fill(ctx, &big, -1.0f));
    int64_t vs = 13;
    cp_tensor v1 = cp_tensor_view(big.buf, 7, 1, &vs, "v1");
    cp_tensor v2 = cp_tensor_view(big.buf, 60, 1, &vs, "v2");
    float src[13];
    for (int i = 0; i < 13; i++) src[i] = (float)i + 0.5f;
    TU_OK(cp_tensor_upload(ctx, &v1, src));
    TU_OK(cp_tensor_copy(ctx, &v1, &v2));
    float all[101];
    TU_OK(cp_tensor_download(ctx, &big, all));
    for (int i = 0; i < 101; i++) {
        float want = -1.0f;
        if (i >= 7 && i < 20) want = (float)(i - 7) + 0.5f;
        if (i >= 60 && i < 73) want = (float)(i - 60) + 0.5f;
        ck_assert_msg(all[i] == want, "element %d is %g, want %g", i, all[i], want);
    }
    TU_OK(cp_tensor_fill(ctx, &v2, NAN));
    TU_OK(cp_tensor_download(ctx, &big, all));
    ck_assert(isnan(all[60]) && isnan(all[72]) && all[73] == -1.0f && all[59] == -1.0f);
    /* A view never frees the buffer it looks into. */
    cp_tensor_free(ctx, &v1);
    TU_OK(cp_tensor_download(ctx, &big, all));
    int64_t other = 12;
    cp_tensor w = cp_tensor_view(big.buf, 0, 1, &other, "w");
    ck_assert_int_eq(cp_tensor_copy(ctx, &v2, &w), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "v2[13]"));
    cp_tensor_free(ctx, &big);
}
END_TEST

START_TEST(memory_accounting)
{
    cp_context *ctx = tu_ctx();
    uint64_t base = cp_context_bytes_in_use(ctx);
    cp_context_reset_peak(ctx);
    cp_tensor a, b;
    TU_OK(cp_tensor_create4(ctx, 2, 3, 4, 5, "a", &a));
    TU_OK(cp_tensor_create4(ctx, 1, 1, 1, 10, "b", &b));
    ck_assert_uint_eq(cp_context_bytes_in_use(ctx), base + (120 + 10) * 4);
    cp_tensor_free(ctx, &a);
    ck_assert_uint_eq(cp_context_bytes_in_use(ctx), base + 10 * 4);
    ck_assert_uint_eq(cp_context_peak_bytes(ctx), base + 130 * 4);
    cp_tensor_free(ctx, &b);
    ck_assert_uint_eq(cp_context_bytes_in_use(ctx), base);
}
END_TEST

START_TEST(bad_shapes_rejected)
{
    cp_context *ctx = tu_ctx();
    cp_tensor t;
    int64_t s[5] = {1, 2, 3, 4, 5};
    ck_assert_int_eq(cp_tensor_create(ctx, 5, s, "x", &t), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_tensor_create(ctx, 0, s, "x", &t), CP_ERR_INVALID_ARGUMENT);
    int64_t z[2] = {3, 0};
    ck_assert_int_eq(cp_tensor_create(ctx, 2, z, "x", &t), CP_ERR_INVALID_ARGUMENT);
    int64_t neg[1] = {-4};
    ck_assert_int_eq(cp_tensor_create(ctx, 1, neg, "x", &t), CP_ERR_INVALID_ARGUMENT);
    int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    ck_assert_int_eq(cp_tensor_create(ctx, 2, huge, "x", &t), CP_ERR_INVALID_ARGUMENT);
    char buf[64];
    int64_t d4[4] = {2, 3, 4, 5};
    cp_tensor v = cp_tensor_view(NULL, 0, 4, d4, "act");
    ck_assert_str_eq(cp_tensor_describe(&v, buf, sizeof buf), "act[2,3,4,5]");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("tensor");
    tcase_add_test(tc, round_trip_odd_shapes);
    tcase_add_test(tc, views_fill_copy);
    tcase_add_test(tc, memory_accounting);
    tcase_add_test(tc, bad_shapes_rejected);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
