/* Images: decoding every format to RGB, bad files, centre crop, area and
 * bilinear resizing, the [-1, 1] CHW conversion both ways, grids. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

#include "clinpaint/image.h"
#include "util/test_util.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }
static void teardown(void)
{
    tu_rmdir(dir);
    free(dir);
    dir = NULL;
}

static char *path_in(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (n) ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* A w×h RGB image whose pixel (x, y) is (x*10, y*10, x+y). */
static cp_image ramp(int w, int h)
{
    cp_image img;
    TU_OK(cp_image_alloc(w, h, &img));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.pixels + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 10);
            p[1] = (uint8_t)(y * 10);
            p[2] = (uint8_t)(x + y);
        }
    return img;
}

START_TEST(png_round_trip)
{
    cp_image a = ramp(7, 5), b;
    TU_OK(cp_image_write_png(path_in("r.png"), &a));
    TU_OK(cp_image_load(path_in("r.png"), &b));
    ck_assert_int_eq(b.w, 7);
    ck_assert_int_eq(b.h, 5);
    ck_assert_mem_eq(a.pixels, b.pixels, 7 * 5 * 3);
    cp_image_free(&a);
    cp_image_free(&b);
    cp_image_free(&b); /* freeing twice is harmless */
}
END_TEST

START_TEST(grey_rgba_bmp_tga_jpeg_gif_load_as_rgb)
{
    uint8_t grey[4] = {0, 85, 170, 255};
    uint8_t rgba[4 * 4] = {10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255, 1, 2, 3, 4};
    uint8_t rgb[4 * 3] = {200, 10, 20, 30, 200, 40, 50, 60, 200, 255, 255, 255};
    ck_assert(stbi_write_png(path_in("g.png"), 2, 2, 1, grey, 2));
    ck_assert(stbi_write_png(path_in("a.PNG"), 2, 2, 4, rgba, 8));
    ck_assert(stbi_write_bmp(path_in("b.bmp"), 2, 2, 3, rgb));
    ck_assert(stbi_write_tga(path_in("t.tga"), 2, 2, 3, rgb));
    cp_image img;
    TU_OK(cp_image_load(path_in("g.png"), &img));
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++) ck_assert_int_eq(img.pixels[i * 3 + c], grey[i]);
    cp_image_free(&img);
    TU_OK(cp_image_load(path_in("a.PNG"), &img));
    for (int i = 0; i < 4; i++) /* alpha dropped, colour kept */
        for (int c = 0; c < 3; c++) ck_assert_int_eq(img.pixels[i * 3 + c], rgba[i * 4 + c]);
    cp_image_free(&img);
    const char *lossless[] = {"b.bmp", "t.tga"};
    for (int k = 0; k < 2; k++) {
        TU_OK(cp_image_load(path_in(lossless[k]), &img));
        ck_assert_mem_eq(img.pixels, rgb, sizeof rgb);
        cp_image_free(&img);
    }
    /* JPEG is lossy: a flat colour comes back close */
    uint8_t flat[16 * 16 * 3];
    for (int i = 0; i < 16 * 16; i++) {
        flat[i * 3] = 180;
        flat[i * 3 + 1] = 90;
        flat[i * 3 + 2] = 40;
    }
    ck_assert(stbi_write_jpg(path_in("j.JPEG"), 16, 16, 3, flat, 95));
    TU_OK(cp_image_load(path_in("j.JPEG"), &img));
    ck_assert_int_eq(img.w, 16);
    int off = 0;
    for (int i = 0; i < 16 * 16 * 3; i++) off += abs(img.pixels[i] - flat[i]) > 4;
    ck_assert_int_eq(off, 0);
    cp_image_free(&img);
    /* a 1×1 GIF whose only colour (index 0) is red */
    static const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0xff, 0, 0,
                                  0, 0, 0, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, ';'};
    write_bytes(path_in("x.gif"), gif, sizeof gif);
    TU_OK(cp_image_load(path_in("x.gif"), &img));
    ck_assert_int_eq(img.w, 1);
    ck_assert_int_eq(img.pixels[0], 255);
    ck_assert_int_eq(img.pixels[1], 0);
    ck_assert_int_eq(img.pixels[2], 0);
    cp_image_free(&img);
    TU_OK(cp_image_load_memory(gif, sizeof gif, "mem.gif", &img));
    ck_assert_int_eq(img.h, 1);
    cp_image_free(&img);
}
END_TEST

