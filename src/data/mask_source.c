/* Mask sources: a generated kind, one mask image for every sample, or a
 * folder of per-image masks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/dataset.h"
#include "clinpaint/image.h"
#include "clinpaint/mask.h"
#include "data/data_internal.h"

#define TAG_MASK 0x6d61736b00000001ULL /* "mask" */

typedef enum { SRC_KIND, SRC_FILE, SRC_FOLDER } src_type;

typedef struct stem_entry {
    char *stem;      /* relative path without extension */
    const char *rel; /* the file, in `files` */
} stem_entry;

struct cp_mask_source {
    src_type type;
    int S;
    cp_mask_kind kind;
    float *fixed;        /* SRC_FILE */
    char *dir;           /* SRC_FOLDER */
    cp_file_list files;
    stem_entry *stems;   /* sorted by stem, then by file name */
    char desc[512];
};

/* Luma ×1000 of an RGB pixel. */
static uint32_t luma1000(const uint8_t *p) { return 299u * p[0] + 587u * p[1] + 114u * p[2]; }

/* Area weights of source pixels for output pixel o when `src` pixels map
 * onto `dst`: the overlap of [o·src/dst, (o+1)·src/dst) with each source
 * pixel. Fills first/count and w[] (at most src/dst + 2 entries). */
static void area_span(int src, int dst, int o, int *first, int *count, double *w)
{
    double a = (double)o * src / dst, b = (double)(o + 1) * src / dst;
    int i0 = (int)a, i1 = (int)ceil(b);
    if (i1 > src) i1 = src;
    *first = i0;
    *count = i1 - i0;
    for (int i = i0; i < i1; i++) w[i - i0] = (fmin(b, i + 1.0) - fmax(a, (double)i)) / (b - a);
}

/* A mask image that is not square is stretched to S×S (area average of its
 * luma), never centre-cropped: a crop could cut its hole away. */
static cp_status stretch_luma(const cp_image *img, int S, double *out)
{
    int wmax = img->w / S + 2, hmax = img->h / S + 2;
    double *row = malloc(sizeof *row * (size_t)img->h * S); /* h rows of S */
    double *wx = malloc(sizeof *wx * (size_t)wmax), *wy = malloc(sizeof *wy * (size_t)hmax);
    cp_status st = row && wx && wy ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory (mask)");
    for (int y = 0; y < img->h && st == CP_OK; y++)
        for (int x = 0; x < S; x++) {
            int first, n;
            area_span(img->w, S, x, &first, &n, wx);
            double acc = 0;
            for (int k = 0; k < n; k++)
                acc += wx[k] * luma1000(img->pixels + ((size_t)y * img->w + first + k) * 3);
            row[(size_t)y * S + x] = acc;
        }
    for (int y = 0; y < S && st == CP_OK; y++) {
        int first, n;
        area_span(img->h, S, y, &first, &n, wy);
        for (int x = 0; x < S; x++) {
            double acc = 0;
            for (int k = 0; k < n; k++) acc += wy[k] * row[(size_t)(first + k) * S + x];
            out[(size_t)y * S + x] = acc;
        }
    }
    free(row);
    free(wx);
    free(wy);
    return st;
}

/* A mask with no hole gives nothing to learn or fill (hole PSNR is NaN); one
 * with nothing known gives nothing to fill from. */
static cp_status check_not_degenerate(const float *m, int S, const char *what)
{
    size_t ones = 0, n = (size_t)S * S;
    for (size_t i = 0; i < n; i++) ones += m[i] > 0.5f;
    if (ones == 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s has no hole: no white pixel (white = missing) at %dx%d, nothing "
                            "to inpaint",
                            what, S, S);
    if (ones == n)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s is all hole: every pixel white (white = missing) at %dx%d, nothing "
                            "known to inpaint from",
                            what, S, S);
    return CP_OK;
}

/* Decodes a mask image: a square one is resized like the data (area filter
 * when shrinking), any other is stretched to S×S; then white (luma >= 127.5)
 * = missing. Refuses a mask with no hole or nothing known. */
