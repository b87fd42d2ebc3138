/* clinpaint bench's report: the table of a device's figures, and the
 * ratios against a saved file (--compare). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bench_cli.h"
#include "cli_util.h"
#include "clinpaint/clinpaint.h"

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *bench_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

static double med(const cJSON *o, const char *key)
{
    return num(cJSON_GetObjectItemCaseSensitive(o, key), "median");
}

static void fmt_ms(double v, char *buf, size_t size)
{
    if (v >= 100)
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%.3g", v);
}

static void spread(const cJSON *o, const char *key, char *buf, size_t size)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    char a[32], b[32];
    fmt_ms(num(s, "min"), a, sizeof a);
    fmt_ms(num(s, "max"), b, sizeof b);
    snprintf(buf, size, "%s-%s", a, b);
}

void bench_print_device(const cJSON *d)
{
    char sp[64], sp2[64];
    printf("device %s  %s (%s, %s)\n", bench_str(d, "id"), bench_str(d, "name"), bench_str(d, "platform"),
           bench_str(d, "driver_version"));
    printf("preset %s (%gx%g)\n\n", bench_str(d, "preset"), num(d, "image_size"), num(d, "image_size"));
    printf("ceilings (GEMM: %s)\n", bench_str(d, "gemm_route"));
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "gemm"))
    {
        spread(e, "ms", sp, sizeof sp);
        printf("  sgemm %4.0f^3    %9.1f GFLOP/s   %9.3f ms  (%s, %g runs)  %s\n", num(e, "n"),
               num(e, "gflops"), med(e, "ms"), sp,
               num(cJSON_GetObjectItemCaseSensitive(e, "ms"), "runs"),
               cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "route")) ? bench_str(e, "route")
                                                                             : "");
    }
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(d, "bandwidth");
    spread(bw, "ms", sp, sizeof sp);
    printf("  copy %5.0f MiB   %9.1f GB/s      %9.3f ms  (%s)\n", num(bw, "bytes") / 2 / 1048576,
           num(bw, "gbs"), med(bw, "ms"), sp);
    printf("  ridge           %9.1f flop/byte\n\n", num(d, "ridge_flop_per_byte"));
    printf("layers at batch %g (one pass of G and D; element-wise: per training iteration at "
           "batch %g)\n",
           num(d, "layers_batch"), num(cJSON_GetObjectItemCaseSensitive(d, "iteration"), "batch"));
    printf("  %-11s %4s %10s %-15s %8s %6s %10s %-15s %8s %6s %6s  %s\n", "type", "uses", "fwd ms",
           "(min-max)", "GFLOP/s", "share", "bwd ms", "(min-max)", "GFLOP/s", "share", "f/B",
           "limited by");
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "layers"))
    {
        spread(e, "fwd_ms", sp, sizeof sp);
        spread(e, "bwd_ms", sp2, sizeof sp2);
        bool ew = strcmp(bench_str(e, "share_of"), "bandwidth") == 0;
        if (ew)
            printf("  %-11s %4.0f %10.3f %-15s %8s %5.0f%% %10.3f %-15s %8s %5.0f%% %6s  memory "
                   "(%.1f GB/s, share of copy GB/s)\n",
                   bench_str(e, "name"), num(e, "uses"), med(e, "fwd_ms"), sp, "-",
                   100 * num(e, "fwd_share"), med(e, "bwd_ms"), sp2, "-",
                   100 * num(e, "bwd_share"), "<1", num(e, "gbs"));
        else
            printf("  %-11s %4.0f %10.3f %-15s %8.1f %5.0f%% %10.3f %-15s %8.1f %5.0f%% %6.1f  %s\n",
                   bench_str(e, "name"), num(e, "uses"), med(e, "fwd_ms"), sp, num(e, "fwd_gflops"),
                   100 * num(e, "fwd_share"), med(e, "bwd_ms"), sp2, num(e, "bwd_gflops"),
                   100 * num(e, "bwd_share"), num(e, "intensity"), bench_str(e, "limited_by"));
    }
    printf("\ntraining iteration (G forward, D step, G step; upload + run + read scalars)\n");
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "iterations"))
    {
        if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "images_per_s"))) {
            printf("  batch %4.0f   does not fit: %s\n", num(e, "batch"), bench_str(e, "note"));
            continue;
        }
        spread(e, "ms", sp, sizeof sp);
        printf("  batch %4.0f   %9.1f images/s  %10.2f ms/iteration (%s, %g runs)  idle %4.1f%%\n",
               num(e, "batch"), num(e, "images_per_s"), med(e, "ms"), sp,
               num(cJSON_GetObjectItemCaseSensitive(e, "ms"), "runs"), 100 * num(e, "idle_share"));
    }
    printf("inference (G forward + download)\n");
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "inference"))
    {
        if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "images_per_s"))) {
            printf("  batch %4.0f   does not fit: %s\n", num(e, "batch"), bench_str(e, "note"));
            continue;
        }
        spread(e, "ms", sp, sizeof sp);
        printf("  batch %4.0f   %9.1f images/s  %10.2f ms/batch     (%s)\n", num(e, "batch"),
               num(e, "images_per_s"), med(e, "ms"), sp);
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, "memory");
    printf("memory (batch %g): model %.1f MiB + arena %.1f MiB = %.1f MiB planned; peak %.1f MiB\n",
           num(m, "batch"), num(m, "model_bytes") / 1048576, num(m, "arena_bytes") / 1048576,
           num(m, "planned_bytes") / 1048576, num(m, "peak_bytes") / 1048576);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(d, "startup");
    const cJSON *cold = cJSON_GetObjectItemCaseSensitive(s, "cold");
    const cJSON *warm = cJSON_GetObjectItemCaseSensitive(s, "cached");
    printf("start-up (new process, context + model + first iteration at batch %g)\n",
           num(s, "batch"));
    if (cJSON_IsObject(cold))
        printf("  cold     %8.2f s  (%g kernel builds, %.2f s in builds)\n", num(cold, "process_s"),
               num(cold, "builds"), num(cold, "build_s"));
    else
        printf("  cold            -\n");
    if (cJSON_IsObject(warm))
        printf("  cached   %8.2f s  (%g builds, %g from the disk cache, %.2f s)\n",
               num(warm, "process_s"), num(warm, "builds"), num(warm, "disk_hits"),
               num(warm, "build_s"));
    else
        printf("  cached          -\n");
    printf("  this run: %g kernel builds, %g disk-cache hits, %.2f s (excluded from timings)\n\n",
           num(s, "bench_builds"), num(s, "bench_disk_hits"), num(s, "bench_build_s"));
}

typedef struct figure {
    char key[160];
    double v;
} figure;

typedef struct figures {
    figure *v;
    int n, cap;
} figures;

static bool skip_key(const char *k)
{
    static const char *const skip[] = {"min", "max", "q1", "q3", "runs", "batch", "n",
                                       "image_size", "compute_units", "shapes", "uses",
                                       "fwd_gflop", "bwd_gflop", "bytes", "builds", "disk_hits",
                                       "bench_builds", "bench_disk_hits"};
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
        if (strcmp(k, skip[i]) == 0) return true;
    return false;
}

static void flatten(const cJSON *o, const char *prefix, figures *f)
{
    const cJSON *e;
    int idx = 0;
    cJSON_ArrayForEach(e, o)
    {
        char key[160];
        if (cJSON_IsArray(o)) {
            const cJSON *id;
            if ((id = cJSON_GetObjectItemCaseSensitive(e, "name")) && cJSON_IsString(id))
                snprintf(key, sizeof key, "%s[%s]", prefix, id->valuestring);
            else if ((id = cJSON_GetObjectItemCaseSensitive(e, "n")) && cJSON_IsNumber(id))
                snprintf(key, sizeof key, "%s[n=%d]", prefix, id->valueint);
            else if ((id = cJSON_GetObjectItemCaseSensitive(e, "batch")) && cJSON_IsNumber(id))
                snprintf(key, sizeof key, "%s[b=%d]", prefix, id->valueint);
            else
                snprintf(key, sizeof key, "%s[%d]", prefix, idx);
            idx++;
        } else {
            if (skip_key(e->string)) continue;
            if (strcmp(e->string, "iteration") == 0 || strcmp(e->string, "memory") == 0) {
                if (strcmp(e->string, "iteration") == 0) continue; /* in iterations[] */
            }
            snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", e->string);
            if (strcmp(e->string, "median") == 0) snprintf(key, sizeof key, "%s", prefix);
        }
        if (cJSON_IsNumber(e)) {
            if (f->n == f->cap) {
                int cap = f->cap ? 2 * f->cap : 128;
                figure *g = realloc(f->v, (size_t)cap * sizeof *g);
                if (!g) return;
                f->v = g;
                f->cap = cap;
            }
            snprintf(f->v[f->n].key, sizeof f->v[f->n].key, "%s", key);
            f->v[f->n++].v = e->valuedouble;
        } else if (cJSON_IsObject(e) || cJSON_IsArray(e)) {
            flatten(e, key, f);
        }
    }
}

