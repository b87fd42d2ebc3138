/* Meeting the model halfway at inference: the crop that frames a face as
 * the training crops did, reading a crop that reaches past the photo, and
 * the grayscale test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "clinpaint/image.h"
#include "image_cli.h"

ic_crop ic_centre_crop(int w, int h)
{
    int s = w < h ? w : h;
    return (ic_crop){(w - s) / 2, (h - s) / 2, s};
}

bool ic_parse_face_box(const char *v, int box[4])
{
    const char *p = v;
    for (int k = 0; k < 4; k++) {
        char part[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof part || (k < 3) != (p[len] == ',')) return false;
        memcpy(part, p, len);
        part[len] = '\0';
        long n;
        if (!cli_parse_int(part, k < 2 ? 0 : 1, 1 << 20, &n)) return false;
        box[k] = (int)n;
        p += len + (k < 3);
    }
    return true;
}

cp_status ic_photo_crop(const cp_image *img, const char *path, const int *face, ic_crop *out)
{
    if (!face) {
        *out = ic_centre_crop(img->w, img->h);
        return CP_OK;
    }
    if (face[0] + face[2] > img->w || face[1] + face[3] > img->h)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "--face %d,%d,%d,%d reaches outside %s (%dx%d): the face box must lie "
                            "inside the photo",
                            face[0], face[1], face[2], face[3], path, img->w, img->h);
    *out = ic_face_crop(face[0], face[1], face[2], face[3]);
    return CP_OK;
}

ic_crop ic_face_crop(int X, int Y, int W, int H)
{
    int side = W > H ? W : H;
    int s = (int)lround(IC_FACE_CROP_RATIO * side);
    if (s < 1) s = 1;
    double cx = X + 0.5 * W, cy = Y + 0.5 * H;
    return (ic_crop){(int)lround(cx - 0.5 * s), (int)lround(cy - IC_FACE_CENTRE_ROW * s), s};
}

/* Mirror about the edge pixels, any distance out. */
static int reflect(int i, int n)
{
    if (n == 1) return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i > n - 1 ? period - i : i;
}

cp_status ic_crop_resize(const cp_image *img, ic_crop box, int S, uint8_t *rgb)
{
    const int w = img->w, h = img->h, s = box.s;
    if (box.x0 >= 0 && box.y0 >= 0 && box.x0 + s <= w && box.y0 + s <= h)
        return cp_resize_square_rgb(img->pixels, (size_t)w * 3, box.x0, box.y0, s, S, rgb);
    /* Reaches past the photo: copy the box with reflection first. */
    uint8_t *tmp = malloc((size_t)s * s * 3);
    if (!tmp) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory (crop %d)", s);
    for (int y = 0; y < s; y++) {
        int sy = reflect(box.y0 + y, h);
        for (int x = 0; x < s; x++) {
            int sx = reflect(box.x0 + x, w);
            memcpy(tmp + ((size_t)y * s + x) * 3, img->pixels + ((size_t)sy * w + sx) * 3, 3);
        }
    }
    cp_status st = cp_resize_square_rgb(tmp, (size_t)s * 3, 0, 0, s, S, rgb);
    free(tmp);
    return st;
}

bool ic_is_grayscale(const cp_image *img)
{
    const size_t n = (size_t)img->w * img->h;
    size_t coloured = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->pixels + i * 3;
        int lo = p[0], hi = p[0];
        for (int c = 1; c < 3; c++) {
            lo = p[c] < lo ? p[c] : lo;
            hi = p[c] > hi ? p[c] : hi;
        }
        coloured += hi - lo > IC_GRAY_TOLERANCE;
    }
    return coloured * 100 <= n; /* a logo or a few noisy pixels do not count */
}

void ic_chw_to_gray(float *chw, int S)
{
    const size_t plane = (size_t)S * S;
    for (size_t p = 0; p < plane; p++) {
        float g = 0.299f * chw[p] + 0.587f * chw[plane + p] + 0.114f * chw[2 * plane + p];
        chw[p] = chw[plane + p] = chw[2 * plane + p] = g;
    }
}

int ic_feather_width(int s, int S)
{
    int f = (s + S - 1) / S;
    return f > 3 ? f : 3;
}

void ic_print_crop_notes(ic_crop box, bool face, bool gray, int S)
{
    if (face) printf("; face crop %dx%d at (%d, %d)", box.s, box.s, box.x0, box.y0);
    if (gray) printf("; grayscale photo: grayscale fill");
    /* The model sees S×S: a large crop gets a soft fill, and we say so. */
    if (box.s > 2 * S)
        printf("; note: the fill is upscaled %.1fx from the model's %dx%d and is softer than the photo",
               (double)box.s / S, S, S);
}