static cp_status load_mask(const char *path, int S, float *out)
{
    cp_image img;
    CP_DATA_TRY(cp_image_load(path, &img));
    const size_t n = (size_t)S * S;
    uint8_t *rgb = img.w == img.h ? malloc(n * 3) : NULL;
    double *luma = img.w != img.h ? malloc(n * sizeof *luma) : NULL;
    cp_status st = rgb || luma ? CP_OK
                               : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory for mask '%s'", path);
    if (st == CP_OK && rgb) st = cp_image_square_resize(&img, S, rgb);
    if (st == CP_OK && luma) st = stretch_luma(&img, S, luma);
    cp_image_free(&img);
    for (size_t i = 0; i < n && st == CP_OK; i++)
        out[i] = (rgb ? luma1000(rgb + i * 3) >= 127500u : luma[i] >= 127500.0) ? 1.0f : 0.0f;
    free(rgb);
    free(luma);
    if (st == CP_OK) {
        char what[1100];
        snprintf(what, sizeof what, "mask file '%s'", path);
        st = check_not_degenerate(out, S, what);
    }
    return st;
}

/* The filesystem root as a mask folder would scan every file on the
 * machine; no user means that. */
static bool is_root(const struct stat *sb)
{
    struct stat root;
    return stat("/", &root) == 0 && root.st_dev == sb->st_dev && root.st_ino == sb->st_ino;
}

/* The part of a relative path before its extension (same string if none). */
static char *stem_of(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    const char *dot = strrchr(rel, '.');
    size_t n = (dot && (!slash || dot > slash + 1)) ? (size_t)(dot - rel) : strlen(rel);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, rel, n);
        s[n] = '\0';
    }
    return s;
}

static int cmp_stem(const void *a, const void *b)
{
    const stem_entry *x = a, *y = b;
    int c = strcmp(x->stem, y->stem);
    return c ? c : strcmp(x->rel, y->rel);
}

static cp_status open_folder(cp_mask_source *src, const char *dir)
{
    CP_DATA_TRY(cp_scan_images(dir, "mask", &src->files));
    for (size_t i = 0; i < src->files.skipped_count; i++) cp_warn_skipped(dir, &src->files.skipped[i]);
    if (src->files.count == 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "mask folder '%s' holds no image files (.png .jpg .jpeg .bmp .tga .gif)", dir);
    src->dir = strdup(dir);
    src->stems = calloc(src->files.count, sizeof *src->stems);
    if (!src->dir || !src->stems) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (size_t i = 0; i < src->files.count; i++) {
        src->stems[i].rel = src->files.rel[i];
        if (!(src->stems[i].stem = stem_of(src->files.rel[i])))
            return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    qsort(src->stems, src->files.count, sizeof *src->stems, cmp_stem);
    snprintf(src->desc, sizeof src->desc, "folder %s", dir);
    return CP_OK;
}

cp_status cp_mask_source_create(const char *spec, int S, cp_mask_source **out)
{
    *out = NULL;
    if (!spec || !spec[0]) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "empty mask specification");
    if (S < 8 || S > 4096)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "mask size %d out of range (8..4096)", S);
    cp_mask_source *src = calloc(1, sizeof *src);
    if (!src) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    src->S = S;
    cp_status st = CP_OK;
    struct stat sb;
    if (cp_mask_kind_parse(spec, &src->kind)) {
        src->type = SRC_KIND;
        snprintf(src->desc, sizeof src->desc, "%s", spec);
    } else if (stat(spec, &sb) != 0) {
        st = cp_set_error(CP_ERR_INVALID_ARGUMENT,
                          "mask '%s' is neither a kind (center, rect, free, face, mixed) nor an "
                          "existing file or folder",
                          spec);
    } else if (is_root(&sb)) {
        st = cp_set_error(CP_ERR_INVALID_ARGUMENT,
                          "mask '%s' is the filesystem root: give a mask kind, a mask image or a "
                          "folder of per-image masks",
                          spec);
    } else if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode)) {
        /* Never opened: open() on a FIFO blocks until a writer comes. */
        st = cp_set_error(CP_ERR_INVALID_ARGUMENT,
                          "mask '%s' is not a regular file or a folder (a FIFO, socket or "
                          "device): refused",
                          spec);
    } else if (S_ISDIR(sb.st_mode)) {
        src->type = SRC_FOLDER;
        st = open_folder(src, spec);
    } else {
        src->type = SRC_FILE;
        src->fixed = malloc(sizeof *src->fixed * (size_t)S * S);
        st = src->fixed ? load_mask(spec, S, src->fixed)
                        : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        if (st != CP_OK && st != CP_ERR_INVALID_ARGUMENT) { /* that one names the file */
            char why[1024]; /* cp_set_error must not read its own buffer */
            snprintf(why, sizeof why, "%s", cp_last_error());
            cp_set_error(st, "mask file %s", why);
        }
        snprintf(src->desc, sizeof src->desc, "file %s", spec);
    }
    if (st != CP_OK) {
        cp_mask_source_free(src);
        return st;
    }
    *out = src;
    return CP_OK;
}

