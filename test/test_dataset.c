/* Data sets and the loader: listing, the FNV-1a split, bad files, folder
 * errors, shuffling, flips, drop-last, determinism and resuming. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clinpaint/dataset.h"
#include "clinpaint/image.h"
#include "clinpaint/mask.h"
#include "clinpaint/warning.h"
#include "util/test_util.h"

#define S 8

static char *dir;

static void setup(void) { dir = tu_tempdir(); }
static void teardown(void)
{
    tu_rmdir(dir);
    free(dir);
    dir = NULL;
}

static const char *path_in(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, rel);
    return buf;
}

static void mkdirs(const char *rel)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    for (char *s = p + strlen(dir) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0777);
            *s = '/';
        }
    mkdir(p, 0777);
}

static void write_bytes(const char *rel, const void *data, size_t n)
{
    FILE *f = fopen(path_in(rel), "wb");
    ck_assert_ptr_nonnull(f);
    if (n) ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* An S×S PNG for image k: left half red = 10 + 8k, green 0; right half white.
 * The left half tells the image and whether it was mirrored. */
static void write_sample(const char *rel, int k)
{
    cp_image img;
    TU_OK(cp_image_alloc(S, S, &img));
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            uint8_t *p = img.pixels + ((size_t)y * S + x) * 3;
            if (x < S / 2) {
                p[0] = (uint8_t)(10 + 8 * k);
            } else {
                p[0] = p[1] = p[2] = 255;
            }
        }
    TU_OK(cp_image_write_png(path_in(rel), &img));
    cp_image_free(&img);
}

static void write_samples(int first, int count)
{
    char name[64];
    for (int k = first; k < first + count; k++) {
        snprintf(name, sizeof name, "img_%02d.png", k);
        write_sample(name, k);
    }
}

/* Reads back which image a batch sample shows and whether it is mirrored. */
static int sample_id(const float *chw, int *flipped)
{
    const float *red = chw, *green = chw + S * S;
    *flipped = green[0] > 0.5f; /* white on the left */
    float r = *flipped ? red[S - 1] : red[0];
    int v = (int)((r + 1.0f) * 127.5f + 0.5f);
    return (v - 10) / 8;
}

/* Writes a truncated PNG (the first half of a real one). */
static void write_truncated(const char *rel)
{
    cp_image img;
    TU_OK(cp_image_alloc(64, 64, &img));
    for (size_t i = 0; i < 64 * 64 * 3; i++) img.pixels[i] = (uint8_t)(i * 7);
    TU_OK(cp_image_write_png(path_in("tmp_full.png"), &img));
    cp_image_free(&img);
    FILE *f = fopen(path_in("tmp_full.png"), "rb");
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    remove(path_in("tmp_full.png"));
    write_bytes(rel, buf, n / 2);
}

/* ---- capturing stderr to count warnings ---- */

static int saved_fd = -1;
/* Warnings reach the handler, one call each; stderr stays silent (the
 * library never prints). */
static char warnings[1 << 16];
static size_t warnings_len;

static void collect_warning(void *user, const char *text)
{
    (void)user;
    int n = snprintf(warnings + warnings_len, sizeof warnings - warnings_len, "warning: %s\n", text);
    if (n > 0) warnings_len += (size_t)n < sizeof warnings - warnings_len ? (size_t)n : 0;
}

