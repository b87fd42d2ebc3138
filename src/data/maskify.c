/* Synthetic masked faces: one face (layer, blur, noise, composite, the
 * changed pixels as the mask) and a folder of them (`clinpaint maskify`). */
#include "clinpaint/maskify.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/files.h"
#include "clinpaint/image.h"
#include "data/data_internal.h"
#include "data/maskify_internal.h"

#define TAG_MASKIFY 0x6d61736b69667931ULL /* "maskify1" */

static const char *const kind_names[CP_MASKIFY_KIND_COUNT] = {"surgical", "n95", "cloth"};

const char *cp_maskify_kind_name(cp_maskify_kind kind)
{
    return (unsigned)kind < CP_MASKIFY_KIND_COUNT ? kind_names[kind] : "?";
}

bool cp_maskify_kind_parse(const char *name, cp_maskify_kind *out)
{
    for (int k = 0; k < CP_MASKIFY_KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (cp_maskify_kind)k;
            return true;
        }
    return false;
}

cp_status cp_maskify_kinds_parse(const char *list, unsigned *kinds)
{
    unsigned set = 0;
    const char *s = list;
    for (;;) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        char name[32];
        cp_maskify_kind k;
        if (n == 0 || n >= sizeof name)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT, "mask kinds '%s': empty or unknown entry (kinds: "
                                "surgical, n95, cloth)", list);
        memcpy(name, s, n);
        name[n] = '\0';
        if (!cp_maskify_kind_parse(name, &k))
            return cp_set_error(CP_ERR_INVALID_ARGUMENT, "unknown mask kind '%s' (kinds: surgical, n95, cloth)",
                                name);
        set |= 1u << k;
        if (!end) break;
        s = end + 1;
    }
    *kinds = set;
    return CP_OK;
}

cp_maskify_kind cp_maskify_pick_kind(unsigned kinds, uint64_t seed, uint64_t key)
{
    kinds &= CP_MASKIFY_ALL_KINDS;
    if (!kinds) kinds = CP_MASKIFY_ALL_KINDS;
    int n = 0, list[CP_MASKIFY_KIND_COUNT];
    for (int k = 0; k < CP_MASKIFY_KIND_COUNT; k++)
        if (kinds & (1u << k)) list[n++] = k;
    return (cp_maskify_kind)list[cp_mix64(cp_mix64(seed, TAG_MASKIFY), key) % (uint64_t)n];
}

/* The light on the lower face: left against right cheek, and the level. */
static cp_face_light measure_light(const uint8_t *face, int S)
{
    double left = 0, right = 0;
    int y0 = (int)(0.6 * S), y1 = (int)(0.9 * S), n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = (int)(0.2 * S); x < (int)(0.4 * S); x++, n++) {
            const uint8_t *p = face + ((size_t)y * S + x) * 3, *q = face + ((size_t)y * S + (S - 1 - x)) * 3;
            left += 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
            right += 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
        }
    left /= n > 0 ? n : 1;
    right /= n > 0 ? n : 1;
    cp_face_light l;
    l.side = (float)fmax(-1.0, fmin(1.0, 2.0 * (right - left) / (right + left + 1.0)));
    l.level = (float)fmax(0.72, fmin(1.08, 0.55 + 0.45 * (left + right) / 300.0));
    return l;
}

/* A 3×3 binomial blur of the layer (colour and alpha alike), mixed in with
 * `strength`; borders repeat the edge pixel. */
static void blur_layer(float *plane, int S, int channels, float strength, float *tmp)
{
    size_t n = (size_t)S * S * channels;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int c = 0; c < channels; c++) {
                float sum = 0;
                for (int j = -1; j <= 1; j++)
                    for (int i = -1; i <= 1; i++) {
                        int yy = y + j < 0 ? 0 : y + j >= S ? S - 1 : y + j;
                        int xx = x + i < 0 ? 0 : x + i >= S ? S - 1 : x + i;
                        float w = (float)((2 - abs(i)) * (2 - abs(j)));
                        sum += w * plane[((size_t)yy * S + xx) * channels + c];
                    }
                tmp[((size_t)y * S + x) * channels + c] = sum / 16.0f;
            }
    for (size_t i = 0; i < n; i++) plane[i] += strength * (tmp[i] - plane[i]);
}

