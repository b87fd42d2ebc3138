/* Square resampling for the data pipeline. Shrinking uses an exact area
 * average with integer weights, so that results are reproducible bit for bit
 * (and by any other implementation of the same definition, e.g. PIL's BOX
 * filter up to rounding); enlarging uses bilinear interpolation. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

/* Output pixel i covers source [i*s, (i+1)*s) in units of 1/S; source pixel j
 * covers [j*S, (j+1)*S). Their overlap is an integer and the weights of one
 * output pixel sum to s. */
typedef struct area_tap {
    int first, count;
} area_tap;

static int area_taps(int s, int S, area_tap *taps, uint32_t *w, int maxc)
{
    for (int i = 0; i < S; i++) {
        int64_t lo = (int64_t)i * s, hi = (int64_t)(i + 1) * s;
        int j0 = (int)(lo / S), j1 = (int)((hi + S - 1) / S); /* [j0, j1) */
        taps[i].first = j0;
        taps[i].count = j1 - j0;
        if (taps[i].count > maxc) return -1;
        for (int j = j0; j < j1; j++) {
            int64_t a = lo > (int64_t)j * S ? lo : (int64_t)j * S;
            int64_t b = hi < (int64_t)(j + 1) * S ? hi : (int64_t)(j + 1) * S;
            w[(size_t)i * maxc + (j - j0)] = (uint32_t)(b - a);
        }
    }
    return 0;
}

static cp_status shrink_area(const uint8_t *src, size_t stride, int x0, int y0,
                             int s, int S, uint8_t *dst)
{
    int maxc = s / S + 2;
    area_tap *taps = malloc(sizeof *taps * (size_t)S);
    uint32_t *w = malloc(sizeof *w * (size_t)S * maxc);
    /* Horizontal pass: s rows × S columns × 3, sums ≤ 255·s fit 32 bits. */
    uint32_t *tmp = malloc(sizeof *tmp * (size_t)s * S * 3);
    uint64_t *acc = malloc(sizeof *acc * (size_t)S * 3);
    cp_status st = CP_OK;
    if (!taps || !w || !tmp || !acc) {
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "resize %d -> %d: out of host memory", s, S);
        goto done;
    }
    if (area_taps(s, S, taps, w, maxc) != 0) {
        st = cp_set_error(CP_ERR_INTERNAL, "resize %d -> %d: tap count", s, S);
        goto done;
    }
    for (int y = 0; y < s; y++) {
        const uint8_t *row = src + (size_t)(y0 + y) * stride + (size_t)x0 * 3;
        uint32_t *t = tmp + (size_t)y * S * 3;
        for (int i = 0; i < S; i++) {
            const uint8_t *p = row + (size_t)taps[i].first * 3;
            const uint32_t *wi = w + (size_t)i * maxc;
            uint32_t r = 0, g = 0, b = 0;
            for (int k = 0; k < taps[i].count; k++, p += 3) {
                r += wi[k] * p[0];
                g += wi[k] * p[1];
                b += wi[k] * p[2];
            }
            t[i * 3] = r;
            t[i * 3 + 1] = g;
            t[i * 3 + 2] = b;
        }
    }
    /* Vertical pass; the total weight is s*s. */
    uint64_t denom = (uint64_t)s * (uint64_t)s;
    for (int i = 0; i < S; i++) {
        memset(acc, 0, sizeof *acc * (size_t)S * 3);
        const uint32_t *wi = w + (size_t)i * maxc;
        for (int k = 0; k < taps[i].count; k++) {
            const uint32_t *t = tmp + (size_t)(taps[i].first + k) * S * 3;
            uint64_t wk = wi[k];
            for (int x = 0; x < S * 3; x++) acc[x] += wk * t[x];
        }
        uint8_t *out = dst + (size_t)i * S * 3;
        for (int x = 0; x < S * 3; x++)
            out[x] = (uint8_t)((acc[x] + denom / 2) / denom);
    }
done:
    free(taps);
    free(w);
    free(tmp);
    free(acc);
    return st;
}

/* Source coordinate of output pixel i: (i + 0.5)·s/S − 0.5, clamped. */
static void bilinear_coords(int s, int S, int *i0, int *i1, float *f)
{
    for (int i = 0; i < S; i++) {
        float c = ((float)i + 0.5f) * (float)s / (float)S - 0.5f;
        if (c < 0.0f) c = 0.0f;
        int a = (int)c;
        if (a > s - 1) a = s - 1;
        i0[i] = a;
        i1[i] = a + 1 < s ? a + 1 : s - 1;
        f[i] = c - (float)a;
    }
}

static cp_status enlarge_bilinear(const uint8_t *src, size_t stride, int x0,
                                  int y0, int s, int S, uint8_t *dst)
{
    int *idx = malloc(sizeof *idx * (size_t)S * 2);
    float *f = malloc(sizeof *f * (size_t)S);
    if (!idx || !f) {
        free(idx);
        free(f);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "resize %d -> %d: out of host memory", s, S);
    }
    int *i0 = idx, *i1 = idx + S;
    bilinear_coords(s, S, i0, i1, f); /* same table for x and y: square */
    for (int y = 0; y < S; y++) {
        const uint8_t *ra = src + (size_t)(y0 + i0[y]) * stride + (size_t)x0 * 3;
        const uint8_t *rb = src + (size_t)(y0 + i1[y]) * stride + (size_t)x0 * 3;
        float fy = f[y];
        for (int x = 0; x < S; x++) {
            float fx = f[x];
            for (int c = 0; c < 3; c++) {
                float top = (float)ra[i0[x] * 3 + c] * (1.0f - fx) + (float)ra[i1[x] * 3 + c] * fx;
                float bot = (float)rb[i0[x] * 3 + c] * (1.0f - fx) + (float)rb[i1[x] * 3 + c] * fx;
                float v = top * (1.0f - fy) + bot * fy + 0.5f;
                dst[((size_t)y * S + x) * 3 + c] = (uint8_t)(v >= 255.0f ? 255 : (int)v);
            }
        }
    }
    free(idx);
    free(f);
    return CP_OK;
}

cp_status cp_resize_square_rgb(const uint8_t *src, size_t stride, int x0,
                               int y0, int s, int S, uint8_t *dst)
{
    if (s == S) {
        for (int y = 0; y < S; y++)
            memcpy(dst + (size_t)y * S * 3, src + (size_t)(y0 + y) * stride + (size_t)x0 * 3,
                   (size_t)S * 3);
        return CP_OK;
    }
    if (s > S) return shrink_area(src, stride, x0, y0, s, S, dst);
    return enlarge_bilinear(src, stride, x0, y0, s, S, dst);
}