static void capture_begin(void)
{
    fflush(stderr);
    saved_fd = dup(2);
    int fd = open(path_in("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    close(fd);
    warnings_len = 0;
    warnings[0] = '\0';
    cp_set_warning_handler(collect_warning, NULL);
}

static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    cp_set_warning_handler(NULL, NULL);
    FILE *f = fopen(path_in("stderr.txt"), "rb");
    char text[256];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    remove(path_in("stderr.txt"));
    ck_assert_msg(n == 0, "the library printed to stderr: %s", text);
    return warnings;
}

static int occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* ---- hashing and the split ---- */

START_TEST(fnv1a64_known_values)
{
    ck_assert_uint_eq(cp_fnv1a64("a", 1), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(cp_fnv1a64("", 0), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(cp_fnv1a64("foobar", 6), 0x85944171f73967e8ULL);
    const char *names[] = {"a", "img_00.png", "x/y/z.jpg", "caf\xc3\xa9.png"};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(cp_split_of(names[i]),
                         cp_fnv1a64(names[i], strlen(names[i])) % 10 == 0 ? CP_SPLIT_TEST : CP_SPLIT_TRAIN);
}
END_TEST

START_TEST(lists_recursively_sorted_by_relative_path)
{
    mkdirs("A/.x");
    mkdirs("z/y");
    write_sample("b.png", 0);
    write_sample("A/c.JPG.png", 1);
    write_sample("A/d.PNG", 2);
    write_sample("z/y/e.png", 3);
    write_sample(".hidden.png", 4);
    write_sample("A/.x/f.png", 5);
    write_bytes("notes.txt", "hi", 2);
    cp_dataset *ds;
    TU_OK(cp_dataset_open(dir, CP_SPLIT_ALL, &ds));
    ck_assert_uint_eq(cp_dataset_count(ds), 4);
    ck_assert_str_eq(cp_dataset_relpath(ds, 0), "A/c.JPG.png");
    ck_assert_str_eq(cp_dataset_relpath(ds, 1), "A/d.PNG");
    ck_assert_str_eq(cp_dataset_relpath(ds, 2), "b.png");
    ck_assert_str_eq(cp_dataset_relpath(ds, 3), "z/y/e.png");
    ck_assert_ptr_null(cp_dataset_relpath(ds, 4));
    ck_assert_uint_eq(cp_dataset_skipped(ds), 0);
    uint8_t rgb[S * S * 3];
    TU_OK(cp_dataset_load(ds, 3, S, rgb));
    ck_assert_int_eq(rgb[0], 10 + 8 * 3);
    cp_dataset_free(ds);
    /* a trailing slash changes nothing */
    char slash[4096];
    snprintf(slash, sizeof slash, "%s/", dir);
    TU_OK(cp_dataset_open(slash, CP_SPLIT_ALL, &ds));
    ck_assert_str_eq(cp_dataset_relpath(ds, 3), "z/y/e.png");
    cp_dataset_free(ds);
}
END_TEST

START_TEST(split_is_stable_when_files_are_added)
{
    write_samples(0, 30);
    cp_dataset *train, *test, *all;
    TU_OK(cp_dataset_open(dir, CP_SPLIT_TRAIN, &train));
    TU_OK(cp_dataset_open(dir, CP_SPLIT_TEST, &test));
    TU_OK(cp_dataset_open(dir, CP_SPLIT_ALL, &all));
    ck_assert_uint_eq(cp_dataset_count(train) + cp_dataset_count(test), 30);
    ck_assert_uint_ge(cp_dataset_count(test), 1);
    for (size_t i = 0; i < cp_dataset_count(test); i++)
        ck_assert_int_eq(cp_split_of(cp_dataset_relpath(test, i)), CP_SPLIT_TEST);
    char before[30][64];
    int before_test[30];
    for (int i = 0; i < 30; i++) {
        snprintf(before[i], sizeof before[i], "%s", cp_dataset_relpath(all, (size_t)i));
        before_test[i] = 0;
        for (size_t j = 0; j < cp_dataset_count(test); j++)
            if (strcmp(before[i], cp_dataset_relpath(test, j)) == 0) before_test[i] = 1;
    }
    cp_dataset_free(train);
    cp_dataset_free(test);
    cp_dataset_free(all);

    mkdirs("more");
    write_samples(30, 25);
    write_sample("more/extra.png", 0);
    TU_OK(cp_dataset_open(dir, CP_SPLIT_TEST, &test));
    TU_OK(cp_dataset_open(dir, CP_SPLIT_TRAIN, &train));
    ck_assert_uint_eq(cp_dataset_count(train) + cp_dataset_count(test), 56);
    for (int i = 0; i < 30; i++) {
        int now_test = 0;
        for (size_t j = 0; j < cp_dataset_count(test); j++)
            if (strcmp(before[i], cp_dataset_relpath(test, j)) == 0) now_test = 1;
        ck_assert_int_eq(now_test, before_test[i]);
    }
    cp_dataset_free(train);
    cp_dataset_free(test);
}
END_TEST

/* ---- bad files and folder errors ---- */

START_TEST(bad_files_are_skipped_with_one_warning_each)
{
    write_samples(0, 3);
    write_bytes("zero.jpg", "", 0);
    write_bytes("text.png", "this is not a png\n", 18);
    write_truncated("cut.png");
    capture_begin();
    cp_dataset *ds;
    cp_status st = cp_dataset_open(dir, CP_SPLIT_ALL, &ds);
    char *err = capture_end();
    TU_OK(st);
    /* the header check catches the empty and the text file at once */
    ck_assert_uint_eq(cp_dataset_count(ds), 4);
    ck_assert_uint_eq(cp_dataset_skipped(ds), 2);
    ck_assert_int_eq(occurrences(err, "zero.jpg"), 1);
    ck_assert_int_eq(occurrences(err, "text.png"), 1);
    ck_assert_int_eq(occurrences(err, "warning"), 3);
    ck_assert_int_eq(occurrences(err, "2 files skipped"), 1); /* the count, once */

    /* the truncated one shows when decoded: the loader replaces it with the
     * next good image in folder order and warns once, over several epochs */
    cp_loader_options o = cp_loader_defaults();
    o.size = S;
    o.batch = 2;
    o.train = false;
    cp_loader *ld;
    capture_begin();
    TU_OK(cp_loader_create(ds, &o, &ld));
    size_t cut = 0; /* "cut.png" sorts first */
    ck_assert_str_eq(cp_dataset_relpath(ds, cut), "cut.png");
    for (int b = 0; b < 6; b++) {
        const cp_batch *batch;
        TU_OK(cp_loader_next(ld, &batch));
        for (int k = 0; k < batch->n; k++) {
            ck_assert_str_ne(batch->relpaths[k], "cut.png");
            int flipped;
            ck_assert_int_eq(sample_id(batch->images + (size_t)k * 3 * S * S, &flipped),
                             (int)batch->items[k] - 1);
        }
        if (batch->index == 0) ck_assert_uint_eq(batch->items[0], 1); /* replaced by img_00 */
    }
    cp_loader_free(ld);
    err = capture_end();
    ck_assert_int_eq(occurrences(err, "cut.png"), 1);
    ck_assert_int_eq(occurrences(err, "1 more file skipped while decoding (3 in all)"), 1);
    ck_assert_uint_eq(cp_dataset_skipped(ds), 3);
    ck_assert(cp_dataset_is_bad(ds, cut));
    cp_dataset_free(ds);

    /* verify drops it up front instead */
    capture_begin();
    TU_OK(cp_dataset_open(dir, CP_SPLIT_ALL, &ds));
    st = cp_dataset_verify(ds, 2);
    err = capture_end();
    TU_OK(st);
    ck_assert_uint_eq(cp_dataset_count(ds), 3);
    ck_assert_uint_eq(cp_dataset_skipped(ds), 3);
    ck_assert_int_eq(occurrences(err, "cut.png"), 1);
    ck_assert_str_eq(cp_dataset_relpath(ds, 0), "img_00.png");
    cp_dataset_free(ds);
}
END_TEST

START_TEST(folder_errors_name_the_folder)
{
    cp_dataset *ds = (cp_dataset *)1;
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    ck_assert_int_eq(cp_dataset_open(missing, CP_SPLIT_ALL, &ds), CP_ERR_IO);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), missing));

    mkdirs("empty");
    snprintf(missing, sizeof missing, "%s/empty", dir);
    ck_assert_int_eq(cp_dataset_open(missing, CP_SPLIT_ALL, &ds), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), missing));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "no image"));

    mkdirs("texts");
    write_bytes("texts/a.txt", "x", 1);
    snprintf(missing, sizeof missing, "%s/texts", dir);
    ck_assert_int_eq(cp_dataset_open(missing, CP_SPLIT_ALL, &ds), CP_ERR_INVALID_ARGUMENT);

    snprintf(missing, sizeof missing, "%s/texts/a.txt", dir);
    ck_assert_int_eq(cp_dataset_open(missing, CP_SPLIT_ALL, &ds), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "not a folder"));

    mkdirs("bad");
    write_bytes("bad/a.png", "", 0);
    write_bytes("bad/b.jpg", "garbage", 7);
    snprintf(missing, sizeof missing, "%s/bad", dir);
    capture_begin();
    cp_status st = cp_dataset_open(missing, CP_SPLIT_ALL, &ds);
    capture_end();
    ck_assert_int_eq(st, CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), missing));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "could be read"));

    /* one image in the train split only: the test split is empty */
    mkdirs("one");
    const char *name = NULL;
    static char buf[64];
    for (int k = 0; !name; k++) {
        snprintf(buf, sizeof buf, "x%d.png", k);
        if (cp_split_of(buf) == CP_SPLIT_TRAIN) name = buf;
    }
    char rel[128];
    snprintf(rel, sizeof rel, "one/%s", name);
    write_sample(rel, 1);
    snprintf(missing, sizeof missing, "%s/one", dir);
    ck_assert_int_eq(cp_dataset_open(missing, CP_SPLIT_TEST, &ds), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "test split"));
    TU_OK(cp_dataset_open(missing, CP_SPLIT_TRAIN, &ds));
    /* fewer images than one training batch */
    cp_loader_options o = cp_loader_defaults();
    o.size = S;
    o.batch = 2;
    cp_loader *ld;
    ck_assert_int_eq(cp_loader_create(ds, &o, &ld), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "fewer than one batch"));
    o.train = false; /* evaluation takes a partial batch */
    TU_OK(cp_loader_create(ds, &o, &ld));
    const cp_batch *b;
    TU_OK(cp_loader_next(ld, &b));
    ck_assert_int_eq(b->n, 1);
    cp_loader_free(ld);
    cp_dataset_free(ds);
}
END_TEST

