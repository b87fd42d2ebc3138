/* RGB images: allocation, the PNG writer, and conversion to and from the
 * model's CHW float layout (decoding is in decode_*.c). */
#include "clinpaint/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"
#include "data/decode_internal.h"
#include "util/file_atomic.h"

cp_status cp_image_alloc(int w, int h, cp_image *out)
{
    memset(out, 0, sizeof *out);
    if (w <= 0 || h <= 0 || (size_t)w * (size_t)h > CP_IMAGE_PIXEL_CEILING)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "image size %dx%d is out of range", w, h);
    out->pixels = calloc((size_t)w * h, 3);
    if (!out->pixels)
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory for a %dx%d image", w, h);
    out->w = w;
    out->h = h;
    return CP_OK;
}

void cp_image_free(cp_image *img)
{
    if (!img) return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

cp_status cp_image_write_png(const char *path, const cp_image *img)
{
    if (!img || !img->pixels || img->w <= 0 || img->h <= 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cannot write '%s': empty image", path);
    uint8_t *png;
    size_t size;
    char why[CP_WHY_SIZE];
    cp_status st = cp_encode_png(img, &png, &size, why);
    if (st != CP_OK) return cp_set_error(st, "cannot write PNG '%s': %s", path, why);
    /* temporary file + rename, every write and the close checked */
    st = cp_write_file_atomic(path, (const char *)png, size);
    free(png);
    return st;
}

cp_status cp_image_square_resize(const cp_image *img, int S, uint8_t *rgb)
{
    if (!img || !img->pixels || img->w <= 0 || img->h <= 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_image_square_resize: empty image");
    if (S <= 0 || S > 65536)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_image_square_resize: size %d out of range", S);
    int s = img->w < img->h ? img->w : img->h;
    int x0 = (img->w - s) / 2, y0 = (img->h - s) / 2;
    return cp_resize_square_rgb(img->pixels, (size_t)img->w * 3, x0, y0, s, S, rgb);
}

/* v/127.5 - 1 for every byte value, computed once in float. */
static float byte_to_unit(uint8_t v) { return (float)v / 127.5f - 1.0f; }

void cp_rgb_to_chw(const uint8_t *rgb, int S, int flip, float *out)
{
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = byte_to_unit((uint8_t)v);
    size_t plane = (size_t)S * S;
    for (int y = 0; y < S; y++) {
        const uint8_t *row = rgb + (size_t)y * S * 3;
        for (int x = 0; x < S; x++) {
            const uint8_t *p = row + (size_t)(flip ? S - 1 - x : x) * 3;
            size_t o = (size_t)y * S + x;
            out[o] = lut[p[0]];
            out[plane + o] = lut[p[1]];
            out[2 * plane + o] = lut[p[2]];
        }
    }
}

cp_status cp_image_to_chw(const cp_image *img, int S, float *out)
{
    if (S <= 0 || S > 65536)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_image_to_chw: size %d out of range", S);
    uint8_t *tmp = malloc((size_t)S * S * 3);
    if (!tmp) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "cp_image_to_chw: out of host memory");
    cp_status st = cp_image_square_resize(img, S, tmp);
    if (st == CP_OK) cp_rgb_to_chw(tmp, S, 0, out);
    free(tmp);
    return st;
}

static uint8_t unit_to_byte(float v)
{
    float b = (v + 1.0f) * 127.5f;
    if (!(b > 0.0f)) return 0; /* also NaN */
    if (b >= 255.0f) return 255;
    return (uint8_t)(int)(b + 0.5f);
}

cp_status cp_chw_to_image(const float *chw, int w, int h, cp_image *out)
{
    CP_DATA_TRY(cp_image_alloc(w, h, out));
    size_t plane = (size_t)w * h;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) out->pixels[i * 3 + c] = unit_to_byte(chw[c * plane + i]);
    return CP_OK;
}

cp_status cp_image_grid(const float *const *chw, int count, int cols, int S,
                        int gap, uint8_t bg, cp_image *out)
{
    memset(out, 0, sizeof *out);
    if (count <= 0 || cols <= 0 || S <= 0 || gap < 0 || gap > 1024)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_image_grid: bad layout (count %d, cols %d, size %d, gap %d)",
                            count, cols, S, gap);
    if (cols > count) cols = count;
    int rows = (count + cols - 1) / cols;
    int64_t W = (int64_t)cols * S + (int64_t)(cols + 1) * gap;
    int64_t H = (int64_t)rows * S + (int64_t)(rows + 1) * gap;
    if (W > 65536 || H > 65536)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_image_grid: %lldx%lld is too large",
                            (long long)W, (long long)H);
    CP_DATA_TRY(cp_image_alloc((int)W, (int)H, out));
    memset(out->pixels, bg, (size_t)W * H * 3);
    size_t plane = (size_t)S * S;
    for (int k = 0; k < count; k++) {
        if (!chw[k]) continue;
        int ox = gap + (k % cols) * (S + gap), oy = gap + (k / cols) * (S + gap);
        for (int y = 0; y < S; y++) {
            uint8_t *row = out->pixels + ((size_t)(oy + y) * W + ox) * 3;
            for (int x = 0; x < S; x++)
                for (int c = 0; c < 3; c++)
                    row[x * 3 + c] = unit_to_byte(chw[k][c * plane + (size_t)y * S + x]);
        }
    }
    return CP_OK;
}

cp_status cp_image_write_grid_png(const char *path, const float *const *chw,
                                  int count, int cols, int S)
{
    cp_image grid;
    CP_DATA_TRY(cp_image_grid(chw, count, cols, S, 2, 255, &grid));
    cp_status st = cp_image_write_png(path, &grid);
    cp_image_free(&grid);
    return st;
}
