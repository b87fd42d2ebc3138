/* clinpaint: RGB images on the host, and their conversion to and from the
 * model's CHW float tensors in [-1, 1] (MODEL.md, "Tensors and ranges",
 * "Data"). */
#ifndef CLINPAINT_IMAGE_H
#define CLINPAINT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 8-bit RGB, rows top to bottom, HWC (pixels[(y*w + x)*3 + c]). */
typedef struct cp_image {
    int w, h;
    uint8_t *pixels; /* w*h*3 bytes, owned: free with cp_image_free */
} cp_image;

/* The pixel budget: the loaders refuse (CP_ERR_FORMAT) an image whose header
 * claims more pixels, before decoding anything. The default is 64 Mpixel
 * (8192×8192; 192 MiB as RGB); cp_image_set_max_pixels raises or lowers it
 * for the whole process, up to CP_IMAGE_PIXEL_CEILING (also the largest
 * image cp_image_alloc makes). */
#define CP_IMAGE_DEFAULT_MAX_PIXELS ((size_t)1 << 26)
/* The old name of the default (before the budget could be changed). */
#define CP_IMAGE_MAX_PIXELS CP_IMAGE_DEFAULT_MAX_PIXELS
#define CP_IMAGE_PIXEL_CEILING ((size_t)1 << 30)
/* CP_ERR_INVALID_ARGUMENT outside 1..CP_IMAGE_PIXEL_CEILING. Thread-safe. */
cp_status cp_image_set_max_pixels(size_t pixels);
size_t cp_image_max_pixels(void);

/* Allocates a w×h image, zero-filled. */
cp_status cp_image_alloc(int w, int h, cp_image *out);
/* Frees the pixels and zeroes the struct; NULL or an empty image is fine. */
void cp_image_free(cp_image *img);

/* Decodes a PNG (libpng), JPEG (libjpeg) or BMP/TGA/GIF (first frame; stb)
 * file into 8-bit RGB: grey is replicated, palettes expanded, alpha dropped,
 * 16-bit samples keep their high byte. The format is recognised by content,
 * never by name; others (PNM, HDR, PSD, ...) are "unsupported image format".
 * Only regular files are opened (a FIFO, device or folder is refused without
 * blocking). A damaged or truncated file is an error, never partial pixels.
 * CP_ERR_IO if the file cannot be opened or read, CP_ERR_FORMAT otherwise
 * (the message names the file and the reason). Thread-safe. */
cp_status cp_image_load(const char *path, cp_image *out);
/* The same from memory; `name` is only used in messages. */
cp_status cp_image_load_memory(const void *data, size_t size, const char *name,
                               cp_image *out);
/* The size from the header only (with the same checks of file type, format
 * and pixel budget), reading as little of the file as it can. */
cp_status cp_image_probe(const char *path, int *w, int *h);
cp_status cp_image_info_memory(const void *data, size_t size, const char *name,
                               int *w, int *h);

/* Writes an 8-bit RGB PNG (libpng) atomically: a temporary file next to it,
 * renamed over `path` once every write and the close have succeeded.
 * CP_ERR_IO naming the file on failure, and nothing left behind. */
cp_status cp_image_write_png(const char *path, const cp_image *img);

/* Centre-crops to a square of side s = min(w, h) at offset
 * (floor((w - s)/2), floor((h - s)/2)) and resizes it to S×S into `rgb`
 * (S*S*3 bytes, HWC): exact area averaging when shrinking, bilinear when
 * enlarging, a copy when s == S; results rounded to the nearest integer. */
cp_status cp_image_square_resize(const cp_image *img, int S, uint8_t *rgb);

/* S×S HWC bytes -> 3×S×S floats v/127.5 - 1; `flip` mirrors left-right. */
void cp_rgb_to_chw(const uint8_t *rgb, int S, int flip, float *out);

/* cp_image_square_resize followed by cp_rgb_to_chw (no flip): the model's
 * input for one image. `out` holds 3*S*S floats. */
cp_status cp_image_to_chw(const cp_image *img, int S, float *out);

/* 3×h×w floats in [-1, 1] -> an RGB image: (v + 1)*127.5, clipped to
 * [0, 255], rounded to nearest (NaN becomes 0). Allocates `out`. */
cp_status cp_chw_to_image(const float *chw, int w, int h, cp_image *out);

/* Lays `count` 3×S×S float images out in a grid of `cols` columns (rows =
 * ceil(count/cols)), `gap` pixels between cells and around the border, the
 * gaps filled with grey `bg`. A NULL entry leaves its cell blank. For the
 * training samples: pass (masked input, output, ground truth) per row with
 * cols = 3. Allocates `out`. */
cp_status cp_image_grid(const float *const *chw, int count, int cols, int S,
                        int gap, uint8_t bg, cp_image *out);
/* cp_image_grid (gap 2, white) written to a PNG file. */
cp_status cp_image_write_grid_png(const char *path, const float *const *chw,
                                  int count, int cols, int S);

/* Resamples an s×s window (top-left (x0, y0), row stride `stride` bytes) of a
 * 3-channel image to S×S: exact area average (integer weights, rounded half
 * up) when s > S, bilinear with pixel centres aligned when s < S, copy when
 * equal. */
cp_status cp_resize_square_rgb(const uint8_t *src, size_t stride, int x0,
                               int y0, int s, int S, uint8_t *dst);

#ifdef __cplusplus
}
#endif
#endif
