/* Synthetic faces: determinism, variety, the data set writer and the
 * `clinpaint synth` command. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/image.h"
#include "clinpaint/synth.h"
#include "util/cli_run.h"
#include "util/test_util.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }
static void teardown(void)
{
    tu_rmdir(dir);
    free(dir);
    dir = NULL;
}

static const char *path_in(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, rel);
    return buf;
}

static uint8_t *face(uint64_t seed, uint64_t index, int S)
{
    uint8_t *p = malloc((size_t)S * S * 3);
    TU_OK(cp_synth_face(seed, index, S, p));
    return p;
}

START_TEST(same_seed_same_bytes)
{
    const int S = 64;
    uint8_t *a = face(3, 5, S), *b = face(3, 5, S), *c = face(3, 6, S), *d = face(4, 5, S);
    ck_assert_mem_eq(a, b, (size_t)S * S * 3);
    ck_assert(memcmp(a, c, (size_t)S * S * 3) != 0);
    ck_assert(memcmp(a, d, (size_t)S * S * 3) != 0);
    free(a);
    free(b);
    free(c);
    free(d);
}
END_TEST

START_TEST(sizes_in_range_only)
{
    uint8_t *p = malloc(1024 * 1024 * 3);
    ck_assert_int_eq(cp_synth_face(0, 0, 15, p), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_synth_face(0, 0, 1025, p), CP_ERR_INVALID_ARGUMENT);
    TU_OK(cp_synth_face(0, 0, 16, p));
    TU_OK(cp_synth_face(0, 0, 1024, p));
    free(p);
}
END_TEST

/* Mean colour of a window, per channel. */
static void mean_rgb(const uint8_t *p, int S, float x0, float x1, float y0, float y1, double out[3])
{
    int n = 0;
    out[0] = out[1] = out[2] = 0;
    for (int y = (int)(y0 * S); y < (int)(y1 * S); y++)
        for (int x = (int)(x0 * S); x < (int)(x1 * S); x++, n++)
            for (int c = 0; c < 3; c++) out[c] += p[((size_t)y * S + x) * 3 + c];
    for (int c = 0; c < 3; c++) out[c] /= n;
}

START_TEST(faces_vary_and_have_features)
{
    const int S = 128;
    double first_bg[3];
    int bg_differs = 0, detailed = 0;
    for (uint64_t i = 0; i < 24; i++) {
        uint8_t *p = face(11, i, S);
        double bg[3], var = 0, mean[3];
        mean_rgb(p, S, 0.0f, 0.08f, 0.0f, 0.08f, bg); /* a corner: background */
        if (i == 0) memcpy(first_bg, bg, sizeof bg);
        else bg_differs += fabs(bg[0] - first_bg[0]) + fabs(bg[1] - first_bg[1]) > 10;
        /* the eye rows hold detail (eyes, brows): high variance */
        mean_rgb(p, S, 0.3f, 0.7f, 0.36f, 0.46f, mean);
        for (int y = (int)(0.36 * S); y < (int)(0.46 * S); y++)
            for (int x = (int)(0.3 * S); x < (int)(0.7 * S); x++) {
                double d = p[((size_t)y * S + x) * 3 + 1] - mean[1];
                var += d * d;
            }
        var /= (0.1 * S) * (0.4 * S);
        detailed += var > 200;
        free(p);
    }
    ck_assert_int_gt(bg_differs, 18);
    ck_assert_int_gt(detailed, 18);
}
END_TEST

START_TEST(writes_a_data_set)
{
    const char *out = path_in("a/b/faces");
    TU_OK(cp_synth_write_dataset(out, 3, 32, 9));
    char name[4200];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s/face_%06d.png", out, i);
        cp_image img;
        TU_OK(cp_image_load(name, &img));
        ck_assert_int_eq(img.w, 32);
        uint8_t *want = face(9, (uint64_t)i, 32);
        ck_assert_mem_eq(img.pixels, want, 32 * 32 * 3);
        free(want);
        cp_image_free(&img);
    }
    snprintf(name, sizeof name, "%s/face_000003.png", out);
    struct stat sb;
    ck_assert_int_ne(stat(name, &sb), 0);
    /* again into the existing folder */
    TU_OK(cp_synth_write_dataset(out, 1, 32, 9));
    ck_assert_int_eq(cp_synth_write_dataset(out, 0, 32, 9), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_synth_write_dataset(out, 1, 8, 9), CP_ERR_INVALID_ARGUMENT);
    snprintf(name, sizeof name, "%s/face_000000.png/x", out); /* under a file */
    ck_assert_int_eq(cp_synth_write_dataset(name, 1, 32, 9), CP_ERR_IO);
}
END_TEST

#define RUN(...) tu_cli_run((const char *const[]){"synth", __VA_ARGS__, NULL}, NULL)

static void expect_usage_error(tu_cli_result r, const char *text)
{
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_msg(strstr(r.err, text) != NULL, "stderr lacks '%s': %s", text, r.err);
    ck_assert_str_eq(r.out, "");
    tu_cli_free(&r);
}

START_TEST(command_line)
{
    tu_cli_result r = RUN("--help");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: clinpaint synth"));
    tu_cli_free(&r);

    const char *out = path_in("cli");
    expect_usage_error(RUN("--count", "0", "--size", "64", out), "--count");
    expect_usage_error(RUN("--count", "2", "--size", "15", out), "--size");
    expect_usage_error(RUN("--count", "2", "--size", "1025", out), "--size");
    expect_usage_error(RUN("--count", "2", "--size", "6x", out), "--size");
    expect_usage_error(RUN("--count", "2", "--size", "64", "--seed", "-1", out), "--seed");
    expect_usage_error(RUN("--count", "2", "--size", "64"), "OUT_DIR");
    expect_usage_error(RUN("--size", "64", out), "--count");
    expect_usage_error(RUN("--count", "2", out), "--size");
    expect_usage_error(RUN("--count", "2", "--size", "64", "--frob", out), "unknown option '--frob'");
    expect_usage_error(RUN("--count", "2", "--size", "64", out, "other"), "one OUT_DIR");
    expect_usage_error(RUN("--count", "2", "--size"), "--size");

    r = RUN("--count", "2", "--size=48", "--seed", "5", out);
    ck_assert_msg(r.exit_code == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "2"));
    tu_cli_free(&r);
    char name[4200];
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s/face_%06d.png", out, i);
        cp_image img;
        TU_OK(cp_image_load(name, &img));
        uint8_t *want = face(5, (uint64_t)i, 48);
        ck_assert_mem_eq(img.pixels, want, 48 * 48 * 3);
        free(want);
        cp_image_free(&img);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("synth");
    TCase *tc = tcase_create("synth");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, same_seed_same_bytes);
    tcase_add_test(tc, sizes_in_range_only);
    tcase_add_test(tc, faces_vary_and_have_features);
    tcase_add_test(tc, writes_a_data_set);
    tcase_add_test(tc, command_line);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
