#include "image_cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/dataset.h"
#include "clinpaint/image_files.h"
#include "clinpaint/warning.h"

/* ---- inputs ---- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static cp_status push_input(ic_inputs *in, const char *path, const char *relpath)
{
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 16;
        ic_input *v = realloc(in->v, cap * sizeof *v);
        if (!v) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory (inputs)");
        in->v = v;
        in->cap = cap;
    }
    ic_input *e = &in->v[in->n];
    memset(e, 0, sizeof *e);
    e->path = dup_str(path);
    e->relpath = dup_str(relpath);
    if (!e->path || !e->relpath) {
        free(e->path);
        free(e->relpath);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory (inputs)");
    }
    in->n++;
    return CP_OK;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A set of strings (open addressing), for output file names. */
typedef struct name_set {
    char **slot;
    size_t cap, n;
} name_set;

static bool set_has(const name_set *s, const char *k)
{
    size_t i = (size_t)cp_fnv1a64(k, strlen(k)) & (s->cap - 1);
    for (; s->slot[i]; i = (i + 1) & (s->cap - 1))
        if (strcmp(s->slot[i], k) == 0) return true;
    return false;
}

static bool set_add(name_set *s, const char *k)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot) return false;
        for (size_t j = 0; j < s->cap; j++)
            if (s->slot[j]) {
                size_t i = (size_t)cp_fnv1a64(s->slot[j], strlen(s->slot[j])) & (cap - 1);
                while (slot[i]) i = (i + 1) & (cap - 1);
                slot[i] = s->slot[j];
            }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    char *d = dup_str(k);
    if (!d) return false;
    size_t i = (size_t)cp_fnv1a64(k, strlen(k)) & (s->cap - 1);
    while (s->slot[i]) i = (i + 1) & (s->cap - 1);
    s->slot[i] = d;
    s->n++;
    return true;
}

static void set_free(name_set *s)
{
    for (size_t i = 0; i < s->cap; i++) free(s->slot[i]);
    free(s->slot);
}

static const char *const OUTPUT_SUFFIXES[] = {"", "_full", "_sbs"};
#define N_SUFFIXES (sizeof OUTPUT_SUFFIXES / sizeof OUTPUT_SUFFIXES[0])

/* True when none of stem's output files is taken yet. */
static bool stem_free(const name_set *used, const char *stem)
{
    char buf[1200];
    for (size_t k = 0; k < N_SUFFIXES; k++) {
        snprintf(buf, sizeof buf, "%s%s", stem, OUTPUT_SUFFIXES[k]);
        if (used->cap && set_has(used, buf)) return false;
    }
    return true;
}

static cp_status assign_names(ic_inputs *in)
{
    name_set used = {0};
    cp_status st = CP_OK;
    char stem[1100], cand[1200];
    for (size_t i = 0; i < in->n && st == CP_OK; i++) {
        const char *b = base_name(in->v[i].path);
        const char *dot = strrchr(b, '.');
        size_t len = dot && dot != b ? (size_t)(dot - b) : strlen(b);
        if (len >= sizeof stem - 16) len = sizeof stem - 16;
        memcpy(stem, b, len);
        stem[len] = '\0';
        if (!stem[0]) snprintf(stem, sizeof stem, "image");
        snprintf(cand, sizeof cand, "%s", stem);
        for (unsigned k = 2; !stem_free(&used, cand); k++) snprintf(cand, sizeof cand, "%s_%u", stem, k);
        in->v[i].name = dup_str(cand);
        if (!in->v[i].name) {
            st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory (names)");
            break;
        }
        for (size_t k = 0; k < N_SUFFIXES; k++) {
            char buf[1300];
            snprintf(buf, sizeof buf, "%s%s", cand, OUTPUT_SUFFIXES[k]);
            if (!set_add(&used, buf)) {
                st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory (names)");
                break;
            }
        }
    }
    set_free(&used);
    return st;
}

cp_status ic_collect_inputs(const char *const *args, int count, ic_inputs *out, size_t *missing)
{
    memset(out, 0, sizeof *out);
    *missing = 0;
    cp_status st = CP_OK;
    for (int a = 0; a < count && st == CP_OK; a++) {
        struct stat sb;
        if (stat(args[a], &sb) != 0) {
            cp_warn("cannot read input '%s': %s; skipped", args[a], strerror(errno));
            (*missing)++;
            continue;
        }
        if (S_ISREG(sb.st_mode)) {
            st = push_input(out, args[a], base_name(args[a]));
            continue;
        }
        if (!S_ISDIR(sb.st_mode)) {
            /* Never opened: open() on a FIFO blocks until a writer comes. */
            cp_warn("input '%s' is not a regular file or a folder; skipped", args[a]);
            (*missing)++;
            continue;
        }
        cp_file_list files;
        if (cp_scan_images(args[a], "input", &files) != CP_OK) {
            cp_warn("%s; skipped", cp_last_error());
            (*missing)++;
            continue;
        }
        /* Unreadable subfolders and FIFOs inside: one warning each, counted. */
        for (size_t i = 0; i < files.skipped_count; i++) cp_warn_skipped(args[a], &files.skipped[i]);
        *missing += files.skipped_count;
        if (files.count == 0 && files.skipped_count == 0) {
            cp_warn("input folder '%s' holds no image files (.png .jpg .jpeg .bmp .tga .gif); skipped",
                    args[a]);
            (*missing)++;
        }
        for (size_t i = 0; i < files.count && st == CP_OK; i++) {
            char *path = cp_path_join(args[a], files.rel[i]);
            st = path ? push_input(out, path, files.rel[i])
                      : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory (inputs)");
            free(path);
        }
        cp_file_list_free(&files);
    }
    if (st == CP_OK) st = assign_names(out);
    if (st != CP_OK) ic_inputs_free(out);
    return st;
}

