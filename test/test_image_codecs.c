/* Valid images still decode to the right pixels through libpng and
 * libjpeg: PNG of every colour type, bit depth 1 to 16, palettes with
 * transparency, Adam7 interlacing; JPEG baseline, progressive, grey and
 * Adobe CMYK; the format is taken from the content, not the name. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "clinpaint/image.h"
#include "util/test_util.h"

enum { W = 11, H = 6 };

/* Sample c of pixel (x, y) at `depth` bits, before any conversion. */
static unsigned sample(int x, int y, int c, int depth)
{
    unsigned v = (unsigned)(x * 29 + y * 71 + c * 113) * 2654435761u >> 8;
    return v & ((1u << depth) - 1);
}

/* Writes a PNG whose samples are sample(); palette images use the index
 * (x + y) % 4 into pal[] with one transparent entry. */
static const png_color pal[4] = {{250, 0, 10}, {0, 240, 20}, {30, 0, 230}, {7, 8, 9}};

static void write_png(const char *path, int type, int depth, int interlace)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    ck_assert(p && info);
    if (setjmp(png_jmpbuf(p))) ck_abort_msg("libpng failed writing %s", path);
    png_init_io(p, f);
    png_set_IHDR(p, info, W, H, depth, type, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (type == PNG_COLOR_TYPE_PALETTE) {
        png_byte trns[2] = {255, 0};
        png_set_PLTE(p, info, pal, 4);
        png_set_tRNS(p, info, trns, 2, NULL);
    }
    png_write_info(p, info);
    png_set_packing(p);
    int ch = png_get_channels(p, info);
    png_byte row[W * 4 * 2];
    int passes = png_set_interlace_handling(p);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++)
                for (int c = 0; c < ch; c++) {
                    unsigned v = type == PNG_COLOR_TYPE_PALETTE ? (unsigned)(x + y) % 4
                                                                : sample(x, y, c, depth);
                    if (depth == 16) {
                        row[(x * ch + c) * 2] = (png_byte)(v >> 8);
                        row[(x * ch + c) * 2 + 1] = (png_byte)v;
                    } else {
                        row[x * ch + c] = (png_byte)v;
                    }
                }
            png_write_row(p, row);
        }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    ck_assert_int_eq(fclose(f), 0);
}

/* What clinpaint should make of sample(): 8 bits (the high byte of 16,
 * low depths scaled to 0..255), grey replicated, alpha dropped. */
static unsigned want(int type, int depth, int x, int y, int c)
{
    if (type == PNG_COLOR_TYPE_PALETTE) {
        const png_color *e = &pal[(x + y) % 4];
        return c == 0 ? e->red : c == 1 ? e->green : e->blue;
    }
    int colour = type & PNG_COLOR_MASK_COLOR;
    unsigned v = sample(x, y, colour ? c : 0, depth);
    if (depth == 16) return v >> 8;
    return v * 255 / ((1u << depth) - 1);
}

START_TEST(png_every_colour_type_depth_and_interlacing)
{
    static const struct { int type, depth; } kinds[] = {
        {PNG_COLOR_TYPE_RGB, 8},        {PNG_COLOR_TYPE_RGB, 16},
        {PNG_COLOR_TYPE_RGB_ALPHA, 8},  {PNG_COLOR_TYPE_RGB_ALPHA, 16},
        {PNG_COLOR_TYPE_GRAY, 1},       {PNG_COLOR_TYPE_GRAY, 2},
        {PNG_COLOR_TYPE_GRAY, 4},       {PNG_COLOR_TYPE_GRAY, 8},
        {PNG_COLOR_TYPE_GRAY, 16},      {PNG_COLOR_TYPE_GRAY_ALPHA, 8},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 16}, {PNG_COLOR_TYPE_PALETTE, 2},
        {PNG_COLOR_TYPE_PALETTE, 8},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        for (int il = 0; il < 2; il++) {
            int type = kinds[k].type, depth = kinds[k].depth;
            char name[64];
            snprintf(name, sizeof name, "t%d_d%d_i%d.png", type, depth, il);
            write_png(tu_tmp_path(name), type, depth, il ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE);
            cp_image img;
            TU_OK(cp_image_load(tu_tmp_path(name), &img));
            ck_assert_int_eq(img.w, W);
            ck_assert_int_eq(img.h, H);
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    for (int c = 0; c < 3; c++)
                        ck_assert_msg(img.pixels[(y * W + x) * 3 + c] == want(type, depth, x, y, c),
                                      "%s (%d,%d,%d): %u, want %u", name, x, y, c,
                                      img.pixels[(y * W + x) * 3 + c], want(type, depth, x, y, c));
            int w, h;
            TU_OK(cp_image_probe(tu_tmp_path(name), &w, &h));
            ck_assert(w == W && h == H);
            cp_image_free(&img);
        }
}
END_TEST

/* A smooth RGB (or grey, or CMYK) image as a JPEG at quality 100. */
static void write_jpeg_with_comments(const char *path, J_COLOR_SPACE space, int progressive,
                                     int comments);
