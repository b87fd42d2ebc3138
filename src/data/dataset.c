/* Image folders: listing, the FNV-1a train/test split, bad-file handling. */
#include "clinpaint/dataset.h"
#include "util/hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinpaint/image.h"
#include "data/data_internal.h"
#include "data/dataset_internal.h"
#include "data/decode_internal.h"

struct cp_dataset {
    char *dir;
    cp_split split;
    char **rel;
    size_t count;
    atomic_uchar *bad;    /* per image: 1 once a decode failed */
    atomic_size_t skipped;
    size_t skipped_folders; /* unreadable subfolders, at open */
};

cp_split cp_split_of(const char *relpath)
{
    return cp_fnv1a64(relpath, strlen(relpath)) % 10 == 0 ? CP_SPLIT_TEST : CP_SPLIT_TRAIN;
}

const char *cp_split_name(cp_split split)
{
    switch (split) {
    case CP_SPLIT_ALL: return "all";
    case CP_SPLIT_TRAIN: return "train";
    case CP_SPLIT_TEST: return "test";
    }
    return "?";
}

int cp_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 2 ? 2 : 1;
}

/* Cheap check at open: a regular, non-empty file whose header (read by
 * the decoder its content calls for) is of an acceptable size. */
static bool probe(const char *path, char *why, size_t why_size)
{
    int w, h;
    return cp_image_probe_file(path, &w, &h, why, why_size);
}

static cp_status no_images(const cp_dataset *ds, size_t listed, size_t in_split)
{
    if (listed == 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "data folder '%s' holds no image files (.jpg .jpeg .png .bmp .tga .gif)",
                            ds->dir);
    if (in_split == 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "data folder '%s': none of its %zu images is in the %s split "
                            "(the test split holds the images whose path hash %% 10 == 0, about 1 in 10)",
                            ds->dir, listed, cp_split_name(ds->split));
    return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                        "data folder '%s': none of its %zu image files in the %s split could be "
                        "read (all %zu skipped)",
                        ds->dir, in_split, cp_split_name(ds->split), in_split);
}

/* Warns about the entries the scan left out that concern this split, once
 * per data set: files by their own split; folders (their files' splits are
 * unknown) in the "all" and "test" data sets only, so that a trainer opening
 * both splits, or eval opening one, reports each folder once. */
static void warn_scan_skips(cp_dataset *ds, const cp_file_list *list)
{
    for (size_t i = 0; i < list->skipped_count; i++) {
        const cp_skipped_entry *e = &list->skipped[i];
        bool mine = e->folder ? ds->split != CP_SPLIT_TRAIN
                              : ds->split == CP_SPLIT_ALL || cp_split_of(e->rel) == ds->split;
        if (!mine) continue;
        cp_warn_skipped(ds->dir, e);
        if (e->folder)
            ds->skipped_folders++;
        else
            atomic_fetch_add(&ds->skipped, 1);
    }
}

/* The count the README promises: one line per data set. */
static void warn_skipped_count(const cp_dataset *ds, const char *when)
{
    size_t files = atomic_load(&((cp_dataset *)ds)->skipped);
    if (files == 0 && ds->skipped_folders == 0) return;
    char folders[64] = "";
    if (ds->skipped_folders)
        snprintf(folders, sizeof folders, " and %zu unreadable folder%s", ds->skipped_folders,
                 ds->skipped_folders == 1 ? "" : "s");
    cp_warn("data folder '%s' (%s split): %zu file%s%s skipped%s", ds->dir,
            cp_split_name(ds->split), files, files == 1 ? "" : "s", folders, when);
}

cp_status cp_dataset_open(const char *dir, cp_split split, cp_dataset **out)
{
    *out = NULL;
    cp_file_list list;
    CP_DATA_TRY(cp_scan_images(dir, "data", &list));
    cp_dataset *ds = calloc(1, sizeof *ds);
    cp_status st = CP_OK;
    if (!ds || !(ds->dir = strdup(dir)) || !(ds->rel = calloc(list.count + 1, sizeof *ds->rel))) {
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory opening '%s'", dir);
        goto fail;
    }
    ds->split = split;
    atomic_init(&ds->skipped, 0);
    warn_scan_skips(ds, &list);
    size_t in_split = 0;
    for (size_t i = 0; i < list.count; i++) {
        if (split != CP_SPLIT_ALL && cp_split_of(list.rel[i]) != split) continue;
        in_split++;
        char *path = cp_path_join(dir, list.rel[i]);
        char why[512];
        if (!path) {
            st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory opening '%s'", dir);
            goto fail;
        }
        if (probe(path, why, sizeof why)) {
            ds->rel[ds->count++] = list.rel[i];
            list.rel[i] = NULL; /* moved */
        } else {
            cp_warn("skipping '%s': %s", path, why);
            atomic_fetch_add(&ds->skipped, 1);
        }
        free(path);
    }
    warn_skipped_count(ds, "");
    if (ds->count == 0) {
        st = no_images(ds, list.count, in_split);
        goto fail;
    }
    ds->bad = malloc(ds->count * sizeof *ds->bad);
    if (!ds->bad) {
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory opening '%s'", dir);
        goto fail;
    }
    for (size_t i = 0; i < ds->count; i++) atomic_init(&ds->bad[i], 0);
    cp_file_list_free(&list);
    *out = ds;
    return CP_OK;
fail:
    cp_file_list_free(&list);
    cp_dataset_free(ds);
    return st;
}