cp_status cp_maskify_face(const uint8_t *face, int S, cp_maskify_kind kind, uint64_t seed, uint64_t key,
                          uint8_t *masked, uint8_t *mask)
{
    if (S < CP_MASKIFY_MIN_SIZE || S > CP_MASKIFY_MAX_SIZE)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "maskify: face size %d out of range (%d..%d)", S,
                            CP_MASKIFY_MIN_SIZE, CP_MASKIFY_MAX_SIZE);
    if ((unsigned)kind >= CP_MASKIFY_KIND_COUNT)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "maskify: unknown mask kind %d", (int)kind);
    size_t np = (size_t)S * S;
    float *colour = malloc(sizeof *colour * np * 3), *alpha = malloc(sizeof *alpha * np);
    float *tmp = malloc(sizeof *tmp * np * 3);
    if (!colour || !alpha || !tmp) {
        free(colour);
        free(alpha);
        free(tmp);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "maskify: out of host memory for a %dx%d face", S, S);
    }
    cp_rng r;
    cp_rng_seed(&r, seed, cp_mix64(TAG_MASKIFY, key));
    cp_maskify_draw_layer(kind, S, &r, measure_light(face, S), colour, alpha);
    float strength = 0.3f + 0.6f * cp_rng_uniform(&r);
    blur_layer(colour, S, 3, strength, tmp);
    blur_layer(alpha, S, 1, strength, tmp);
    float noise = 1.0f + 3.0f * cp_rng_uniform(&r); /* levels, where the layer is opaque */
    for (size_t i = 0; i < np; i++) {
        float a = alpha[i];
        /* the noise is drawn for every pixel, so the stream does not depend on the shape */
        float n = (cp_rng_uniform(&r) + cp_rng_uniform(&r) - 1.0f) * noise * 1.7f;
        int changed = 0;
        for (int c = 0; c < 3; c++) {
            float v = (float)face[i * 3 + c] * (1 - a) + colour[i * 3 + c] + a * n;
            int b = (int)floorf(v + 0.5f);
            b = b < 0 ? 0 : b > 255 ? 255 : b;
            masked[i * 3 + c] = (uint8_t)b;
            changed |= b != face[i * 3 + c];
        }
        mask[i] = changed ? 255 : 0;
    }
    free(colour);
    free(alpha);
    free(tmp);
    return CP_OK;
}

/* ---- a folder ---- */

cp_maskify_options cp_maskify_defaults(void)
{
    cp_maskify_options o;
    memset(&o, 0, sizeof o);
    o.size = 128;
    o.kinds = CP_MASKIFY_ALL_KINDS;
    o.split = CP_SPLIT_ALL;
    return o;
}

/* mkdir -p (`path` is a file: its folders). */
static cp_status make_parent_dirs(const char *path)
{
    char *p = strdup(path);
    if (!p) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    cp_status st = CP_OK;
    for (char *s = p + 1; *s && st == CP_OK; s++) {
        if (*s != '/') continue;
        *s = '\0';
        struct stat sb;
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            st = cp_set_error(CP_ERR_IO, "cannot create folder '%s': %s", p, strerror(errno));
        else if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
            st = cp_set_error(CP_ERR_IO, "'%s' exists and is not a folder", p);
        *s = '/';
    }
    free(p);
    return st;
}

/* The output name of image `rel` in round `round`: REL without its
 * extension, "_rR" for rounds after the first, ".png". */
static char *output_name(const char *rel, uint64_t round)
{
    const char *slash = strrchr(rel, '/'), *dot = strrchr(rel, '.');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - rel) : strlen(rel);
    size_t cap = stem + 32;
    char *name = malloc(cap);
    if (!name) return NULL;
    if (round == 0) snprintf(name, cap, "%.*s.png", (int)stem, rel);
    else snprintf(name, cap, "%.*s_r%llu.png", (int)stem, rel, (unsigned long long)round);
    return name;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct job {
    const char *out_dir;
    char **names;       /* per output */
    uint64_t count;
    cp_image face, masked, mask_rgb;
    uint8_t *mask;
} job;

