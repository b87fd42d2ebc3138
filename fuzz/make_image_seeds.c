/* Writes the image fuzzer's seed corpus: small valid files of every format
 * and variant the loader handles (PNG of each colour type, bit depth and
 * interlacing; baseline, progressive and grey JPEG; BMP; TGA plain and RLE;
 * GIF). Built and run by tools/fuzz.sh; nothing it writes is committed.
 *   make_image_seeds DIR */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <stb_image_write.h>

#define W 13
#define H 9

static void die(const char *what)
{
    fprintf(stderr, "make_image_seeds: %s\n", what);
    exit(1);
}

static FILE *create(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) die(path);
    return f;
}

static void finish(FILE *f)
{
    if (ferror(f) || fclose(f) != 0) die("write failed");
}

/* One PNG: colour type, bit depth, interlacing; samples from a ramp. */
static void png(const char *dir, const char *name, int type, int depth, int interlace)
{
    FILE *f = create(dir, name);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (!p || !info || setjmp(png_jmpbuf(p))) die("libpng");
    png_init_io(p, f);
    png_set_IHDR(p, info, W, H, depth, type, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {9, 9, 9}};
        png_byte trns[1] = {128};
        png_set_PLTE(p, info, pal, 4);
        png_set_tRNS(p, info, trns, 1, NULL);
    }
    png_write_info(p, info);
    png_set_packing(p);
    if (depth == 16) png_set_swap(p);
    int ch = type == PNG_COLOR_TYPE_RGB ? 3 : type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
             : type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    int bps = depth == 16 ? 2 : 1;
    png_byte row[W * 4 * 2];
    int passes = png_set_interlace_handling(p);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < H; y++) {
            for (int i = 0; i < W * ch * bps; i++)
                row[i] = (png_byte)(type == PNG_COLOR_TYPE_PALETTE ? (i + y) % 4
                                    : depth < 8 ? (i + y) % (1 << depth) : (i * 17 + y * 31));
            png_write_row(p, row);
        }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    finish(f);
}

static void jpeg(const char *dir, const char *name, int grey, int progressive)
{
    FILE *f = create(dir, name);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = W;
    c.image_height = H;
    c.input_components = grey ? 1 : 3;
    c.in_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    JSAMPLE row[W * 3];
    while (c.next_scanline < H) {
        for (int i = 0; i < W * 3; i++) row[i] = (JSAMPLE)(i * 19 + c.next_scanline * 23);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    finish(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) die("usage: make_image_seeds DIR");
    const char *d = argv[1];
    png(d, "rgb8.png", PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE);
    png(d, "rgb16_interlaced.png", PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_ADAM7);
    png(d, "rgba8.png", PNG_COLOR_TYPE_RGB_ALPHA, 8, PNG_INTERLACE_NONE);
    png(d, "grey1.png", PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE);
    png(d, "grey16.png", PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE);
    png(d, "greyalpha8.png", PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_ADAM7);
    png(d, "palette2.png", PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE);
    jpeg(d, "baseline.jpg", 0, 0);
    jpeg(d, "progressive.jpg", 0, 1);
    jpeg(d, "grey.jpg", 1, 0);
    unsigned char rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (unsigned char)(i * 7);
    char path[4096];
    snprintf(path, sizeof path, "%s/rgb.bmp", d);
    if (!stbi_write_bmp(path, W, H, 3, rgb)) die(path);
    snprintf(path, sizeof path, "%s/rgb.tga", d);
    stbi_write_tga_with_rle = 0;
    if (!stbi_write_tga(path, W, H, 3, rgb)) die(path);
    snprintf(path, sizeof path, "%s/rle.tga", d);
    stbi_write_tga_with_rle = 1;
    if (!stbi_write_tga(path, W, H, 3, rgb)) die(path);
    /* a 1×1 GIF whose only colour is red */
    static const unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0,
                                        0xff, 0, 0, 0, 0, 0, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0,
                                        2, 2, 0x44, 1, 0, ';'};
    FILE *f = create(d, "red.gif");
    if (fwrite(gif, 1, sizeof gif, f) != sizeof gif) die("write failed");
    finish(f);
    return 0;
}
