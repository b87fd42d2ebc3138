/* clinpaint inpaint meeting the model halfway: --face crops around the face
 * box and the fill lands on the right pixels at odd sizes (also when the
 * crop reaches past the photo), a grayscale photo gets a grayscale fill, the
 * feathered paste leaves every pixel outside hole + feather bit-identical,
 * a large crop is said to be upscaled, and bad --face values are usage
 * errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/checkpoint.h"
#include "clinpaint/image.h"
#include "util/cli_run.h"
#include "util/test_util.h"

#define S 32 /* the test model's size */

static char *work;

static char *at(const char *rel)
{
    char *p = malloc(strlen(work) + strlen(rel) + 2);
    ck_assert_ptr_nonnull(p);
    sprintf(p, "%s/%s", work, rel);
    return p;
}

/* A distinctive pattern (no two neighbours alike); gray: R = G = B. */
static void write_photo(const char *rel, int w, int h, bool gray)
{
    cp_image img;
    TU_OK(cp_image_alloc(w, h, &img));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.pixels + ((size_t)y * w + x) * 3;
            uint8_t v = (uint8_t)(x * 7 + y * 13 + ((x * y) & 31));
            p[0] = v;
            p[1] = gray ? v : (uint8_t)(y * 5 + x);
            p[2] = gray ? v : (uint8_t)(x ^ y);
        }
    char *p = at(rel);
    TU_OK(cp_image_write_png(p, &img));
    free(p);
    cp_image_free(&img);
}

static cp_image load(const char *rel)
{
    char *p = at(rel);
    cp_image img;
    TU_OK(cp_image_load(p, &img));
    free(p);
    return img;
}

static void setup_once(void)
{
    if (work) return;
    work = tu_tempdir();
    char *ck = at("model.safetensors");
    tu_write_small_model(ck, S, 7, NULL, 0);
    free(ck);
    write_photo("odd.png", 151, 117, false);
    write_photo("gray.png", 90, 77, true);
    write_photo("square.png", 128, 128, false);
    write_photo("small.png", 64, 64, false);
}

/* Runs inpaint on one photo (center mask) into OUT_DIR; returns the result. */
static tu_cli_result inpaint(const char *photo, const char *face, const char *out)
{
    char *model = at("model.safetensors"), *in = at(photo), *o = at(out);
    const char *argv[12];
    int n = 0;
    argv[n++] = "inpaint";
    argv[n++] = "--model";
    argv[n++] = model;
    if (face) {
        argv[n++] = "--face";
        argv[n++] = face;
    }
    argv[n++] = in;
    argv[n++] = "-o";
    argv[n++] = o;
    argv[n] = NULL;
    tu_cli_result r = tu_cli_run(argv, NULL);
    free(model);
    free(in);
    free(o);
    return r;
}

/* Every pixel that differs between the photo and its _full output lies in
 * [lo, hi)² (photo coordinates, x and y alike per axis), and at least 90%
 * of the core [clo, chi)² differs. */
static void check_changes(const char *photo, const char *full, int xlo, int xhi, int ylo, int yhi,
                          int cxlo, int cxhi, int cylo, int cyhi)
{
    cp_image a = load(photo), b = load(full);
    ck_assert_int_eq(a.w, b.w);
    ck_assert_int_eq(a.h, b.h);
    size_t core = 0, core_changed = 0;
    for (int y = 0; y < a.h; y++)
        for (int x = 0; x < a.w; x++) {
            bool same = memcmp(a.pixels + ((size_t)y * a.w + x) * 3, b.pixels + ((size_t)y * a.w + x) * 3, 3) == 0;
            if (!(x >= xlo && x < xhi && y >= ylo && y < yhi))
                ck_assert_msg(same, "%s: pixel (%d, %d) outside hole + feather changed", full, x, y);
            if (x >= cxlo && x < cxhi && y >= cylo && y < cyhi) {
                core++;
                core_changed += !same;
            }
        }
    ck_assert_msg(core > 0 && core_changed * 10 >= core * 9, "%s: %zu of %zu core hole pixels changed",
                  full, core_changed, core);
    cp_image_free(&a);
    cp_image_free(&b);
}

