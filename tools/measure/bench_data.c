/* Data pipeline throughput: JPEG decode + centre crop + resize per core, and
 * the threaded loader end to end. Not a test (timings); built and run by
 * tools/bench_data.sh (a CMake target: build/bench_data).
 *
 * usage: bench_data FACES_DIR LARGE_DIR [N_LARGE]
 *   FACES_DIR  a folder of small JPEGs (e.g. 128×128 face crops), read only
 *   LARGE_DIR  scratch folder: N_LARGE ~1000 px JPEGs are made there from the
 *              faces (upscaled with stb_image_resize, light noise, quality 95)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <stb_image_resize.h>
#include <stb_image_write.h>

#include "clinpaint/dataset.h"
#include "clinpaint/image.h"
#include "clinpaint/rng.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what, cp_status st)
{
    fprintf(stderr, "bench_data: %s: %s: %s\n", what, cp_status_str(st), cp_last_error());
    exit(1);
}

/* Makes `n` W×H JPEGs from the first faces. */
static void make_large(const cp_dataset *faces, const char *dir, int n, int W, int H)
{
    mkdir(dir, 0777);
    uint8_t *big = malloc((size_t)W * H * 3);
    cp_rng r;
    cp_rng_seed(&r, 1, 1);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/large_%03d.jpg", dir, i);
        struct stat sb;
        if (stat(path, &sb) == 0) continue; /* made by an earlier run */
        char src[4096];
        snprintf(src, sizeof src, "%s/%s", cp_dataset_dir(faces),
                 cp_dataset_relpath(faces, (size_t)i % cp_dataset_count(faces)));
        cp_image img;
        cp_status st = cp_image_load(src, &img);
        if (st) die(src, st);
        stbir_resize_uint8(img.pixels, img.w, img.h, 0, big, W, H, 0, 3);
        for (size_t k = 0; k < (size_t)W * H * 3; k++) { /* some fine detail, as in photos */
            int v = big[k] + (int)(cp_rng_next(&r) % 9) - 4;
            big[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        if (!stbi_write_jpg(path, W, H, 3, big, 95)) {
            fprintf(stderr, "bench_data: cannot write %s\n", path);
            exit(1);
        }
        cp_image_free(&img);
    }
    free(big);
}

/* Single-thread decode + crop/resize of every image: images per second, and
 * the share of the time spent decoding. */
static void per_core(const char *label, const cp_dataset *ds, size_t n, int S, int reps)
{
    uint8_t *rgb = malloc((size_t)S * S * 3);
    double t_decode = 0, t_resize = 0;
    size_t done = 0;
    for (int rep = 0; rep < reps; rep++)
        for (size_t i = 0; i < n; i++, done++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", cp_dataset_dir(ds), cp_dataset_relpath(ds, i));
            double t0 = now();
            cp_image img;
            cp_status st = cp_image_load(path, &img);
            if (st) die(path, st);
            double t1 = now();
            st = cp_image_square_resize(&img, S, rgb);
            if (st) die("resize", st);
            t_resize += now() - t1;
            t_decode += t1 - t0;
            cp_image_free(&img);
        }
    double total = t_decode + t_resize;
    printf("%-28s S=%-4d %8.0f images/s per core  (%.3f ms/image: decode %.3f, crop+resize %.3f)\n",
           label, S, (double)done / total, 1e3 * total / (double)done, 1e3 * t_decode / (double)done,
           1e3 * t_resize / (double)done);
    free(rgb);
}

/* The loader end to end: batches of 8, training mode. Epoch 0 decodes;
 * with a cache, later epochs are served from memory. */
static void loader(const char *label, const cp_dataset *ds, int S, int threads, size_t cache, int epochs)
{
    cp_loader_options o = cp_loader_defaults();
    o.size = S;
    o.batch = 8;
    o.threads = threads;
    o.cache_bytes = cache;
    cp_loader *ld;
    cp_status st = cp_loader_create(ds, &o, &ld);
    if (st) die("loader", st);
    uint64_t bpe = cp_loader_batches_per_epoch(ld);
    for (int e = 0; e < epochs; e++) {
        double t0 = now();
        for (uint64_t b = 0; b < bpe; b++) {
            const cp_batch *batch;
            st = cp_loader_next(ld, &batch);
            if (st) die("loader next", st);
        }
        double dt = now() - t0;
        printf("%-28s S=%-4d threads=%d cache=%s epoch %d: %8.0f images/s\n", label, S, threads,
               cache ? "on " : "off", e, (double)(bpe * 8) / dt);
    }
    cp_loader_free(ld);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_data FACES_DIR LARGE_DIR [N_LARGE]\n");
        return 2;
    }
    int n_large = argc > 3 ? atoi(argv[3]) : 48;
    cp_dataset *faces, *large;
    cp_status st = cp_dataset_open(argv[1], CP_SPLIT_ALL, &faces);
    if (st) die(argv[1], st);
    make_large(faces, argv[2], n_large, 1000, 1200);
    st = cp_dataset_open(argv[2], CP_SPLIT_ALL, &large);
    if (st) die(argv[2], st);
    size_t n_small = cp_dataset_count(faces) < 2000 ? cp_dataset_count(faces) : 2000;
    printf("small: %zu JPEGs from %s; large: %zu JPEGs of 1000x1200 in %s\n", n_small, argv[1],
           cp_dataset_count(large), argv[2]);

    per_core("128x128 JPEG", faces, n_small, 64, 1);
    per_core("128x128 JPEG", faces, n_small, 128, 1);
    per_core("1000x1200 JPEG", large, cp_dataset_count(large), 64, 1);
    per_core("1000x1200 JPEG", large, cp_dataset_count(large), 128, 1);

    for (int t = 1; t <= 2; t++) {
        loader("loader, 128x128 JPEGs", faces, 64, t, 0, 1);
        loader("loader, 128x128 JPEGs", faces, 128, t, 0, 1);
        loader("loader, 1000x1200 JPEGs", large, 128, t, 0, 1);
    }
    loader("loader, 128x128 JPEGs", faces, 128, 2, (size_t)1 << 30, 2);
    cp_dataset_free(faces);
    cp_dataset_free(large);
    return 0;
}