void ic_inputs_free(ic_inputs *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->v[i].path);
        free(in->v[i].relpath);
        free(in->v[i].name);
    }
    free(in->v);
    memset(in, 0, sizeof *in);
}

cp_status ic_mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return cp_set_error(CP_ERR_IO, "cannot create folder %s: %s", buf, strerror(errno));
        *p = c;
        if (!c) break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cp_set_error(CP_ERR_IO, "%s exists and is not a folder", path);
    return CP_OK;
}

/* ---- resampling ---- */

/* One output position: taps [first, first + n) of the weight table. */
typedef struct taps {
    int *index;    /* n per output, clamped source indices */
    float *weight; /* normalised */
    int *start, *count;
} taps;

static double kernel(double x, bool cubic)
{
    x = fabs(x);
    if (!cubic) return x < 1 ? 1 - x : 0;
    const double a = -0.5;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

static void taps_free(taps *t)
{
    free(t->index);
    free(t->weight);
    free(t->start);
    free(t->count);
    memset(t, 0, sizeof *t);
}

static cp_status taps_make(int src, int dst, bool cubic, taps *t)
{
    double scale = (double)src / dst, widen = scale > 1 ? scale : 1;
    double radius = (cubic ? 2.0 : 1.0) * widen;
    int per = (int)ceil(2 * radius) + 2;
    t->index = malloc(sizeof *t->index * (size_t)dst * per);
    t->weight = malloc(sizeof *t->weight * (size_t)dst * per);
    t->start = malloc(sizeof *t->start * (size_t)dst);
    t->count = malloc(sizeof *t->count * (size_t)dst);
    if (!t->index || !t->weight || !t->start || !t->count) {
        taps_free(t);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory (resampling)");
    }
    for (int o = 0; o < dst; o++) {
        double c = (o + 0.5) * scale - 0.5;
        int lo = (int)ceil(c - radius), hi = (int)floor(c + radius);
        int base = o * per, n = 0;
        double sum = 0;
        for (int j = lo; j <= hi && n < per; j++) {
            double w = kernel((j - c) / widen, cubic);
            if (w == 0) continue;
            t->index[base + n] = j < 0 ? 0 : j >= src ? src - 1 : j;
            t->weight[base + n] = (float)w;
            sum += w;
            n++;
        }
        if (n == 0 || sum == 0) { /* cannot happen with these kernels; be safe */
            int j = (int)floor(c + 0.5);
            t->index[base] = j < 0 ? 0 : j >= src ? src - 1 : j;
            t->weight[base] = 1;
            n = 1;
            sum = 1;
        }
        for (int k = 0; k < n; k++) t->weight[base + k] = (float)(t->weight[base + k] / sum);
        t->start[o] = base;
        t->count[o] = n;
    }
    return CP_OK;
}

/* Horizontal pass: sh rows of sw×ch -> sh rows of dw×ch. */
static void pass_h(const float *src, int sw, int sh, int ch, const taps *t, int dw, float *dst)
{
    for (int y = 0; y < sh; y++) {
        const float *row = src + (size_t)y * sw * ch;
        float *orow = dst + (size_t)y * dw * ch;
        for (int x = 0; x < dw; x++)
            for (int c = 0; c < ch; c++) {
                float acc = 0;
                for (int k = 0; k < t->count[x]; k++)
                    acc += t->weight[t->start[x] + k] * row[(size_t)t->index[t->start[x] + k] * ch + c];
                orow[(size_t)x * ch + c] = acc;
            }
    }
}

/* Vertical pass for one output row y at column x (dw wide rows). */
static inline float pass_v(const float *mid, int dw, int ch, const taps *t, int y, int x, int c)
{
    float acc = 0;
    for (int k = 0; k < t->count[y]; k++)
        acc += t->weight[t->start[y] + k] * mid[((size_t)t->index[t->start[y] + k] * dw + x) * ch + c];
    return acc;
}

cp_status ic_resample(const float *src, int sw, int sh, int ch, float *dst, int dw, int dh,
                      bool cubic)
{
    if (sw < 1 || sh < 1 || dw < 1 || dh < 1 || ch < 1)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "ic_resample: bad size");
    taps th = {0}, tv = {0};
    cp_status st = taps_make(sw, dw, cubic, &th);
    if (st != CP_OK) return st;
    if ((st = taps_make(sh, dh, cubic, &tv)) != CP_OK) {
        taps_free(&th);
        return st;
    }
    float *mid = malloc(sizeof *mid * (size_t)sh * dw * ch);
    if (!mid) {
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory (resampling)");
    } else {
        pass_h(src, sw, sh, ch, &th, dw, mid);
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++)
                for (int c = 0; c < ch; c++)
                    dst[((size_t)y * dw + x) * ch + c] = pass_v(mid, dw, ch, &tv, y, x, c);
    }
    free(mid);
    taps_free(&th);
    taps_free(&tv);
    return st;
}