/* ---- the loader ---- */

typedef struct run {
    int nb;
    float *images;         /* nb × batch × 3×S×S */
    size_t items[64][16];
    uint64_t epoch[64], index[64];
} run;

static void record(cp_loader *ld, run *r, int nb, int batch)
{
    r->nb = nb;
    r->images = malloc(sizeof(float) * (size_t)nb * batch * 3 * S * S);
    for (int i = 0; i < nb; i++) {
        const cp_batch *b;
        TU_OK(cp_loader_next(ld, &b));
        ck_assert_int_eq(b->n, batch);
        memcpy(r->images + (size_t)i * batch * 3 * S * S, b->images, sizeof(float) * (size_t)batch * 3 * S * S);
        memcpy(r->items[i], b->items, sizeof(size_t) * (size_t)batch);
        r->epoch[i] = b->epoch;
        r->index[i] = b->index;
    }
}

static void same_run(const run *a, int a0, const run *b, int b0, int n, int batch)
{
    for (int i = 0; i < n; i++) {
        ck_assert_uint_eq(a->epoch[a0 + i], b->epoch[b0 + i]);
        ck_assert_uint_eq(a->index[a0 + i], b->index[b0 + i]);
        ck_assert_mem_eq(a->items[a0 + i], b->items[b0 + i], sizeof(size_t) * (size_t)batch);
        ck_assert_mem_eq(a->images + (size_t)(a0 + i) * batch * 3 * S * S,
                         b->images + (size_t)(b0 + i) * batch * 3 * S * S,
                         sizeof(float) * (size_t)batch * 3 * S * S);
    }
}