void bench_print_compare(const cJSON *cur, const cJSON *saved, const char *saved_path)
{
    figures a = {0}, b = {0};
    const cJSON *da = cJSON_GetObjectItemCaseSensitive(cur, "devices");
    const cJSON *db = cJSON_GetObjectItemCaseSensitive(saved, "devices");
    int na = cJSON_GetArraySize(da), nb = cJSON_GetArraySize(db);
    int nmax = na > nb ? na : nb;
    for (int i = 0; i < nmax; i++) {
        const cJSON *x = cJSON_GetArrayItem(da, i), *y = cJSON_GetArrayItem(db, i);
        a.n = b.n = 0;
        if (x) flatten(x, "", &a);
        if (y) flatten(y, "", &b);
        printf("compare device %d: %s (this) vs %s (%s)\n", i, x ? bench_str(x, "name") : "-",
               y ? bench_str(y, "name") : "-", saved_path);
        printf("  %-44s %14s %14s %8s\n", "figure", "this", "saved", "ratio");
        for (int k = 0; k < a.n; k++) {
            int j = 0;
            while (j < b.n && strcmp(a.v[k].key, b.v[j].key) != 0) j++;
            if (j < b.n) {
                double r = b.v[j].v != 0 ? a.v[k].v / b.v[j].v : (a.v[k].v == 0 ? 1.0 : NAN);
                char rs[32];
                if (isfinite(r))
                    snprintf(rs, sizeof rs, "%.2f", r);
                else
                    snprintf(rs, sizeof rs, "-");
                printf("  %-44s %14.4g %14.4g %8s\n", a.v[k].key, a.v[k].v, b.v[j].v, rs);
            } else {
                printf("  %-44s %14.4g %14s %8s\n", a.v[k].key, a.v[k].v, "-", "-");
            }
        }
        for (int j = 0; j < b.n; j++) {
            int k = 0;
            while (k < a.n && strcmp(a.v[k].key, b.v[j].key) != 0) k++;
            if (k == a.n) printf("  %-44s %14s %14.4g %8s\n", b.v[j].key, "-", b.v[j].v, "-");
        }
        printf("\n");
    }
    free(a.v);
    free(b.v);
}
