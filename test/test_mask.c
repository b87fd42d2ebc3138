/* Masks: placement and coverage of every kind, determinism, user mask
 * files (thresholding, resizing) and folders of per-image masks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clinpaint/dataset.h"
#include "clinpaint/image.h"
#include "clinpaint/mask.h"
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

static float *gen(cp_mask_kind kind, int S, uint64_t seed)
{
    float *m = malloc(sizeof *m * (size_t)S * S);
    cp_rng r;
    cp_rng_seed(&r, seed, 1);
    TU_OK(cp_mask_generate(kind, S, &r, m));
    return m;
}

/* Bounding box of the ones; false if none. Every value must be 0 or 1.
 * (Asserts are kept out of per-pixel loops: each Check assert costs a write.) */
static bool bbox(const float *m, int S, int *x0, int *y0, int *x1, int *y1)
{
    int other = 0;
    *x0 = *y0 = S;
    *x1 = *y1 = -1;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            if (m[y * S + x] == 1.0f) {
                if (x < *x0) *x0 = x;
                if (y < *y0) *y0 = y;
                if (x > *x1) *x1 = x;
                if (y > *y1) *y1 = y;
            } else {
                other += m[y * S + x] != 0.0f;
            }
    ck_assert_int_eq(other, 0);
    return *x1 >= 0;
}

START_TEST(names_parse_and_bad_kinds)
{
    const char *names[] = {"center", "rect", "free", "face", "mixed"};
    for (int k = 0; k < CP_MASK_KIND_COUNT; k++) {
        cp_mask_kind got;
        ck_assert(cp_mask_kind_parse(names[k], &got));
        ck_assert_int_eq(got, k);
        ck_assert_str_eq(cp_mask_kind_name((cp_mask_kind)k), names[k]);
    }
    cp_mask_kind got;
    ck_assert(!cp_mask_kind_parse("centre", &got));
    float m[64];
    cp_rng r;
    cp_rng_seed(&r, 1, 1);
    ck_assert_int_eq(cp_mask_generate(CP_MASK_CENTER, 4, &r, m), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_mask_generate((cp_mask_kind)77, 8, &r, m), CP_ERR_INVALID_ARGUMENT);
    cp_mask_source *src;
    ck_assert_int_eq(cp_mask_source_create("bogus", 64, &src), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "bogus"));
    ck_assert_int_eq(cp_mask_source_create("center", 2, &src), CP_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(center_is_the_middle_half_square)
{
    const int sizes[] = {32, 64, 128};
    for (int i = 0; i < 3; i++) {
        int S = sizes[i];
        float *m = gen(CP_MASK_CENTER, S, 1);
        int wrong = 0;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                bool in = x >= S / 4 && x < S / 4 + S / 2 && y >= S / 4 && y < S / 4 + S / 2;
                wrong += m[y * S + x] != (in ? 1.0f : 0.0f);
            }
        ck_assert_int_eq(wrong, 0);
        ck_assert_double_eq(cp_mask_coverage(m, S), 0.25);
        free(m);
    }
}
END_TEST

START_TEST(rect_sides_in_range)
{
    const int S = 64;
    int single = 0;
    for (uint64_t seed = 0; seed < 300; seed++) {
        float *m = gen(CP_MASK_RECT, S, seed);
        int x0, y0, x1, y1;
        ck_assert(bbox(m, S, &x0, &y0, &x1, &y1));
        int w = x1 - x0 + 1, h = y1 - y0 + 1;
        ck_assert_int_ge(w, S / 8);
        ck_assert_int_ge(h, S / 8);
        double ones = cp_mask_coverage(m, S) * S * S;
        if (ones == (double)w * h) { /* one rectangle (or nested ones): its sides */
            single++;
            ck_assert_int_le(w, S / 2);
            ck_assert_int_le(h, S / 2);
        }
        ck_assert_double_le(cp_mask_coverage(m, S), 3.0 / 4.0);
        free(m);
    }
    /* 1, 2 or 3 rectangles, uniformly: about a third are single */
    ck_assert_int_gt(single, 60);
    ck_assert_int_lt(single, 200);
}
END_TEST

START_TEST(free_strokes_coverage)
{
    const int sizes[] = {64, 128};
    for (int i = 0; i < 2; i++) {
        int S = sizes[i];
        double lo = 1, hi = 0;
        for (uint64_t seed = 0; seed < 150; seed++) {
            float *m = gen(CP_MASK_FREE, S, seed);
            double c = cp_mask_coverage(m, S);
            ck_assert_double_ge(c, 0.10);
            ck_assert_double_le(c, 0.45);
            lo = c < lo ? c : lo;
            hi = c > hi ? c : hi;
            free(m);
        }
        ck_assert_double_lt(lo, 0.16); /* the target spreads over 10..40% */
        ck_assert_double_gt(hi, 0.34);
    }
}
END_TEST

