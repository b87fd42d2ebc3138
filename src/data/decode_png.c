/* PNG through libpng: any colour type, bit depth and interlacing decodes to
 * 8-bit RGB (16-bit keeps the high byte, grey is replicated, palettes are
 * expanded, alpha is dropped); also the PNG encoder for cp_image_write_png.
 * libpng's errors longjmp back here; nothing is printed. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/decode_internal.h"

typedef struct png_job {
    const uint8_t *data;
    size_t size, pos;
    char *why;
} png_job;

static void on_error(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    snprintf(job->why, CP_WHY_SIZE, "corrupt or truncated PNG (%s)", msg);
    png_longjmp(png, 1);
}

/* Warnings concern ancillary chunks (wrong CRCs, bad profiles): libpng
 * skips those and the pixels are unaffected. */
static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static void read_memory(png_structp png, png_bytep dst, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (n > job->size - job->pos) png_error(png, "file ends early");
    memcpy(dst, job->data + job->pos, n);
    job->pos += n;
}

/* Everything that may change after setjmp lives here (not in locals). */
typedef struct png_state {
    png_structp png;
    png_infop info;
    png_bytep *rows;
    cp_image img;
} png_state;

static cp_status decode(png_state *s, png_job *job, size_t max_pixels, int *w, int *h,
                        bool header_only)
{
    png_set_user_limits(s->png, 1u << 24, 1u << 24);
    png_set_read_fn(s->png, job, read_memory);
    png_read_info(s->png, s->info);
    png_uint_32 width = png_get_image_width(s->png, s->info);
    png_uint_32 height = png_get_image_height(s->png, s->info);
    if (width == 0 || height == 0 || (uint64_t)width * height > max_pixels) {
        snprintf(job->why, CP_WHY_SIZE, "image of %ux%u pixels is over the limit of %zu pixels",
                 (unsigned)width, (unsigned)height, max_pixels);
        return CP_ERR_FORMAT;
    }
    *w = (int)width;
    *h = (int)height;
    if (header_only) return CP_OK;
    png_set_expand(s->png); /* palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha */
    png_set_strip_16(s->png);
    png_set_strip_alpha(s->png);
    png_set_gray_to_rgb(s->png);
    png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->info);
    if (png_get_rowbytes(s->png, s->info) != (size_t)width * 3) {
        snprintf(job->why, CP_WHY_SIZE, "unexpected PNG layout after conversion to RGB");
        return CP_ERR_FORMAT;
    }
    cp_status st = cp_decode_alloc(*w, *h, max_pixels, &s->img, job->why);
    if (st != CP_OK) return st;
    s->rows = malloc(height * sizeof *s->rows);
    if (!s->rows) {
        snprintf(job->why, CP_WHY_SIZE, "out of host memory");
        return CP_ERR_OUT_OF_HOST_MEMORY;
    }
    for (png_uint_32 y = 0; y < height; y++) s->rows[y] = s->img.pixels + (size_t)y * width * 3;
    /* A short or corrupt stream is a png_error (longjmp), never missing rows. */
    png_read_image(s->png, s->rows);
    return CP_OK;
}

cp_status cp_decode_png(const uint8_t *data, size_t size, size_t max_pixels,
                        int *w, int *h, cp_image *out, char *why)
{
    /* On the heap: libpng changes the state between setjmp and longjmp. */
    png_job *job = calloc(1, sizeof *job);
    png_state *s = calloc(1, sizeof *s);
    cp_status st = CP_ERR_OUT_OF_HOST_MEMORY;
    snprintf(why, CP_WHY_SIZE, "out of host memory");
    if (job && s) {
        *job = (png_job){data, size, 0, why};
        s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
        if (s->png) s->info = png_create_info_struct(s->png);
    }
    if (s && s->png && s->info) {
        if (setjmp(png_jmpbuf(s->png)) == 0)
            st = decode(s, job, max_pixels, w, h, out == NULL);
        else
            st = CP_ERR_FORMAT; /* on_error set why */
    }
    if (s) {
        png_destroy_read_struct(&s->png, s->info ? &s->info : NULL, NULL);
        free(s->rows);
        if (st == CP_OK && out)
            *out = s->img;
        else
            cp_image_free(&s->img);
    }
    free(s);
    free(job);
    return st;
}

/* --- encoding --- */

typedef struct png_sink {
    uint8_t *buf;
    size_t size, cap;
    char *why;
} png_sink;

static void on_write_error(png_structp png, png_const_charp msg)
{
    png_sink *sink = png_get_error_ptr(png);
    snprintf(sink->why, CP_WHY_SIZE, "PNG encoder: %s", msg);
    png_longjmp(png, 1);
}

static void write_memory(png_structp png, png_bytep src, size_t n)
{
    png_sink *sink = png_get_io_ptr(png);
    if (n > sink->cap - sink->size) {
        size_t cap = sink->cap ? sink->cap : 4096;
        while (cap - sink->size < n) {
            if (cap > SIZE_MAX / 2) png_error(png, "out of host memory");
            cap *= 2;
        }
        uint8_t *grown = realloc(sink->buf, cap);
        if (!grown) png_error(png, "out of host memory");
        sink->buf = grown;
        sink->cap = cap;
    }
    memcpy(sink->buf + sink->size, src, n);
    sink->size += n;
}

static void flush_memory(png_structp png) { (void)png; }

typedef struct png_writer {
    png_structp png;
    png_infop info;
    png_bytep *rows;
    png_sink sink;
} png_writer;

static void encode(png_writer *wr, const cp_image *img)
{
    png_set_write_fn(wr->png, &wr->sink, write_memory, flush_memory);
    png_set_IHDR(wr->png, wr->info, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    wr->rows = malloc((size_t)img->h * sizeof *wr->rows);
    if (!wr->rows) png_error(wr->png, "out of host memory");
    for (int y = 0; y < img->h; y++) wr->rows[y] = img->pixels + (size_t)y * img->w * 3;
    png_set_rows(wr->png, wr->info, wr->rows);
    png_write_png(wr->png, wr->info, PNG_TRANSFORM_IDENTITY, NULL);
}

cp_status cp_encode_png(const cp_image *img, uint8_t **png, size_t *size, char *why)
{
    *png = NULL;
    *size = 0;
    snprintf(why, CP_WHY_SIZE, "out of host memory");
    png_writer *wr = calloc(1, sizeof *wr); /* changed between setjmp and longjmp */
    if (!wr) return CP_ERR_OUT_OF_HOST_MEMORY;
    cp_status st = CP_ERR_OUT_OF_HOST_MEMORY;
    wr->sink.why = why;
    wr->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &wr->sink, on_write_error, on_warning);
    if (wr->png) wr->info = png_create_info_struct(wr->png);
    if (wr->png && wr->info) {
        if (setjmp(png_jmpbuf(wr->png)) == 0) {
            encode(wr, img);
            st = CP_OK;
        } else {
            st = CP_ERR_IO; /* on_write_error set why */
        }
    }
    png_destroy_write_struct(&wr->png, wr->info ? &wr->info : NULL);
    free(wr->rows);
    if (st == CP_OK) {
        *png = wr->sink.buf;
        *size = wr->sink.size;
    } else {
        free(wr->sink.buf);
    }
    free(wr);
    return st;
}