START_TEST(face_box_maps_back_at_odd_sizes)
{
    setup_once();
    /* box 41,23,37,43 in 151×117: s = round(1.75·43) = 75, centre (59.5, 44.5)
     * -> x0 = round(59.5 − 37.5) = 22, y0 = round(44.5 − 0.54·75) = 4. */
    tu_cli_result r = inpaint("odd.png", "41,23,37,43", "o1");
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_msg(strstr(r.out, "face crop 75x75 at (22, 4)"), "out: %s", r.out);
    ck_assert_ptr_null(strstr(r.out, "grayscale"));
    ck_assert_msg(strstr(r.out, "upscaled 2.3x"), "out: %s", r.out); /* 75 > 2·32 */
    tu_cli_free(&r);
    /* The centre hole [8, 24) at S is [18.75, 56.25) in the 75 crop; the
     * feather is max(3, ceil(75/32)) = 3. */
    const int x0 = 22, y0 = 4, F = 3;
    check_changes("odd.png", "o1/odd_full.png", x0 + 18 - F, x0 + 57 + F, y0 + 18 - F, y0 + 57 + F,
                  x0 + 20, x0 + 55, y0 + 20, y0 + 55);
    /* A face in the corner: the crop reaches past the photo (reflected);
     * only pixels inside the photo change. s = round(1.75·21) = 37,
     * x0 = round(10.5 − 18.5) = −8, y0 = round(9.5 − 19.98) = −10. */
    r = inpaint("odd.png", "0,0,21,19", "o2");
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_msg(strstr(r.out, "face crop 37x37 at (-8, -10)"), "out: %s", r.out);
    tu_cli_free(&r);
    /* hole [9.25, 27.75) of the 37 crop, feather 3 */
    check_changes("odd.png", "o2/odd_full.png", -8 + 9 - 3, -8 + 28 + 3, -10 + 9 - 3, -10 + 28 + 3,
                  -8 + 11, -8 + 26, -10 + 11, -10 + 26);
}
END_TEST

START_TEST(feathered_paste_is_blended_and_exact_outside)
{
    setup_once();
    /* 128 = 4·S: the hole is exactly [32, 96)², the feather max(3, 4) = 4. */
    tu_cli_result r = inpaint("square.png", NULL, "o3");
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_msg(strstr(r.out, "note: the fill is upscaled 4.0x"), "out: %s", r.out);
    tu_cli_free(&r);
    check_changes("square.png", "o3/square_full.png", 28, 100, 28, 100, 32, 96, 32, 96);
    /* The ring just outside the hole is blended, not left as it was (a hard
     * edge would leave all of it unchanged). */
    cp_image a = load("square.png"), b = load("o3/square_full.png");
    size_t ring = 0, ring_changed = 0;
    for (int y = 28; y < 100; y++)
        for (int x = 28; x < 100; x++) {
            if (x >= 32 && x < 96 && y >= 32 && y < 96) continue;
            ring++;
            ring_changed += memcmp(a.pixels + ((size_t)y * 128 + x) * 3, b.pixels + ((size_t)y * 128 + x) * 3, 3) != 0;
        }
    ck_assert_msg(ring_changed * 2 > ring, "only %zu of %zu feather pixels blended", ring_changed, ring);
    cp_image_free(&a);
    cp_image_free(&b);
    /* 64 = 2·S: no note */
    r = inpaint("small.png", NULL, "o4");
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_ptr_null(strstr(r.out, "upscaled"));
    tu_cli_free(&r);
}
END_TEST

static void assert_gray(const char *rel)
{
    cp_image img = load(rel);
    for (size_t i = 0; i < (size_t)img.w * img.h; i++) {
        const uint8_t *p = img.pixels + i * 3;
        ck_assert_msg(p[0] == p[1] && p[1] == p[2], "%s: pixel %zu is (%d, %d, %d)", rel, i, p[0],
                      p[1], p[2]);
    }
    cp_image_free(&img);
}

START_TEST(grayscale_in_grayscale_out)
{
    setup_once();
    tu_cli_result r = inpaint("gray.png", "20,15,33,35", "o5");
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_msg(strstr(r.out, "grayscale photo: grayscale fill"), "out: %s", r.out);
    tu_cli_free(&r);
    assert_gray("o5/gray.png");
    assert_gray("o5/gray_full.png");
}
END_TEST

START_TEST(bad_face_values_are_usage_errors)
{
    setup_once();
    const char *bad[] = {"-1,0,10,10", "0,-3,10,10", "0,0,0,10", "0,0,10,0", "1,2,3", "1,2,3,4,5",
                         "a,b,c,d", "1,,3,4", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_cli_result r = inpaint("odd.png", bad[i], "o6");
        ck_assert_msg(r.exit_code == 2, "--face '%s': exit %d", bad[i], r.exit_code);
        ck_assert_msg(strstr(r.err, "--face"), "--face '%s': %s", bad[i], r.err);
        tu_cli_free(&r);
    }
    /* inside the number range but outside the 151×117 photo */
    const char *outside[] = {"140,10,20,20", "10,100,20,20", "151,0,1,1"};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        tu_cli_result r = inpaint("odd.png", outside[i], "o7");
        ck_assert_msg(r.exit_code == 2, "--face '%s': exit %d", outside[i], r.exit_code);
        ck_assert_msg(strstr(r.err, "inside the photo") && strstr(r.err, "151x117"),
                      "--face '%s': %s", outside[i], r.err);
        tu_cli_free(&r);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("framing_inpaint");
    TCase *tc = tcase_create("inpaint --face");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, face_box_maps_back_at_odd_sizes);
    tcase_add_test(tc, feathered_paste_is_blended_and_exact_outside);
    tcase_add_test(tc, grayscale_in_grayscale_out);
    tcase_add_test(tc, bad_face_values_are_usage_errors);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    tu_rmdir(work);
    free(work);
    return rc;
}