START_TEST(face_covers_mouth_not_eyes)
{
    const int S = 128;
    float *first = gen(CP_MASK_FACE, S, 0);
    int differ = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        float *m = gen(CP_MASK_FACE, S, seed);
        int eyes = 0, mouth = 0, sides = 0;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                float v = m[y * S + x];
                if (y < (int)(0.50 * S)) eyes += v != 0.0f; /* eyes, brows, forehead known */
                if (y >= (int)(0.60 * S) && y <= (int)(0.85 * S) && x >= (int)(0.30 * S) &&
                    x <= (int)(0.70 * S))
                    mouth += v != 1.0f; /* mouth, lower nose, cheeks missing */
                if (x < (int)(0.14 * S) || x > (int)(0.86 * S)) sides += v != 0.0f;
            }
        ck_assert_int_eq(eyes, 0);
        ck_assert_int_eq(mouth, 0);
        ck_assert_int_eq(sides, 0);
        int x0, y0, x1, y1;
        ck_assert(bbox(m, S, &x0, &y0, &x1, &y1));
        ck_assert_int_ge(y1, (int)(0.90 * S));
        /* rounded lower corners, square upper ones */
        ck_assert_float_eq(m[y1 * S + x0], 0.0f);
        ck_assert_float_eq(m[y1 * S + x1], 0.0f);
        ck_assert_float_eq(m[y1 * S + S / 2], 1.0f);
        ck_assert_float_eq(m[y0 * S + x0], 1.0f);
        ck_assert_float_eq(m[y0 * S + x1], 1.0f);
        double c = cp_mask_coverage(m, S);
        ck_assert_double_gt(c, 0.15);
        ck_assert_double_lt(c, 0.34);
        differ += memcmp(m, first, sizeof *m * S * S) != 0;
        free(m);
    }
    ck_assert_int_gt(differ, 150); /* jittered */
    free(first);
}
END_TEST

START_TEST(mixed_draws_every_kind)
{
    const int S = 64;
    float *center = gen(CP_MASK_CENTER, S, 0);
    int centers = 0, faces = 0;
    for (uint64_t seed = 0; seed < 100; seed++) {
        float *m = gen(CP_MASK_MIXED, S, seed);
        ck_assert_double_gt(cp_mask_coverage(m, S), 0.0);
        centers += memcmp(m, center, sizeof *m * S * S) == 0;
        int x0, y0, x1, y1;
        bbox(m, S, &x0, &y0, &x1, &y1);
        faces += y0 >= (int)(0.5 * S) && m[(int)(0.75 * S) * S + S / 2] == 1.0f && x0 > 0.1 * S &&
                 x1 < 0.9 * S && y1 >= (int)(0.9 * S);
        free(m);
    }
    ck_assert_int_gt(centers, 10);
    ck_assert_int_lt(centers, 45);
    ck_assert_int_gt(faces, 10);
    free(center);
}
END_TEST

START_TEST(sources_are_deterministic_per_sample)
{
    const char *kinds[] = {"center", "rect", "free", "face", "mixed"};
    const int S = 64;
    float a[64 * 64], b[64 * 64];
    for (int k = 0; k < 5; k++) {
        cp_mask_source *src;
        TU_OK(cp_mask_source_create(kinds[k], S, &src));
        ck_assert_str_eq(cp_mask_source_describe(src), kinds[k]);
        ck_assert(!cp_mask_source_per_image(src));
        ck_assert_int_eq(cp_mask_source_size(src), S);
        int differ = 0;
        for (uint64_t i = 0; i < 20; i++) {
            TU_OK(cp_mask_source_get(src, "x.png", 42, i, a));
            TU_OK(cp_mask_source_get(src, "other.png", 42, i, b));
            ck_assert_mem_eq(a, b, sizeof a); /* the path does not matter for kinds */
            TU_OK(cp_mask_source_get(src, NULL, 42, i + 1, b));
            differ += memcmp(a, b, sizeof a) != 0;
        }
        if (k == 0) ck_assert_int_eq(differ, 0);
        else ck_assert_int_gt(differ, 10);
        int seed_differs = 0; /* another seed, other masks */
        for (uint64_t i = 0; i < 5; i++) {
            TU_OK(cp_mask_source_get(src, NULL, 43, i, b));
            TU_OK(cp_mask_source_get(src, NULL, 42, i, a));
            seed_differs += memcmp(a, b, sizeof a) != 0;
        }
        if (k != 0) ck_assert_int_gt(seed_differs, 0);
        cp_mask_source_free(src);
    }
    cp_mask_source_free(NULL);
}
END_TEST

