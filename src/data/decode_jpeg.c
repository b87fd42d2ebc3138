/* JPEG through libjpeg(-turbo): baseline and progressive, grey, YCbCr and
 * Adobe CMYK/YCCK, to 8-bit RGB. Every libjpeg error and every "corrupt
 * data" warning (premature end, bad Huffman code, ...) fails the decode: on
 * such files libjpeg would otherwise fill the rest with grey and go on. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "data/decode_internal.h"

/* A progressive file may declare any number of scans, each a full pass over
 * the coefficients: a tiny file can cost minutes. Real encoders use < 20. */
#define MAX_SCANS 256

typedef struct jpeg_guard {
    struct jpeg_error_mgr mgr; /* first: libjpeg hands us this pointer */
    jmp_buf jump;
    char *why;
} jpeg_guard;

static void fail(j_common_ptr cinfo)
{
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    g->mgr.format_message(cinfo, msg);
    snprintf(g->why, CP_WHY_SIZE, "corrupt or truncated JPEG (%s)", msg);
    longjmp(g->jump, 1);
}

/* level -1 is a warning: all but two mean the data is damaged. */
static void on_message(j_common_ptr cinfo, int level)
{
    int code = cinfo->err->msg_code;
    if (level < 0 && code != JWRN_JFIF_MAJOR && code != JWRN_ADOBE_XFORM) fail(cinfo);
}

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > MAX_SCANS) {
        jpeg_guard *g = (jpeg_guard *)cinfo->err;
        snprintf(g->why, CP_WHY_SIZE, "JPEG with more than %d scans", MAX_SCANS);
        longjmp(g->jump, 1);
    }
}

/* Adobe CMYK is stored inverted: the colour is (k*c/255, ...) of the
 * inverted values, as Photoshop writes it. */
static void cmyk_row_to_rgb(const uint8_t *cmyk, int w, uint8_t *rgb)
{
    for (int x = 0; x < w; x++) {
        unsigned k = cmyk[x * 4 + 3];
        for (int c = 0; c < 3; c++) rgb[x * 3 + c] = (uint8_t)((cmyk[x * 4 + c] * k + 127) / 255);
    }
}

typedef struct jpeg_state {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    jpeg_guard guard;
    uint8_t *cmyk_row;
    cp_image img;
} jpeg_state;

static cp_status decode(jpeg_state *s, const uint8_t *data, size_t size, size_t max_pixels,
                        int *w, int *h, bool header_only, char *why)
{
    j_decompress_ptr ci = &s->cinfo;
    jpeg_mem_src(ci, data, (unsigned long)size);
    jpeg_read_header(ci, TRUE);
    if (ci->image_width == 0 || ci->image_height == 0 ||
        (uint64_t)ci->image_width * ci->image_height > max_pixels) {
        snprintf(why, CP_WHY_SIZE, "image of %ux%u pixels is over the limit of %zu pixels",
                 (unsigned)ci->image_width, (unsigned)ci->image_height, max_pixels);
        return CP_ERR_FORMAT;
    }
    *w = (int)ci->image_width;
    *h = (int)ci->image_height;
    if (header_only) return CP_OK;
    bool cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
    ci->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    s->progress.progress_monitor = on_progress;
    ci->progress = &s->progress;
    jpeg_start_decompress(ci);
    if (ci->output_width != (JDIMENSION)*w || ci->output_height != (JDIMENSION)*h ||
        ci->output_components != (cmyk ? 4 : 3)) {
        snprintf(why, CP_WHY_SIZE, "unexpected JPEG output layout");
        return CP_ERR_FORMAT;
    }
    cp_status st = cp_decode_alloc(*w, *h, max_pixels, &s->img, why);
    if (st != CP_OK) return st;
    if (cmyk && !(s->cmyk_row = malloc((size_t)*w * 4))) {
        snprintf(why, CP_WHY_SIZE, "out of host memory");
        return CP_ERR_OUT_OF_HOST_MEMORY;
    }
    while (ci->output_scanline < ci->output_height) {
        uint8_t *row = s->img.pixels + (size_t)ci->output_scanline * (size_t)*w * 3;
        JSAMPROW dst = cmyk ? s->cmyk_row : row;
        if (jpeg_read_scanlines(ci, &dst, 1) != 1) {
            snprintf(why, CP_WHY_SIZE, "truncated JPEG");
            return CP_ERR_FORMAT;
        }
        if (cmyk) cmyk_row_to_rgb(s->cmyk_row, *w, row);
    }
    /* Reads to EOI, so damage after the last row still counts. */
    jpeg_finish_decompress(ci);
    return CP_OK;
}

cp_status cp_decode_jpeg(const uint8_t *data, size_t size, size_t max_pixels,
                         int *w, int *h, cp_image *out, char *why)
{
    if (size > 0xffffffffu) {
        snprintf(why, CP_WHY_SIZE, "JPEG file too large");
        return CP_ERR_FORMAT;
    }
    /* On the heap: the state is changed between setjmp and longjmp. */
    jpeg_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, CP_WHY_SIZE, "out of host memory");
        return CP_ERR_OUT_OF_HOST_MEMORY;
    }
    s->cinfo.err = jpeg_std_error(&s->guard.mgr);
    s->guard.mgr.error_exit = fail;
    s->guard.mgr.emit_message = on_message;
    s->guard.why = why;
    cp_status st;
    if (setjmp(s->guard.jump) == 0) {
        jpeg_create_decompress(&s->cinfo);
        /* libjpeg's own buffers (progressive coefficients) within 1 GiB */
        s->cinfo.mem->max_memory_to_use = 1L << 30;
        st = decode(s, data, size, max_pixels, w, h, out == NULL, why);
    } else {
        st = CP_ERR_FORMAT; /* fail() set why */
    }
    jpeg_destroy_decompress(&s->cinfo);
    free(s->cmyk_row);
    if (st == CP_OK && out)
        *out = s->img;
    else
        cp_image_free(&s->img);
    free(s);
    return st;
}