START_TEST(training_epochs_shuffle_flip_and_drop_last)
{
    write_samples(0, 10);
    cp_dataset *ds;
    TU_OK(cp_dataset_open(dir, CP_SPLIT_ALL, &ds));
    cp_loader_options o = cp_loader_defaults();
    o.size = S;
    o.batch = 3;
    o.seed = 5;
    cp_loader *ld;
    TU_OK(cp_loader_create(ds, &o, &ld));
    ck_assert_uint_eq(cp_loader_batches_per_epoch(ld), 3); /* 10/3, last partial dropped */
    size_t orders[4][9];
    int flips = 0, samples = 0;
    for (uint64_t e = 0; e < 4; e++) {
        int seen[10] = {0};
        for (uint64_t bi = 0; bi < 3; bi++) {
            ck_assert_uint_eq(cp_loader_epoch(ld), e);
            ck_assert_uint_eq(cp_loader_batch_index(ld), bi);
            const cp_batch *b;
            TU_OK(cp_loader_next(ld, &b));
            ck_assert_int_eq(b->n, 3);
            ck_assert_uint_eq(b->epoch, e);
            ck_assert_uint_eq(b->index, bi);
            ck_assert_ptr_null(b->masks);
            for (int k = 0; k < 3; k++) {
                size_t pos = bi * 3 + (size_t)k;
                int flipped;
                int id = sample_id(b->images + (size_t)k * 3 * S * S, &flipped);
                ck_assert_int_eq(id, (int)b->items[k]);
                ck_assert_int_eq(flipped, b->flipped[k]);
                ck_assert_uint_eq(b->items[k], cp_loader_order(ld, e, pos));
                ck_assert_uint_eq(b->sample_ids[k], e * 10 + pos);
                char want[32];
                snprintf(want, sizeof want, "img_%02d.png", id);
                ck_assert_str_eq(b->relpaths[k], want);
                seen[id]++;
                orders[e][pos] = b->items[k];
                flips += flipped;
                samples++;
            }
        }
        int distinct = 0;
        for (int i = 0; i < 10; i++) {
            ck_assert_int_le(seen[i], 1);
            distinct += seen[i];
        }
        ck_assert_int_eq(distinct, 9);
    }
    ck_assert(memcmp(orders[0], orders[1], sizeof orders[0]) != 0 ||
              memcmp(orders[0], orders[2], sizeof orders[0]) != 0);
    ck_assert_int_gt(flips, 0);
    ck_assert_int_lt(flips, samples);
    cp_loader_free(ld);

    /* flips are fair: over many epochs about half */
    o.batch = 5;
    TU_OK(cp_loader_create(ds, &o, &ld));
    flips = samples = 0;
    for (int i = 0; i < 80; i++) {
        const cp_batch *b;
        TU_OK(cp_loader_next(ld, &b));
        for (int k = 0; k < b->n; k++, samples++) flips += b->flipped[k];
    }
    ck_assert_int_gt(flips, samples * 35 / 100);
    ck_assert_int_lt(flips, samples * 65 / 100);
    cp_loader_free(ld);
    cp_dataset_free(ds);
}
END_TEST