/* A w×h PNG: grey value g(x, y). */
static void write_grey(const char *rel, int w, int h, int (*g)(int, int))
{
    cp_image img;
    TU_OK(cp_image_alloc(w, h, &img));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) memset(img.pixels + ((size_t)y * w + x) * 3, g(x, y), 3);
    TU_OK(cp_image_write_png(path_in(rel), &img));
    cp_image_free(&img);
}

static int left_white(int x, int y) { return (void)y, x < 8 ? 255 : 0; }
static int thin_line(int x, int y) { return (void)y, x == 5 ? 255 : 0; }
static int near_half(int x, int y) { return (void)y, x % 2 ? 128 : 127; }
static int top_band(int x, int y) { return (void)x, y < 4 ? 255 : 0; }
static int right_quarter(int x, int y) { return (void)y, x >= 24 ? 255 : 0; }
static int all_black(int x, int y) { return (void)x, (void)y, 0; }
static int all_white(int x, int y) { return (void)x, (void)y, 255; }

/* A mask with no hole (hole PSNR would be NaN and nothing trains) or with
 * nothing known is refused by name, as a file and inside a folder. */
START_TEST(degenerate_masks_are_refused)
{
    cp_mask_source *src = NULL;
    write_grey("black.png", 16, 16, all_black);
    ck_assert_int_eq(cp_mask_source_create(path_in("black.png"), 8, &src), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "black.png"));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "no hole"));
    write_grey("white.png", 16, 16, all_white);
    ck_assert_int_eq(cp_mask_source_create(path_in("white.png"), 8, &src), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "white.png"));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "all hole"));
    /* a hole too thin to survive the resize is no hole either */
    write_grey("thin.png", 64, 64, thin_line);
    ck_assert_int_eq(cp_mask_source_create(path_in("thin.png"), 8, &src), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(src);

    mkdir(path_in("masks"), 0777);
    write_grey("masks/a.png", 8, 8, top_band);
    write_grey("masks/b.png", 8, 8, all_black);
    TU_OK(cp_mask_source_create(path_in("masks"), 8, &src));
    float m[64];
    TU_OK(cp_mask_source_get(src, "a.jpg", 0, 0, m));
    ck_assert_int_eq(cp_mask_source_get(src, "b.jpg", 0, 0, m), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "b.png"));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "no hole"));
    cp_mask_source_free(src);
}
END_TEST

/* "/" as a mask folder would scan the whole machine; FIFOs, sockets and
 * devices are refused without being opened (open() on a FIFO blocks). */
START_TEST(root_and_special_files_are_refused)
{
    alarm(60); /* a hang (scanning "/", opening a FIFO) fails instead of stalling */
    cp_mask_source *src = NULL;
    const char *roots[] = {"/", "//", "/.", "/tmp/.."};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(cp_mask_source_create(roots[i], 8, &src), CP_ERR_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(strstr(cp_last_error(), "filesystem root"));
    }
    ck_assert_int_eq(mkfifo(path_in("fifo.png"), 0600), 0);
    ck_assert_int_eq(cp_mask_source_create(path_in("fifo.png"), 8, &src), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "not a regular file"));
    ck_assert_int_eq(cp_mask_source_create("/dev/null", 8, &src), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(src);
    alarm(0);
}
END_TEST