START_TEST(bad_files_are_clear_errors)
{
    cp_image img;
    ck_assert_int_eq(cp_image_load(path_in("missing.png"), &img), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "missing.png"));
    write_bytes(path_in("zero.jpg"), "", 0);
    ck_assert_int_eq(cp_image_load(path_in("zero.jpg"), &img), CP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "zero.jpg"));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "empty"));
    write_bytes(path_in("text.png"), "hello, not a picture\n", 21);
    ck_assert_int_eq(cp_image_load(path_in("text.png"), &img), CP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "text.png"));
    /* a PNG cut in half: the header parses, the pixels do not */
    cp_image r = ramp(64, 64);
    TU_OK(cp_image_write_png(path_in("full.png"), &r));
    cp_image_free(&r);
    FILE *f = fopen(path_in("full.png"), "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_bytes(path_in("cut.png"), buf, n / 2);
    ck_assert_int_eq(cp_image_load(path_in("cut.png"), &img), CP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "cut.png"));
    ck_assert_ptr_null(img.pixels);
    ck_assert_int_eq(cp_image_load_memory(buf, 0, "e", &img), CP_ERR_FORMAT);
    ck_assert_int_eq(cp_image_write_png(path_in("no/such/dir.png"), &img), CP_ERR_INVALID_ARGUMENT);
    r = ramp(2, 2);
    ck_assert_int_eq(cp_image_write_png(path_in("no/such/dir.png"), &r), CP_ERR_IO);
    cp_image_free(&r);
}
END_TEST

START_TEST(centre_crop_offsets)
{
    uint8_t out[4 * 4 * 3];
    /* wide: 7×4, s = 4, x offset floor(3/2) = 1 */
    cp_image img = ramp(7, 4);
    TU_OK(cp_image_square_resize(&img, 4, out));
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            ck_assert_int_eq(out[(y * 4 + x) * 3], (x + 1) * 10);
            ck_assert_int_eq(out[(y * 4 + x) * 3 + 1], y * 10);
        }
    cp_image_free(&img);
    /* tall: 4×9, y offset floor(5/2) = 2 */
    img = ramp(4, 9);
    TU_OK(cp_image_square_resize(&img, 4, out));
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            ck_assert_int_eq(out[(y * 4 + x) * 3], x * 10);
            ck_assert_int_eq(out[(y * 4 + x) * 3 + 1], (y + 2) * 10);
        }
    cp_image_free(&img);
}
END_TEST

START_TEST(area_shrink_is_exact)
{
    cp_image img;
    TU_OK(cp_image_alloc(3, 3, &img));
    /* red channel: 0 90 30 / 60 0 255 / 9 3 6 */
    const int v[9] = {0, 90, 30, 60, 0, 255, 9, 3, 6};
    for (int i = 0; i < 9; i++) img.pixels[i * 3] = (uint8_t)v[i];
    uint8_t out[2 * 2 * 3];
    TU_OK(cp_image_square_resize(&img, 2, out));
    /* 3 -> 2: out 0 takes source 0 fully and half of 1; out 1 half of 1 and 2.
     * Weights per axis (2, 1)/3 and (1, 2)/3; rounded half up. */
    const int w0[3] = {2, 1, 0}, w1[3] = {0, 1, 2};
    const int *w[2] = {w0, w1};
    for (int oy = 0; oy < 2; oy++)
        for (int ox = 0; ox < 2; ox++) {
            int num = 0;
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++) num += w[oy][y] * w[ox][x] * v[y * 3 + x];
            ck_assert_int_eq(out[(oy * 2 + ox) * 3], (num * 2 + 9) / 18);
        }
    cp_image_free(&img);
    /* 4 -> 2 averages 2×2 blocks; a flat image stays flat at any ratio */
    img = ramp(4, 4);
    TU_OK(cp_image_square_resize(&img, 2, out));
    ck_assert_int_eq(out[0], 5);      /* (0+10+0+10)/4 */
    ck_assert_int_eq(out[2 * 3 + 1], 25); /* rows 2,3: (20+30)/2 */
    cp_image_free(&img);
    TU_OK(cp_image_alloc(1000, 777, &img));
    memset(img.pixels, 77, 1000 * 777 * 3);
    uint8_t *big = malloc(128 * 128 * 3);
    TU_OK(cp_image_square_resize(&img, 128, big));
    int off = 0;
    for (int i = 0; i < 128 * 128 * 3; i++) off += big[i] != 77;
    ck_assert_int_eq(off, 0);
    free(big);
    cp_image_free(&img);
}
END_TEST

START_TEST(bilinear_enlarge)
{
    cp_image img;
    TU_OK(cp_image_alloc(2, 2, &img));
    /* red: 0 100 / 0 100 */
    img.pixels[3] = 100;
    img.pixels[9] = 100;
    uint8_t out[4 * 4 * 3];
    TU_OK(cp_image_square_resize(&img, 4, out));
    const int want[4] = {0, 25, 75, 100}; /* centres at -0.25(clamped), .25, .75, 1.25(clamped) */
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) ck_assert_int_eq(out[(y * 4 + x) * 3], want[x]);
    cp_image_free(&img);
}
END_TEST