START_TEST(deterministic_and_resumable)
{
    write_samples(0, 11);
    cp_dataset *ds;
    TU_OK(cp_dataset_open(dir, CP_SPLIT_ALL, &ds));
    cp_loader_options o = cp_loader_defaults();
    o.size = S;
    o.batch = 3;
    o.seed = 7;
    o.threads = 2;
    cp_loader *a, *b, *c;
    run ra, rb, rc, rd;
    TU_OK(cp_loader_create(ds, &o, &a));
    record(a, &ra, 12, 3); /* 4 epochs of 3 batches */

    /* other thread counts, no cache, deeper prefetch: the same batches */
    o.threads = 3;
    o.cache_bytes = 0;
    o.prefetch = 5;
    TU_OK(cp_loader_create(ds, &o, &b));
    record(b, &rb, 12, 3);
    same_run(&ra, 0, &rb, 0, 12, 3);

    /* a resumed run: a fresh loader seeking to (epoch 1, batch 1) */
    o.threads = 1;
    TU_OK(cp_loader_create(ds, &o, &c));
    TU_OK(cp_loader_seek(c, 1, 1));
    ck_assert_uint_eq(cp_loader_epoch(c), 1);
    ck_assert_uint_eq(cp_loader_batch_index(c), 1);
    record(c, &rc, 8, 3);
    same_run(&ra, 4, &rc, 0, 8, 3);

    /* seeking back on a loader in the middle of prefetching */
    TU_OK(cp_loader_seek(a, 0, 2));
    record(a, &rd, 4, 3);
    same_run(&ra, 2, &rd, 0, 4, 3);
    ck_assert_int_eq(cp_loader_seek(a, 0, 3), CP_ERR_INVALID_ARGUMENT);

    /* another seed: another order */
    free(rb.images);
    cp_loader_free(b);
    o.seed = 8;
    TU_OK(cp_loader_create(ds, &o, &b));
    record(b, &rb, 3, 3);
    ck_assert(memcmp(ra.items, rb.items, sizeof ra.items[0] * 3) != 0 ||
              memcmp(ra.images, rb.images, sizeof(float) * 9 * 3 * S * S) != 0);

    cp_loader_free(a);
    cp_loader_free(b);
    cp_loader_free(c);
    free(ra.images);
    free(rb.images);
    free(rc.images);
    free(rd.images);
    cp_dataset_free(ds);
}
END_TEST