START_TEST(user_png_threshold_and_resize)
{
    cp_mask_source *src;
    float m[8 * 8];
    /* 16×16 -> 8×8: exact 2×2 averages */
    write_grey("m16.png", 16, 16, left_white);
    TU_OK(cp_mask_source_create(path_in("m16.png"), 8, &src));
    ck_assert_ptr_nonnull(strstr(cp_mask_source_describe(src), "m16.png"));
    TU_OK(cp_mask_source_get(src, NULL, 0, 0, m));
    int wrong = 0;
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) wrong += m[y * 8 + x] != (x < 4 ? 1.0f : 0.0f);
    ck_assert_int_eq(wrong, 0);
    cp_mask_source_free(src);
    /* thresholded at 50%: 127 known, 128 missing */
    write_grey("half.png", 8, 8, near_half);
    TU_OK(cp_mask_source_create(path_in("half.png"), 8, &src));
    TU_OK(cp_mask_source_get(src, NULL, 5, 9, m));
    for (int i = 0; i < 64; i++) wrong += m[i] != ((i % 2) ? 1.0f : 0.0f);
    ck_assert_int_eq(wrong, 0);
    cp_mask_source_free(src);
    /* not square: stretched, never centre-cropped (a crop of this 8×16 mask
     * to rows 4..11 would lose its hole): rows 0..3 of 16 become rows 0..1 */
    write_grey("tall.png", 8, 16, top_band);
    TU_OK(cp_mask_source_create(path_in("tall.png"), 8, &src));
    TU_OK(cp_mask_source_get(src, NULL, 0, 0, m));
    for (int i = 0; i < 64; i++) wrong += m[i] != (i < 16 ? 1.0f : 0.0f);
    ck_assert_int_eq(wrong, 0);
    cp_mask_source_free(src);
    /* wide: 32×8 with the hole in columns 24..31 -> columns 6..7 of 8 */
    write_grey("wide.png", 32, 8, right_quarter);
    TU_OK(cp_mask_source_create(path_in("wide.png"), 8, &src));
    TU_OK(cp_mask_source_get(src, NULL, 0, 0, m));
    for (int i = 0; i < 64; i++) wrong += m[i] != (i % 8 >= 6 ? 1.0f : 0.0f);
    ck_assert_int_eq(wrong, 0);
    cp_mask_source_free(src);
    /* enlarging works too */
    TU_OK(cp_mask_source_create(path_in("m16.png"), 64, &src));
    float big[64 * 64];
    TU_OK(cp_mask_source_get(src, NULL, 0, 0, big));
    ck_assert_double_eq(cp_mask_coverage(big, 64), 0.5);
    cp_mask_source_free(src);
    /* a broken mask file is a clear error */
    FILE *f = fopen(path_in("broken.png"), "wb");
    fputs("nope", f);
    fclose(f);
    ck_assert_int_eq(cp_mask_source_create(path_in("broken.png"), 8, &src), CP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "broken.png"));
}
END_TEST

START_TEST(folder_matches_by_relative_stem)
{
    char images[4096], masks[4096];
    snprintf(images, sizeof images, "%s/images", dir);
    snprintf(masks, sizeof masks, "%s/masks", dir);
    mkdir(images, 0777);
    mkdir(masks, 0777);
    mkdir(path_in("images/sub"), 0777);
    mkdir(path_in("masks/sub"), 0777);
    write_grey("images/a.png", 8, 8, top_band);
    write_grey("images/sub/b.v1.png", 8, 8, top_band);
    write_grey("masks/a.bmp.png", 8, 8, top_band); /* stem "a.bmp": no match for a */
    write_grey("masks/a.png", 16, 16, left_white);
    write_grey("masks/sub/b.v1.png", 8, 8, top_band);

    cp_mask_source *src;
    TU_OK(cp_mask_source_create(masks, 8, &src));
    ck_assert(cp_mask_source_per_image(src));
    float m[64];
    TU_OK(cp_mask_source_get(src, "a.jpg", 0, 0, m)); /* any extension on either side */
    ck_assert_float_eq(m[0], 1.0f);
    ck_assert_float_eq(m[7], 0.0f);
    TU_OK(cp_mask_source_get(src, "sub/b.v1.png", 0, 0, m));
    ck_assert_float_eq(m[0], 1.0f);
    ck_assert_float_eq(m[63], 0.0f);
    ck_assert_int_eq(cp_mask_source_get(src, "sub/a.png", 0, 0, m), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "sub/a.png"));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), masks));

    cp_dataset *ds;
    TU_OK(cp_dataset_open(images, CP_SPLIT_ALL, &ds));
    TU_OK(cp_mask_source_check(src, ds));
    cp_dataset_free(ds);
    write_grey("images/c.png", 8, 8, top_band); /* no mask for c */
    TU_OK(cp_dataset_open(images, CP_SPLIT_ALL, &ds));
    ck_assert_int_eq(cp_mask_source_check(src, ds), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "c.png"));
    cp_dataset_free(ds);
    cp_mask_source_free(src);

    mkdir(path_in("nomasks"), 0777);
    ck_assert_int_eq(cp_mask_source_create(path_in("nomasks"), 8, &src), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "nomasks"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mask");
    TCase *tc = tcase_create("mask");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, names_parse_and_bad_kinds);
    tcase_add_test(tc, center_is_the_middle_half_square);
    tcase_add_test(tc, rect_sides_in_range);
    tcase_add_test(tc, free_strokes_coverage);
    tcase_add_test(tc, face_covers_mouth_not_eyes);
    tcase_add_test(tc, mixed_draws_every_kind);
    tcase_add_test(tc, sources_are_deterministic_per_sample);
    tcase_add_test(tc, user_png_threshold_and_resize);
    tcase_add_test(tc, folder_matches_by_relative_stem);
    tcase_add_test(tc, degenerate_masks_are_refused);
    tcase_add_test(tc, root_and_special_files_are_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
