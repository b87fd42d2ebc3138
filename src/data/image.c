/* Image decoding/encoding through stb and conversion to the model's CHW
 * float layout. */
#include "clinpaint/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_write.h>

#include "data/data_internal.h"

cp_status cp_image_alloc(int w, int h, cp_image *out)
{
    memset(out, 0, sizeof *out);
    if (w <= 0 || h <= 0 || (size_t)w * (size_t)h > CP_IMAGE_MAX_PIXELS)
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

/* Copies stb's buffer into our own so that cp_image_free is plain free(),
 * whatever allocator stb was built with. */
static cp_status adopt(stbi_uc *data, int w, int h, const char *name, cp_image *out)
{
    cp_status st = cp_image_alloc(w, h, out);
    if (st == CP_OK) {
        memcpy(out->pixels, data, (size_t)w * h * 3);
    } else {
        char why[512]; /* cp_set_error must not read its own buffer */
        snprintf(why, sizeof why, "%s", cp_last_error());
        cp_set_error(st, "'%s': %s", name, why);
    }
    stbi_image_free(data);
    return st;
}

static cp_status check_dims(int w, int h, const char *name)
{
    if (w <= 0 || h <= 0)
        return cp_set_error(CP_ERR_FORMAT, "'%s': image has no pixels (%dx%d)", name, w, h);
    if ((size_t)w * (size_t)h > CP_IMAGE_MAX_PIXELS)
        return cp_set_error(CP_ERR_FORMAT, "'%s': image of %dx%d pixels is too large (limit %zu pixels)",
                            name, w, h, (size_t)CP_IMAGE_MAX_PIXELS);
    return CP_OK;
}

cp_status cp_image_load(const char *path, cp_image *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return cp_set_error(CP_ERR_IO, "'%s': cannot open image: %s", path, strerror(errno));
    int w, h, c;
    cp_status st = CP_OK;
    if (fseek(f, 0, SEEK_END) == 0 && ftell(f) == 0) {
        st = cp_set_error(CP_ERR_FORMAT, "'%s': empty file", path);
    } else if (fseek(f, 0, SEEK_SET) != 0) {
        st = cp_set_error(CP_ERR_IO, "'%s': cannot read image: %s", path, strerror(errno));
    } else if (!stbi_info_from_file(f, &w, &h, &c)) {
        st = cp_set_error(CP_ERR_FORMAT, "'%s': not a decodable image (%s)", path,
                          stbi_failure_reason());
    } else if ((st = check_dims(w, h, path)) == CP_OK) {
        stbi_uc *data = stbi_load_from_file(f, &w, &h, &c, 3);
        if (!data)
            st = cp_set_error(CP_ERR_FORMAT, "'%s': could not be decoded, truncated or corrupt (%s)",
                              path, stbi_failure_reason());
        else
            st = adopt(data, w, h, path, out);
    }
    fclose(f);
    return st;
}

cp_status cp_image_load_memory(const void *data, size_t size, const char *name, cp_image *out)
{
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    if (size == 0) return cp_set_error(CP_ERR_FORMAT, "'%s': empty", name);
    if (size > (size_t)0x7fffffff)
        return cp_set_error(CP_ERR_FORMAT, "'%s': too large (%zu bytes)", name, size);
    int w, h, c;
    if (!stbi_info_from_memory(data, (int)size, &w, &h, &c))
        return cp_set_error(CP_ERR_FORMAT, "'%s': not a decodable image (%s)", name,
                            stbi_failure_reason());
    CP_DATA_TRY(check_dims(w, h, name));
    stbi_uc *px = stbi_load_from_memory(data, (int)size, &w, &h, &c, 3);
    if (!px)
        return cp_set_error(CP_ERR_FORMAT, "'%s': could not be decoded, truncated or corrupt (%s)",
                            name, stbi_failure_reason());
    return adopt(px, w, h, name, out);
}

cp_status cp_image_write_png(const char *path, const cp_image *img)
{
    if (!img || !img->pixels || img->w <= 0 || img->h <= 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cannot write '%s': empty image", path);
    errno = 0;
    if (!stbi_write_png(path, img->w, img->h, 3, img->pixels, img->w * 3))
        return cp_set_error(CP_ERR_IO, "cannot write PNG '%s'%s%s", path, errno ? ": " : "",
                            errno ? strerror(errno) : "");
    return CP_OK;
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