START_TEST(chw_conversion_both_ways)
{
    uint8_t rgb[2 * 2 * 3] = {0, 255, 51, 1, 2, 3, 4, 5, 6, 127, 128, 200};
    float chw[3 * 4], flipped[3 * 4];
    cp_rgb_to_chw(rgb, 2, 0, chw);
    ck_assert_float_eq(chw[0], -1.0f);      /* R of (0,0) */
    ck_assert_float_eq(chw[4], 1.0f);       /* G of (0,0) */
    ck_assert_float_eq_tol(chw[8], 51 / 127.5f - 1, 1e-7f);
    ck_assert_float_eq_tol(chw[1], 1 / 127.5f - 1, 1e-7f); /* R of (1,0) */
    cp_rgb_to_chw(rgb, 2, 1, flipped);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 2; x++)
                ck_assert_float_eq(flipped[c * 4 + y * 2 + x], chw[c * 4 + y * 2 + 1 - x]);
    cp_image img;
    TU_OK(cp_chw_to_image(chw, 2, 2, &img));
    ck_assert_mem_eq(img.pixels, rgb, sizeof rgb);
    cp_image_free(&img);
    float odd[3] = {0.0f, NAN, 7.0f}; /* 127.5 rounds to 128; NaN -> 0; clipped */
    float edge[3] = {-3.0f, 1.0f, -1.0f};
    float both[6] = {odd[0], edge[0], odd[1], edge[1], odd[2], edge[2]};
    TU_OK(cp_chw_to_image(both, 2, 1, &img));
    const uint8_t want[6] = {128, 0, 255, 0, 255, 0};
    ck_assert_mem_eq(img.pixels, want, 6);
    cp_image_free(&img);
    /* the whole path from a file-sized image */
    cp_image r = ramp(10, 6);
    float *x = malloc(sizeof *x * 3 * 6 * 6);
    TU_OK(cp_image_to_chw(&r, 6, x));
    ck_assert_float_eq_tol(x[0], 20 / 127.5f - 1, 1e-6f); /* crop offset 2 */
    free(x);
    cp_image_free(&r);
}
END_TEST

START_TEST(grid_layout)
{
    const int S = 4;
    float a[3 * 16], b[3 * 16];
    for (int i = 0; i < 48; i++) {
        a[i] = -1.0f; /* black */
        b[i] = 1.0f;  /* white */
    }
    const float *cells[5] = {a, b, NULL, b, a};
    cp_image g;
    TU_OK(cp_image_grid(cells, 5, 3, S, 2, 100, &g));
    ck_assert_int_eq(g.w, 3 * 4 + 4 * 2);
    ck_assert_int_eq(g.h, 2 * 4 + 3 * 2);
#define PX(x, y) g.pixels[((size_t)(y) * g.w + (x)) * 3]
    ck_assert_int_eq(PX(0, 0), 100);   /* border */
    ck_assert_int_eq(PX(2, 2), 0);     /* cell 0 */
    ck_assert_int_eq(PX(6, 2), 100);   /* gap */
    ck_assert_int_eq(PX(8, 5), 255);   /* cell 1 */
    ck_assert_int_eq(PX(14, 2), 100);  /* cell 2 is blank */
    ck_assert_int_eq(PX(2, 8), 255);   /* cell 3, second row */
    ck_assert_int_eq(PX(9, 11), 0);    /* cell 4 */
    ck_assert_int_eq(PX(15, 11), 100); /* no sixth cell */
#undef PX
    cp_image_free(&g);
    ck_assert_int_eq(cp_image_grid(cells, 0, 3, S, 2, 0, &g), CP_ERR_INVALID_ARGUMENT);
    TU_OK(cp_image_write_grid_png(path_in("grid.png"), cells, 5, 5, S));
    TU_OK(cp_image_load(path_in("grid.png"), &g));
    ck_assert_int_eq(g.w, 5 * 4 + 6 * 2);
    ck_assert_int_eq(g.h, 4 + 2 * 2);
    cp_image_free(&g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("image");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, png_round_trip);
    tcase_add_test(tc, grey_rgba_bmp_tga_jpeg_gif_load_as_rgb);
    tcase_add_test(tc, bad_files_are_clear_errors);
    tcase_add_test(tc, centre_crop_offsets);
    tcase_add_test(tc, area_shrink_is_exact);
    tcase_add_test(tc, bilinear_enlarge);
    tcase_add_test(tc, chw_conversion_both_ways);
    tcase_add_test(tc, grid_layout);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