/* Chamfer distance (1, √2) from the hole, in place: d[i] is 0 in the hole
 * and the distance to it elsewhere, capped where it no longer matters. */
static void distance_to_hole(float *d, int w, int h)
{
    const float D = 1.41421356f;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *p = d + (size_t)y * w + x, v = *p;
            if (x > 0) v = fminf(v, p[-1] + 1);
            if (y > 0) {
                v = fminf(v, p[-w] + 1);
                if (x > 0) v = fminf(v, p[-w - 1] + D);
                if (x + 1 < w) v = fminf(v, p[-w + 1] + D);
            }
            *p = v;
        }
    for (int y = h - 1; y >= 0; y--)
        for (int x = w - 1; x >= 0; x--) {
            float *p = d + (size_t)y * w + x, v = *p;
            if (x + 1 < w) v = fminf(v, p[1] + 1);
            if (y + 1 < h) {
                v = fminf(v, p[w] + 1);
                if (x + 1 < w) v = fminf(v, p[w + 1] + D);
                if (x > 0) v = fminf(v, p[w - 1] + D);
            }
            *p = v;
        }
}

cp_status ic_paste_full(const cp_image *orig, const float *y, const float *mask, int S,
                        ic_crop box, int feather, cp_image *out, size_t *hole_pixels)
{
    memset(out, 0, sizeof *out);
    *hole_pixels = 0;
    const int w = orig->w, h = orig->h, s = box.s;
    /* the part of the box inside the photo, in crop coordinates [cx0, cx1) */
    const int cx0 = box.x0 < 0 ? -box.x0 : 0, cy0 = box.y0 < 0 ? -box.y0 : 0;
    const int cx1 = box.x0 + s > w ? w - box.x0 : s, cy1 = box.y0 + s > h ? h - box.y0 : s;
    const size_t plane = (size_t)S * S;
    cp_status st = cp_image_alloc(w, h, out);
    if (st != CP_OK) return st;
    memcpy(out->pixels, orig->pixels, (size_t)w * h * 3);
    if (cx1 <= cx0 || cy1 <= cy0) return CP_OK; /* the box misses the photo */
    const int ww = cx1 - cx0, wh = cy1 - cy0;
    /* y as HWC on the 0..255 scale, then the horizontal passes (S rows of
     * s columns); the vertical pass runs per output pixel where needed. */
    taps ti = {0}, tm = {0};
    float *src = malloc(sizeof *src * plane * 3);
    float *mid = malloc(sizeof *mid * (size_t)S * s * 3);
    float *mmid = malloc(sizeof *mmid * (size_t)S * s);
    float *dist = malloc(sizeof *dist * (size_t)ww * wh);
    if (!src || !mid || !mmid || !dist)
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory (paste)");
    if (st == CP_OK) st = taps_make(S, s, true, &ti);
    if (st == CP_OK) st = taps_make(S, s, false, &tm);
    if (st == CP_OK) {
        for (size_t p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++) src[p * 3 + c] = (y[c * plane + p] + 1.0f) * 127.5f;
        pass_h(src, S, S, 3, &ti, s, mid);
        pass_h(mask, S, S, 1, &tm, s, mmid);
        const float far = (float)feather + 2.0f;
        for (int Y = 0; Y < wh; Y++)
            for (int X = 0; X < ww; X++) {
                bool hole = pass_v(mmid, s, 1, &tm, cy0 + Y, cx0 + X, 0) >= 0.5f;
                dist[(size_t)Y * ww + X] = hole ? 0.0f : far;
                *hole_pixels += hole;
            }
        if (feather > 0) distance_to_hole(dist, ww, wh);
        for (int Y = 0; Y < wh; Y++) {
            uint8_t *row = out->pixels + ((size_t)(box.y0 + cy0 + Y) * w + box.x0 + cx0) * 3;
            for (int X = 0; X < ww; X++) {
                float d = dist[(size_t)Y * ww + X];
                if (d > (float)feather) continue; /* untouched: bit-identical */
                float a = 1.0f - d / (float)(feather + 1);
                for (int c = 0; c < 3; c++) {
                    float v = pass_v(mid, s, 3, &ti, cy0 + Y, cx0 + X, c);
                    v = isnan(v) ? 0.0f : v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v; /* NaN -> 0 */
                    if (a < 1.0f) v = a * v + (1.0f - a) * (float)row[X * 3 + c];
                    row[X * 3 + c] = (uint8_t)lrintf(v);
                }
            }
        }
    }
    taps_free(&ti);
    taps_free(&tm);
    free(src);
    free(mid);
    free(mmid);
    free(dist);
    if (st != CP_OK) cp_image_free(out);
    return st;
}
