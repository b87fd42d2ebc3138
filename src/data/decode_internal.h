/* Internal: the image decoders behind cp_image_load (src/data/decode_*.c).
 * Each takes the whole file in memory, checks the header's size against the
 * pixel budget before allocating, and either fills every pixel of `out` or
 * fails: a warning, an error or missing data is never half an image. */
#ifndef CP_DATA_DECODE_INTERNAL_H
#define CP_DATA_DECODE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/image.h"

/* Room for a decoder's reason (messages are prefixed with the file's name
 * by the caller). */
#define CP_WHY_SIZE 256

typedef enum cp_image_format {
    CP_FORMAT_UNKNOWN,
    CP_FORMAT_PNG,
    CP_FORMAT_JPEG,
    CP_FORMAT_BMP,
    CP_FORMAT_GIF,
    CP_FORMAT_TGA
} cp_image_format;

/* The format from the first bytes (PNG, JPEG, GIF and BMP signatures; TGA,
 * which has none, when stb's TGA header check passes). Never the name. */
cp_image_format cp_sniff_format(const uint8_t *data, size_t size);
/* stb's TGA header check (decode_stb.c). */
bool cp_looks_like_tga(const uint8_t *data, size_t size);

/* A decoder: with out == NULL reads the header only. On success *w, *h are
 * the size (within max_pixels) and, with out, every pixel is set. On failure
 * CP_ERR_FORMAT (or CP_ERR_OUT_OF_HOST_MEMORY), `why` says what is wrong,
 * and out is empty. No cp_set_error: the caller names the file. */
typedef cp_status (*cp_decoder)(const uint8_t *data, size_t size, size_t max_pixels,
                                int *w, int *h, cp_image *out, char *why);

cp_status cp_decode_png(const uint8_t *data, size_t size, size_t max_pixels,
                        int *w, int *h, cp_image *out, char *why);
cp_status cp_decode_jpeg(const uint8_t *data, size_t size, size_t max_pixels,
                         int *w, int *h, cp_image *out, char *why);
/* BMP, TGA and GIF (first frame) through stb_image built with only those. */
cp_status cp_decode_stb(const uint8_t *data, size_t size, size_t max_pixels,
                        int *w, int *h, cp_image *out, char *why);

/* The whole image as a PNG in a malloc'd buffer (*png, *size). */
cp_status cp_encode_png(const cp_image *img, uint8_t **png, size_t *size, char *why);

/* Checks w×h against the budget, then allocates out (why set on failure). */
cp_status cp_decode_alloc(int w, int h, size_t max_pixels, cp_image *out, char *why);

/* The dataset's cheap check: a regular file with a supported header of an
 * acceptable size. False with `why` (no file name) otherwise. */
bool cp_image_probe_file(const char *path, int *w, int *h, char *why, size_t why_size);

#endif