void cp_dataset_free(cp_dataset *ds)
{
    if (!ds) return;
    if (ds->rel)
        for (size_t i = 0; i < ds->count; i++) free(ds->rel[i]);
    free(ds->rel);
    free((void *)ds->bad);
    free(ds->dir);
    free(ds);
}

size_t cp_dataset_count(const cp_dataset *ds) { return ds->count; }
const char *cp_dataset_dir(const cp_dataset *ds) { return ds->dir; }
cp_split cp_dataset_split(const cp_dataset *ds) { return ds->split; }
const char *cp_dataset_relpath(const cp_dataset *ds, size_t i)
{
    return i < ds->count ? ds->rel[i] : NULL;
}
size_t cp_dataset_skipped(const cp_dataset *ds)
{
    return atomic_load(&((cp_dataset *)ds)->skipped);
}

bool cp_dataset_is_bad(const cp_dataset *ds, size_t i)
{
    return i < ds->count && atomic_load(&((cp_dataset *)ds)->bad[i]) != 0;
}

/* Marks image i bad; the first caller warns and counts it. */
static void mark_bad(const cp_dataset *ds, size_t i, const char *why)
{
    cp_dataset *m = (cp_dataset *)ds; /* the flags are atomics: logically const */
    if (atomic_exchange(&m->bad[i], 1) == 0) {
        cp_warn("skipping %s", why);
        atomic_fetch_add(&m->skipped, 1);
    }
}

cp_status cp_dataset_load(const cp_dataset *ds, size_t i, int S, uint8_t *rgb)
{
    if (i >= ds->count)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "image index %zu out of range (%zu images)", i,
                            ds->count);
    if (atomic_load(&((cp_dataset *)ds)->bad[i]))
        return cp_set_error(CP_ERR_FORMAT, "'%s/%s' was found bad earlier", ds->dir, ds->rel[i]);
    char *path = cp_path_join(ds->dir, ds->rel[i]);
    if (!path) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    cp_image img;
    cp_status st = cp_image_load(path, &img);
    free(path);
    if (st == CP_OK) {
        st = cp_image_square_resize(&img, S, rgb);
        cp_image_free(&img);
    } else if (st == CP_ERR_FORMAT || st == CP_ERR_IO) {
        mark_bad(ds, i, cp_last_error());
        st = CP_ERR_FORMAT;
    }
    return st;
}

/* ---- cp_dataset_verify: decode everything once, in parallel ---- */

typedef struct verify_job {
    const cp_dataset *ds;
    atomic_size_t next;
    atomic_int failed; /* a non-format error (out of memory) */
} verify_job;

static void *verify_worker(void *arg)
{
    verify_job *job = arg;
    const int S = 8; /* decoding is what is checked; a tiny resize is enough */
    uint8_t rgb[8 * 8 * 3];
    for (;;) {
        size_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->ds->count) break;
        cp_status st = cp_dataset_load(job->ds, i, S, rgb);
        if (st != CP_OK && st != CP_ERR_FORMAT) atomic_store(&job->failed, (int)st);
    }
    return NULL;
}

cp_status cp_dataset_verify(cp_dataset *ds, int threads)
{
    if (threads <= 0) threads = cp_default_threads();
    if (threads > 64) threads = 64;
    verify_job job = {.ds = ds};
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, 0);
    pthread_t tid[64];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tid[started], NULL, verify_worker, &job) != 0) break;
        started++;
    }
    verify_worker(&job);
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    if (atomic_load(&job.failed))
        return cp_set_error((cp_status)atomic_load(&job.failed),
                            "verifying '%s': out of host memory", ds->dir);
    size_t kept = 0;
    for (size_t i = 0; i < ds->count; i++) {
        if (atomic_load(&ds->bad[i])) {
            free(ds->rel[i]);
            continue;
        }
        ds->rel[kept] = ds->rel[i];
        atomic_store(&ds->bad[kept], 0);
        kept++;
    }
    size_t before = ds->count;
    ds->count = kept;
    if (kept < before) warn_skipped_count(ds, " in all, after decoding every image");
    if (kept == 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "data folder '%s': none of its %zu images in the %s split could be decoded",
                            ds->dir, before, cp_split_name(ds->split));
    return CP_OK;
}