static void write_jpeg(const char *path, J_COLOR_SPACE space, int progressive)
{
    write_jpeg_with_comments(path, space, progressive, 0);
}

/* `comments` 60 000-byte COM markers before the frame header. */
static void write_jpeg_with_comments(const char *path, J_COLOR_SPACE space, int progressive,
                                     int comments)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    struct jpeg_compress_struct cj;
    struct jpeg_error_mgr err;
    cj.err = jpeg_std_error(&err);
    jpeg_create_compress(&cj);
    jpeg_stdio_dest(&cj, f);
    cj.image_width = 32;
    cj.image_height = 24;
    cj.input_components = space == JCS_GRAYSCALE ? 1 : space == JCS_CMYK ? 4 : 3;
    cj.in_color_space = space;
    jpeg_set_defaults(&cj);
    jpeg_set_quality(&cj, 100, TRUE);
    if (progressive) jpeg_simple_progression(&cj);
    jpeg_start_compress(&cj, TRUE);
    static JOCTET comment[60000];
    memset(comment, 'x', sizeof comment);
    for (int i = 0; i < comments; i++) jpeg_write_marker(&cj, JPEG_COM, comment, sizeof comment);
    JSAMPLE row[32 * 4];
    while (cj.next_scanline < cj.image_height) {
        int y = (int)cj.next_scanline;
        for (int x = 0; x < 32; x++)
            for (int c = 0; c < cj.input_components; c++)
                row[x * cj.input_components + c] =
                    (JSAMPLE)(space == JCS_CMYK ? (c == 3 ? 200 : 255 - (40 + 60 * c))
                                                : 40 + 60 * c + x + y);
        JSAMPROW r = row;
        jpeg_write_scanlines(&cj, &r, 1);
    }
    jpeg_finish_compress(&cj);
    jpeg_destroy_compress(&cj);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(jpeg_baseline_progressive_grey_cmyk)
{
    static const struct { J_COLOR_SPACE space; int progressive; const char *name; } kinds[] = {
        {JCS_RGB, 0, "rgb.jpg"}, {JCS_RGB, 1, "progressive.jpeg"},
        {JCS_GRAYSCALE, 0, "grey.jpg"}, {JCS_CMYK, 0, "cmyk.jpg"},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        write_jpeg(tu_tmp_path(kinds[k].name), kinds[k].space, kinds[k].progressive);
        cp_image img;
        TU_OK(cp_image_load(tu_tmp_path(kinds[k].name), &img));
        ck_assert_int_eq(img.w, 32);
        ck_assert_int_eq(img.h, 24);
        int worst = 0;
        for (int y = 0; y < 24; y++)
            for (int x = 0; x < 32; x++)
                for (int c = 0; c < 3; c++) {
                    int v = img.pixels[(y * 32 + x) * 3 + c], w;
                    if (kinds[k].space == JCS_GRAYSCALE) w = 40 + x + y;
                    else if (kinds[k].space == JCS_CMYK) w = (255 - (40 + 60 * c)) * 200 / 255; /* Adobe: stored inverted */
                    else w = 40 + 60 * c + x + y;
                    int d = abs(v - w);
                    if (d > worst) worst = d;
                }
        ck_assert_msg(worst <= 3, "%s: off by %d", kinds[k].name, worst);
        cp_image_free(&img);
    }
}
END_TEST

START_TEST(format_comes_from_content_not_name)
{
    write_png(tu_tmp_path("really_png.jpg"), PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE);
    write_jpeg(tu_tmp_path("really_jpeg.png"), JCS_RGB, 0);
    write_jpeg(tu_tmp_path("no_extension"), JCS_RGB, 0);
    cp_image img;
    TU_OK(cp_image_load(tu_tmp_path("really_png.jpg"), &img));
    ck_assert_int_eq(img.pixels[0], want(PNG_COLOR_TYPE_RGB, 8, 0, 0, 0));
    cp_image_free(&img);
    TU_OK(cp_image_load(tu_tmp_path("really_jpeg.png"), &img));
    ck_assert_int_eq(img.w, 32);
    cp_image_free(&img);
    TU_OK(cp_image_load(tu_tmp_path("no_extension"), &img));
    cp_image_free(&img);
    /* the probe finds a header behind 300 KB of metadata too */
    write_jpeg_with_comments(tu_tmp_path("chatty.jpg"), JCS_RGB, 0, 5);
    int w = 0, h = 0;
    TU_OK(cp_image_probe(tu_tmp_path("chatty.jpg"), &w, &h));
    ck_assert(w == 32 && h == 24);
    TU_OK(cp_image_load(tu_tmp_path("chatty.jpg"), &img));
    cp_image_free(&img);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image_codecs");
    TCase *tc = tcase_create("image_codecs");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(tc, png_every_colour_type_depth_and_interlacing);
    tcase_add_test(tc, jpeg_baseline_progressive_grey_cmyk);
    tcase_add_test(tc, format_comes_from_content_not_name);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