static cp_status write_png(const char *out_dir, const char *folder, const char *name, const cp_image *img)
{
    size_t n = strlen(out_dir) + strlen(folder) + strlen(name) + 3;
    char *path = malloc(n);
    if (!path) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    snprintf(path, n, "%s/%s/%s", out_dir, folder, name);
    cp_status st = make_parent_dirs(path);
    if (st == CP_OK) st = cp_image_write_png(path, img);
    free(path);
    return st;
}

/* Appends one CSV field (quoted, quotes doubled, when it holds a comma,
 * quote or line break) and `end` to a growing text. */
static cp_status csv_field(char **text, size_t *len, size_t *cap, const char *field, char end)
{
    size_t need = 2 * strlen(field) + 4;
    if (*len + need >= *cap) {
        size_t ncap = (*cap + need) * 2;
        char *t = realloc(*text, ncap);
        if (!t) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        *text = t;
        *cap = ncap;
    }
    bool quote = strpbrk(field, ",\"\r\n") != NULL;
    char *o = *text + *len;
    if (quote) *o++ = '"';
    for (const char *f = field; *f; f++) {
        if (*f == '"') *o++ = '"';
        *o++ = *f;
    }
    if (quote) *o++ = '"';
    *o++ = end;
    *o = '\0';
    *len = (size_t)(o - *text);
    return CP_OK;
}

/* Appends "name,kind,source\n". */
static cp_status csv_append(char **text, size_t *len, size_t *cap, const char *name, const char *kind,
                            const char *source)
{
    CP_DATA_TRY(csv_field(text, len, cap, name, ','));
    CP_DATA_TRY(csv_field(text, len, cap, kind, ','));
    return csv_field(text, len, cap, source, '\n');
}

static cp_status check_options(const cp_maskify_options *o)
{
    if (o->size < CP_MASKIFY_MIN_SIZE || o->size > CP_MASKIFY_MAX_SIZE)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "maskify: size %d out of range (%d..%d)", o->size,
                            CP_MASKIFY_MIN_SIZE, CP_MASKIFY_MAX_SIZE);
    if (o->kinds & ~CP_MASKIFY_ALL_KINDS)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "maskify: unknown kinds in the set 0x%x", o->kinds);
    if (o->count > 100000000ULL)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "maskify: count %llu too large",
                            (unsigned long long)o->count);
    return CP_OK;
}

/* Every output name once: two images whose names differ only in their
 * extension would overwrite each other. */