START_TEST(evaluation_order_keeps_the_last_partial_batch)
{
    write_samples(0, 10);
    cp_dataset *ds;
    TU_OK(cp_dataset_open(dir, CP_SPLIT_ALL, &ds));
    cp_loader_options o = cp_loader_defaults();
    o.size = S;
    o.batch = 4;
    o.train = false;
    cp_loader *ld;
    TU_OK(cp_loader_create(ds, &o, &ld));
    ck_assert_uint_eq(cp_loader_batches_per_epoch(ld), 3);
    for (int e = 0; e < 2; e++) {
        size_t next = 0;
        for (int bi = 0; bi < 3; bi++) {
            const cp_batch *b;
            TU_OK(cp_loader_next(ld, &b));
            ck_assert_int_eq(b->n, bi < 2 ? 4 : 2);
            for (int k = 0; k < b->n; k++, next++) {
                int flipped;
                ck_assert_uint_eq(b->items[k], next);
                ck_assert_int_eq(sample_id(b->images + (size_t)k * 3 * S * S, &flipped), (int)next);
                ck_assert_int_eq(flipped, 0);
                ck_assert_int_eq(b->flipped[k], 0);
            }
        }
        ck_assert_uint_eq(next, 10);
    }
    cp_loader_free(ld);
    /* freeing while the threads are still decoding ahead */
    TU_OK(cp_loader_create(ds, &o, &ld));
    cp_loader_free(ld);
    cp_loader_free(NULL);
    cp_dataset_free(ds);
}
END_TEST

START_TEST(loader_masks_follow_the_source_and_flips)
{
    mkdirs("img");
    mkdirs("masks");
    char name[64];
    cp_image m;
    TU_OK(cp_image_alloc(S, S, &m));
    for (int y = 0; y < S; y++) /* a mask of the left quarter */
        for (int x = 0; x < S / 4; x++) memset(m.pixels + ((size_t)y * S + x) * 3, 255, 3);
    for (int k = 0; k < 6; k++) {
        snprintf(name, sizeof name, "img/img_%02d.png", k);
        write_sample(name, k);
        snprintf(name, sizeof name, "masks/img_%02d.png", k);
        TU_OK(cp_image_write_png(path_in(name), &m));
    }
    cp_image_free(&m);
    char img_dir[4096], mask_dir[4096];
    snprintf(img_dir, sizeof img_dir, "%s/img", dir);
    snprintf(mask_dir, sizeof mask_dir, "%s/masks", dir);
    cp_dataset *ds;
    TU_OK(cp_dataset_open(img_dir, CP_SPLIT_ALL, &ds));
    cp_mask_source *rect, *folder;
    TU_OK(cp_mask_source_create("rect", S, &rect));
    TU_OK(cp_mask_source_create(mask_dir, S, &folder));
    TU_OK(cp_mask_source_check(folder, ds));

    cp_loader_options o = cp_loader_defaults();
    o.size = S;
    o.batch = 2;
    o.seed = 3;
    o.masks = rect;
    o.mask_seed = 99;
    cp_loader *ld;
    TU_OK(cp_loader_create(ds, &o, &ld));
    float want[S * S];
    for (int i = 0; i < 6; i++) {
        const cp_batch *b;
        TU_OK(cp_loader_next(ld, &b));
        ck_assert_ptr_nonnull(b->masks);
        for (int k = 0; k < b->n; k++) {
            TU_OK(cp_mask_source_get(rect, b->relpaths[k], 99, b->sample_ids[k], want));
            ck_assert_mem_eq(b->masks + (size_t)k * S * S, want, sizeof want);
        }
    }
    cp_loader_free(ld);

    o.masks = folder;
    TU_OK(cp_loader_create(ds, &o, &ld));
    int flipped_seen = 0;
    for (int i = 0; i < 6; i++) {
        const cp_batch *b;
        TU_OK(cp_loader_next(ld, &b));
        for (int k = 0; k < b->n; k++) {
            const float *mk = b->masks + (size_t)k * S * S;
            /* the per-image mask is mirrored with its image */
            ck_assert_float_eq(mk[b->flipped[k] ? S - 1 : 0], 1.0f);
            ck_assert_float_eq(mk[b->flipped[k] ? 0 : S - 1], 0.0f);
            flipped_seen += b->flipped[k];
        }
    }
    ck_assert_int_gt(flipped_seen, 0);
    cp_loader_free(ld);
    cp_mask_source_free(rect);
    cp_mask_source_free(folder);
    cp_dataset_free(ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fnv1a64_known_values);
    tcase_add_test(tc, lists_recursively_sorted_by_relative_path);
    tcase_add_test(tc, split_is_stable_when_files_are_added);
    tcase_add_test(tc, bad_files_are_skipped_with_one_warning_each);
    tcase_add_test(tc, folder_errors_name_the_folder);
    tcase_add_test(tc, training_epochs_shuffle_flip_and_drop_last);
    tcase_add_test(tc, deterministic_and_resumable);
    tcase_add_test(tc, evaluation_order_keeps_the_last_partial_batch);
    tcase_add_test(tc, loader_masks_follow_the_source_and_flips);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