void cp_mask_source_free(cp_mask_source *src)
{
    if (!src) return;
    if (src->stems)
        for (size_t i = 0; i < src->files.count; i++) free(src->stems[i].stem);
    free(src->stems);
    cp_file_list_free(&src->files);
    free(src->dir);
    free(src->fixed);
    free(src);
}

bool cp_mask_source_per_image(const cp_mask_source *src) { return src->type == SRC_FOLDER; }
int cp_mask_source_size(const cp_mask_source *src) { return src->S; }
const char *cp_mask_source_describe(const cp_mask_source *src) { return src->desc; }

/* The mask file for an image, or NULL. */
static const char *match(const cp_mask_source *src, const char *image_relpath)
{
    char *stem = stem_of(image_relpath);
    if (!stem) return NULL;
    size_t lo = 0, hi = src->files.count; /* first entry with stem >= key */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(src->stems[mid].stem, stem) < 0) lo = mid + 1;
        else hi = mid;
    }
    const char *found = lo < src->files.count && strcmp(src->stems[lo].stem, stem) == 0
                            ? src->stems[lo].rel : NULL;
    free(stem);
    return found;
}

static cp_status no_match(const cp_mask_source *src, const char *image_relpath)
{
    return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                        "mask folder '%s' has no mask for image '%s' (expected a file with the same "
                        "relative path and any image extension)",
                        src->dir, image_relpath ? image_relpath : "(none)");
}

cp_status cp_mask_source_get(const cp_mask_source *src, const char *image_relpath,
                             uint64_t seed, uint64_t sample_index, float *out)
{
    const size_t n = (size_t)src->S * src->S;
    switch (src->type) {
    case SRC_KIND: {
        cp_rng r;
        cp_rng_seed(&r, seed, cp_mix64(TAG_MASK, sample_index));
        CP_DATA_TRY(cp_mask_generate(src->kind, src->S, &r, out));
        /* The kinds are drawn never to be degenerate; a bug must not train
         * silently on nothing. */
        if (check_not_degenerate(out, src->S, cp_mask_kind_name(src->kind)) == CP_OK) return CP_OK;
        char why[512]; /* cp_set_error must not read its own buffer */
        snprintf(why, sizeof why, "%s", cp_last_error());
        return cp_set_error(CP_ERR_INTERNAL, "generated mask %llu is degenerate: %s",
                            (unsigned long long)sample_index, why);
    }
    case SRC_FILE:
        memcpy(out, src->fixed, n * sizeof *out);
        return CP_OK;
    case SRC_FOLDER: {
        const char *rel = image_relpath ? match(src, image_relpath) : NULL;
        if (!rel) return no_match(src, image_relpath);
        char *path = cp_path_join(src->dir, rel);
        if (!path) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        cp_status st = load_mask(path, src->S, out);
        free(path);
        return st;
    }
    }
    return cp_set_error(CP_ERR_INTERNAL, "bad mask source");
}

cp_status cp_mask_source_check(const cp_mask_source *src, const cp_dataset *ds)
{
    if (src->type != SRC_FOLDER) return CP_OK;
    for (size_t i = 0; i < cp_dataset_count(ds); i++)
        if (!match(src, cp_dataset_relpath(ds, i))) return no_match(src, cp_dataset_relpath(ds, i));
    return CP_OK;
}