static cp_status names_unique(char **names, uint64_t count, const char *data_dir)
{
    char **sorted = malloc(sizeof *sorted * (size_t)count);
    if (!sorted) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    memcpy(sorted, names, sizeof *sorted * (size_t)count);
    qsort(sorted, (size_t)count, sizeof *sorted, compare_names);
    cp_status st = CP_OK;
    for (uint64_t i = 1; i < count && st == CP_OK; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            st = cp_set_error(CP_ERR_INVALID_ARGUMENT,
                              "maskify: two images in '%s' would both be written as '%s' (same name, "
                              "different extensions); rename one",
                              data_dir, sorted[i]);
    free(sorted);
    return st;
}

static cp_status run(const cp_dataset *ds, const cp_maskify_options *o, job *j, cp_maskify_result *res,
                     char **csv, size_t *csv_len, size_t *csv_cap)
{
    size_t images = cp_dataset_count(ds);
    const int S = o->size;
    for (uint64_t i = 0; i < j->count; i++) {
        size_t item = (size_t)(i % images);
        if (cp_dataset_is_bad(ds, item)) {
            if (o->progress) o->progress(o->progress_user, i + 1, j->count);
            continue;
        }
        cp_status st = cp_dataset_load(ds, item, S, j->face.pixels);
        if (st == CP_ERR_FORMAT) { /* warned and counted by the data set */
            if (o->progress) o->progress(o->progress_user, i + 1, j->count);
            continue;
        }
        CP_DATA_TRY(st);
        const char *name = j->names[i];
        uint64_t key = cp_fnv1a64(name, strlen(name));
        cp_maskify_kind kind = cp_maskify_pick_kind(o->kinds, o->seed, key);
        CP_DATA_TRY(cp_maskify_face(j->face.pixels, S, kind, o->seed, key, j->masked.pixels, j->mask));
        for (size_t p = 0; p < (size_t)S * S; p++)
            memset(j->mask_rgb.pixels + p * 3, j->mask[p], 3);
        CP_DATA_TRY(write_png(j->out_dir, "masked", name, &j->masked));
        CP_DATA_TRY(write_png(j->out_dir, "mask", name, &j->mask_rgb));
        CP_DATA_TRY(write_png(j->out_dir, "original", name, &j->face));
        CP_DATA_TRY(csv_append(csv, csv_len, csv_cap, name, cp_maskify_kind_name(kind),
                               cp_dataset_relpath(ds, item)));
        res->written++;
        res->per_kind[kind]++;
        if (o->progress) o->progress(o->progress_user, i + 1, j->count);
    }
    if (res->written == 0)
        return cp_set_error(CP_ERR_FORMAT, "maskify: no image in '%s' could be decoded", cp_dataset_dir(ds));
    return CP_OK;
}

cp_status cp_maskify_folder(const char *data_dir, const char *out_dir, const cp_maskify_options *opt,
                            cp_maskify_result *result)
{
    cp_maskify_options o = opt ? *opt : cp_maskify_defaults();
    if (o.kinds == 0) o.kinds = CP_MASKIFY_ALL_KINDS;
    memset(result, 0, sizeof *result);
    CP_DATA_TRY(check_options(&o));
    cp_dataset *ds = NULL;
    CP_DATA_TRY(cp_dataset_open(data_dir, o.split, &ds));
    size_t images = cp_dataset_count(ds);
    job j;
    memset(&j, 0, sizeof j);
    j.out_dir = out_dir;
    j.count = o.count ? o.count : images;
    char *csv = NULL;
    size_t csv_len = 0, csv_cap = 0;
    cp_status st = CP_OK;
    j.names = calloc((size_t)j.count, sizeof *j.names);
    if (!j.names) st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (uint64_t i = 0; i < j.count && st == CP_OK; i++) {
        j.names[i] = output_name(cp_dataset_relpath(ds, (size_t)(i % images)), i / images);
        if (!j.names[i]) st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    if (st == CP_OK) st = names_unique(j.names, j.count, data_dir);
    j.mask = malloc((size_t)o.size * o.size);
    if (st == CP_OK && !j.mask) st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st == CP_OK) st = cp_image_alloc(o.size, o.size, &j.face);
    if (st == CP_OK) st = cp_image_alloc(o.size, o.size, &j.masked);
    if (st == CP_OK) st = cp_image_alloc(o.size, o.size, &j.mask_rgb);
    if (st == CP_OK) st = csv_append(&csv, &csv_len, &csv_cap, "file", "kind", "source");
    if (st == CP_OK) st = run(ds, &o, &j, result, &csv, &csv_len, &csv_cap);
    result->skipped = cp_dataset_skipped(ds);
    if (st == CP_OK) {
        size_t n = strlen(out_dir) + 16;
        char *path = malloc(n);
        if (!path) st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        else {
            snprintf(path, n, "%s/maskify.csv", out_dir);
            st = cp_write_file_atomic(path, csv, csv_len);
            free(path);
        }
    }
    for (uint64_t i = 0; j.names && i < j.count; i++) free(j.names[i]);
    free(j.names);
    free(j.mask);
    free(csv);
    cp_image_free(&j.face);
    cp_image_free(&j.masked);
    cp_image_free(&j.mask_rgb);
    cp_dataset_free(ds);
    return st;
}
