/* clinpaint bench: device ceilings (SGEMM, copy bandwidth), layer types
 * against them, training and inference speed, memory, idle share and
 * start-up time, per device; a table on stdout, --json for a file, and
 * --compare for ratios against a saved file (docs/bench.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli_util.h"
#include "clinpaint/files.h"
#include "commands.h"
#include "env_options.h"
#include "clinpaint/bench.h"
#include "clinpaint/clinpaint.h"

#define CMD "bench"
#define FORMAT_VERSION 1
#define MAX_DEVICES 16

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint bench [--device all|P:D|NAME ...] [--preset P] [--batch B ...]\n"
            "                       [--json FILE] [--compare FILE] [--load FILE] [--quick]\n\n"
            "Measures each chosen device: CLBlast SGEMM GFLOP/s (512, 1024, 2048 cubed,\n"
            "through cp_gemm) and copy bandwidth; per layer type (conv3, conv2, up2, dense,\n"
            "element-wise) forward and backward time, GFLOP/s, share of the ceiling and\n"
            "whether compute or memory limits it; a full training iteration (images/s,\n"
            "ms) at each --batch; inference images/s at batch 1 and 64; device memory;\n"
            "the share of time the device idles between kernels; start-up time with\n"
            "empty and with warm kernel caches. Warm-up first, then repetitions\n"
            "calibrated to about a second per figure: median and spread.\n\n"
            "  --device SEL    all, P:D, or part of a device name (repeatable;\n"
            "                  default: CLINPAINT_DEVICE or the default device)\n"
            "  --preset P      tiny, small or base (default tiny)\n"
            "  --batch B       training batch (repeatable; default 8)\n"
            "  --json FILE     write every figure as JSON\n"
            "  --compare FILE  print each figure's ratio to a saved JSON (this / saved)\n"
            "  --load FILE     do not measure: show a saved JSON (with --compare: two\n"
            "                  saved runs side by side)\n"
            "  --quick         seconds, not minutes (CI): tiny preset, batch 2, small\n"
            "                  GEMMs, minimal repetitions, no cold start-up run\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "  %s\n", line);
}

/* ------------------------------------------------------ start-up probe */

/* The hidden child mode: prints one line of figures. */
static int startup_child(const char *sel, const char *preset, int batch)
{
    cp_bench_startup s;
    env_options e;
    env_options_read(sel, &e);
    cp_status st = cp_bench_startup_probe(&e.context, e.apply_tuning, preset, batch, &s);
    if (st != CP_OK) return cli_fail(CMD, st);
    printf("startup-probe %.6f %.6f %.6f %u %u %.6f\n", s.context_s, s.first_iter_s, s.total_s,
           s.programs.builds, s.programs.disk_hits, s.programs.build_seconds);
    return CLI_EXIT_OK;
}

typedef struct probe_result {
    bool ok;
    double process_s; /* fork to exit, seen by the parent */
    double context_s, first_iter_s, total_s, build_s;
    unsigned builds, disk_hits;
} probe_result;

/* Runs `clinpaint bench --startup-probe` in a child with the given cache
 * folders (NULL: the user's own caches). */
static probe_result run_probe(const char *sel, const char *preset, int batch, const char *cp_cache,
                              const char *pocl_cache)
{
    probe_result r;
    memset(&r, 0, sizeof r);
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return r;
    exe[len] = 0;
    int fd[2];
    if (pipe(fd) != 0) return r;
    char bstr[16];
    snprintf(bstr, sizeof bstr, "%d", batch);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return r;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        if (cp_cache) setenv("CLINPAINT_CACHE_DIR", cp_cache, 1);
        if (pocl_cache) setenv("POCL_CACHE_DIR", pocl_cache, 1);
        char *args[] = {exe, "bench", "--startup-probe", "--device", (char *)sel, "--preset",
                        (char *)preset, "--batch", bstr, NULL};
        execv(exe, args);
        _exit(127);
    }
    close(fd[1]);
    char buf[512];
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)n;
    buf[got] = 0;
    close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.process_s = now_s() - t0;
    const char *p = strstr(buf, "startup-probe ");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && p &&
        sscanf(p, "startup-probe %lf %lf %lf %u %u %lf", &r.context_s, &r.first_iter_s,
               &r.total_s, &r.builds, &r.disk_hits, &r.build_s) == 6)
        r.ok = true;
    return r;
}

static void rm_rf(const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) {
        int st;
        waitpid(pid, &st, 0);
    }
}

static cJSON *probe_json(const probe_result *p, const char *caches)
{
    if (!p->ok) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "caches", caches);
    cJSON_AddNumberToObject(o, "process_s", p->process_s);
    cJSON_AddNumberToObject(o, "context_s", p->context_s);
    cJSON_AddNumberToObject(o, "first_iteration_s", p->first_iter_s);
    cJSON_AddNumberToObject(o, "builds", p->builds);
    cJSON_AddNumberToObject(o, "disk_hits", p->disk_hits);
    cJSON_AddNumberToObject(o, "build_s", p->build_s);
    return o;
}

static cJSON *startup_json(const char *sel, const char *preset, int batch, bool cold,
                           const cp_program_stats *in_process)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "batch", batch);
    probe_result pc, pw;
    memset(&pc, 0, sizeof pc);
    if (cold) {
        const char *tmp = getenv("TMPDIR");
        char dir[1024], a[1100], b[1100];
        snprintf(dir, sizeof dir, "%s/clinpaint-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(dir)) {
            snprintf(a, sizeof a, "%s/clinpaint", dir);
            snprintf(b, sizeof b, "%s/pocl", dir);
            fprintf(stderr, "  start-up: cold (empty CLINPAINT_CACHE_DIR and POCL_CACHE_DIR)\n");
            pc = run_probe(sel, preset, batch, a, b);
            fprintf(stderr, "  start-up: again with those caches filled\n");
            pw = run_probe(sel, preset, batch, a, b);
            rm_rf(dir);
        } else {
            pw = run_probe(sel, preset, batch, NULL, NULL);
        }
    } else {
        fprintf(stderr, "  start-up: with the user's caches\n");
        pw = run_probe(sel, preset, batch, NULL, NULL);
    }
    cJSON_AddItemToObject(o, "cold", probe_json(&pc, "empty CLINPAINT_CACHE_DIR and POCL_CACHE_DIR"));
    cJSON_AddItemToObject(o, "cached", probe_json(&pw, cold ? "the cold run's caches"
                                                            : "the user's caches"));
    cJSON_AddNumberToObject(o, "bench_builds", in_process->builds);
    cJSON_AddNumberToObject(o, "bench_disk_hits", in_process->disk_hits);
    cJSON_AddNumberToObject(o, "bench_build_s", in_process->build_seconds);
    return o;
}

/* ------------------------------------------------------------- JSON out */

static cJSON *stat_json(const cp_bench_stat *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "median", s->median);
    cJSON_AddNumberToObject(o, "min", s->min);
    cJSON_AddNumberToObject(o, "q1", s->q1);
    cJSON_AddNumberToObject(o, "q3", s->q3);
    cJSON_AddNumberToObject(o, "max", s->max);
    cJSON_AddNumberToObject(o, "runs", s->runs);
    return o;
}

static cJSON *iteration_json(const cp_bench_iteration *it)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "batch", it->batch);
    cJSON_AddBoolToObject(o, "fits", it->fits);
    if (!it->fits) {
        cJSON_AddNullToObject(o, "images_per_s");
        cJSON_AddStringToObject(o, "note", it->note);
        return o;
    }
    cJSON_AddNumberToObject(o, "images_per_s", it->images_per_s);
    cJSON_AddItemToObject(o, "ms", stat_json(&it->ms));
    cJSON_AddNumberToObject(o, "idle_share", it->idle_share);
    cJSON_AddNumberToObject(o, "profiled_wall_ms", it->profiled_wall_ms);
    cJSON_AddNumberToObject(o, "profiled_busy_ms", it->profiled_busy_ms);
    cJSON_AddNumberToObject(o, "arena_bytes", (double)it->arena_bytes);
    cJSON_AddNumberToObject(o, "model_bytes", (double)it->model_bytes);
    cJSON_AddNumberToObject(o, "peak_bytes", (double)it->peak_bytes);
    return o;
}

static cJSON *device_json(const cp_bench_result *r, cJSON *startup)
{
    cJSON *d = cJSON_CreateObject();
    char sel[32];
    snprintf(sel, sizeof sel, "%d:%d", r->device.platform_index, r->device.device_index);
    cJSON_AddStringToObject(d, "id", sel);
    cJSON_AddStringToObject(d, "name", r->device.name);
    cJSON_AddStringToObject(d, "vendor", r->device.vendor);
    cJSON_AddStringToObject(d, "type", r->device.type_name);
    cJSON_AddStringToObject(d, "platform", r->device.platform_name);
    cJSON_AddStringToObject(d, "platform_version", r->device.platform_version);
    cJSON_AddStringToObject(d, "driver_version", r->device.driver_version);
    cJSON_AddNumberToObject(d, "compute_units", r->device.compute_units);
    cJSON_AddStringToObject(d, "preset", r->preset);
    cJSON_AddNumberToObject(d, "image_size", r->image_size);
    cJSON_AddStringToObject(d, "gemm_route", r->gemm_route);
    cJSON *g = cJSON_AddArrayToObject(d, "gemm");
    for (int i = 0; i < r->gemm_count; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n", r->gemm[i].n);
        cJSON_AddStringToObject(o, "route", r->gemm[i].route);
        cJSON_AddNumberToObject(o, "gflops", r->gemm[i].gflops);
        cJSON_AddItemToObject(o, "ms", stat_json(&r->gemm[i].ms));
        cJSON_AddItemToArray(g, o);
    }
    cJSON_AddNumberToObject(d, "gemm_ceiling_gflops", r->gemm_ceiling_gflops);
    cJSON *bw = cJSON_AddObjectToObject(d, "bandwidth");
    cJSON_AddNumberToObject(bw, "gbs", r->bandwidth_gbs);
    cJSON_AddNumberToObject(bw, "bytes", (double)r->bandwidth_bytes);
    cJSON_AddItemToObject(bw, "ms", stat_json(&r->bandwidth_ms));
    cJSON_AddNumberToObject(d, "ridge_flop_per_byte", r->ridge_flop_per_byte);
    cJSON_AddNumberToObject(d, "layers_batch", r->layers_batch);
    cJSON *ls = cJSON_AddArrayToObject(d, "layers");
    for (int i = 0; i < r->layer_count; i++) {
        const cp_bench_layer_type *t = &r->layers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddNumberToObject(o, "shapes", t->shapes);
        cJSON_AddNumberToObject(o, "uses", t->uses);
        cJSON_AddItemToObject(o, "fwd_ms", stat_json(&t->fwd_ms));
        cJSON_AddItemToObject(o, "bwd_ms", stat_json(&t->bwd_ms));
        cJSON_AddNumberToObject(o, "fwd_gflop", t->fwd_gflop);
        cJSON_AddNumberToObject(o, "bwd_gflop", t->bwd_gflop);
        cJSON_AddNumberToObject(o, "fwd_gflops", t->fwd_gflops);
        cJSON_AddNumberToObject(o, "bwd_gflops", t->bwd_gflops);
        cJSON_AddNumberToObject(o, "fwd_share", t->fwd_share);
        cJSON_AddNumberToObject(o, "bwd_share", t->bwd_share);
        cJSON_AddStringToObject(o, "share_of", i == 4 ? "bandwidth" : "sgemm");
        cJSON_AddNumberToObject(o, "bytes", t->bytes);
        cJSON_AddNumberToObject(o, "gbs", t->gbs);
        cJSON_AddNumberToObject(o, "intensity", t->intensity);
        cJSON_AddStringToObject(o, "limited_by", t->memory_bound ? "memory" : "compute");
        cJSON_AddItemToArray(ls, o);
    }
    if (r->iteration_count > 0) cJSON_AddItemToObject(d, "iteration", iteration_json(&r->iterations[0]));
    cJSON *its = cJSON_AddArrayToObject(d, "iterations");
    for (int i = 0; i < r->iteration_count; i++) cJSON_AddItemToArray(its, iteration_json(&r->iterations[i]));
    cJSON *inf = cJSON_AddArrayToObject(d, "inference");
    for (int i = 0; i < r->inference_count; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "batch", r->inference[i].batch);
        cJSON_AddBoolToObject(o, "fits", r->inference[i].fits);
        if (!r->inference[i].fits) {
            cJSON_AddNullToObject(o, "images_per_s");
            cJSON_AddStringToObject(o, "note", r->inference[i].note);
            cJSON_AddItemToArray(inf, o);
            continue;
        }
        cJSON_AddNumberToObject(o, "images_per_s", r->inference[i].images_per_s);
        cJSON_AddItemToObject(o, "ms", stat_json(&r->inference[i].ms));
        cJSON_AddNumberToObject(o, "arena_bytes", (double)r->inference[i].arena_bytes);
        cJSON_AddItemToArray(inf, o);
    }
    cJSON *mem = cJSON_AddObjectToObject(d, "memory");
    if (r->iteration_count > 0) {
        const cp_bench_iteration *it = &r->iterations[0];
        cJSON_AddNumberToObject(mem, "batch", it->batch);
        cJSON_AddNumberToObject(mem, "model_bytes", (double)it->model_bytes);
        cJSON_AddNumberToObject(mem, "arena_bytes", (double)it->arena_bytes);
        cJSON_AddNumberToObject(mem, "planned_bytes", (double)(it->model_bytes + it->arena_bytes));
        cJSON_AddNumberToObject(mem, "peak_bytes", (double)it->peak_bytes);
    }
    cJSON_AddItemToObject(d, "startup", startup);
    cJSON_AddNumberToObject(d, "bench_seconds", r->seconds);
    return d;
}

/* ------------------------------------------------------------- table out */

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key)
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

static void print_device(const cJSON *d)
{
    char sp[64], sp2[64];
    printf("device %s  %s (%s, %s)\n", str(d, "id"), str(d, "name"), str(d, "platform"),
           str(d, "driver_version"));
    printf("preset %s (%gx%g)\n\n", str(d, "preset"), num(d, "image_size"), num(d, "image_size"));
    printf("ceilings (GEMM: %s)\n", str(d, "gemm_route"));
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "gemm"))
    {
        spread(e, "ms", sp, sizeof sp);
        printf("  sgemm %4.0f^3    %9.1f GFLOP/s   %9.3f ms  (%s, %g runs)  %s\n", num(e, "n"),
               num(e, "gflops"), med(e, "ms"), sp,
               num(cJSON_GetObjectItemCaseSensitive(e, "ms"), "runs"),
               cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "route")) ? str(e, "route")
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
        bool ew = strcmp(str(e, "share_of"), "bandwidth") == 0;
        if (ew)
            printf("  %-11s %4.0f %10.3f %-15s %8s %5.0f%% %10.3f %-15s %8s %5.0f%% %6s  memory "
                   "(%.1f GB/s, share of copy GB/s)\n",
                   str(e, "name"), num(e, "uses"), med(e, "fwd_ms"), sp, "-",
                   100 * num(e, "fwd_share"), med(e, "bwd_ms"), sp2, "-",
                   100 * num(e, "bwd_share"), "<1", num(e, "gbs"));
        else
            printf("  %-11s %4.0f %10.3f %-15s %8.1f %5.0f%% %10.3f %-15s %8.1f %5.0f%% %6.1f  %s\n",
                   str(e, "name"), num(e, "uses"), med(e, "fwd_ms"), sp, num(e, "fwd_gflops"),
                   100 * num(e, "fwd_share"), med(e, "bwd_ms"), sp2, num(e, "bwd_gflops"),
                   100 * num(e, "bwd_share"), num(e, "intensity"), str(e, "limited_by"));
    }
    printf("\ntraining iteration (G forward, D step, G step; upload + run + read scalars)\n");
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "iterations"))
    {
        if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "images_per_s"))) {
            printf("  batch %4.0f   does not fit: %s\n", num(e, "batch"), str(e, "note"));
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
            printf("  batch %4.0f   does not fit: %s\n", num(e, "batch"), str(e, "note"));
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

/* ------------------------------------------------------------- compare */

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

static void print_compare(const cJSON *cur, const cJSON *saved, const char *saved_path)
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
        printf("compare device %d: %s (this) vs %s (%s)\n", i, x ? str(x, "name") : "-",
               y ? str(y, "name") : "-", saved_path);
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

static cJSON *load_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "clinpaint bench: error: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *g = realloc(buf, cap * 2);
            if (!g) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = g;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "devices"))) {
        fprintf(stderr, "clinpaint bench: error: %s is not a clinpaint bench JSON file\n", path);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* ---------------------------------------------------------------- main */

int cmd_bench(int argc, char **argv)
{
    const char *devsel[MAX_DEVICES];
    int ndev = 0;
    int batches[CP_BENCH_MAX_BATCHES], nb = 0;
    const char *preset = NULL, *json_path = NULL, *compare_path = NULL, *load_path = NULL;
    bool quick = false, probe = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--quick") == 0) {
            quick = true;
        } else if (strcmp(a, "--startup-probe") == 0) { /* hidden: the child */
            probe = true;
        } else if (strcmp(a, "--device") == 0 || strcmp(a, "--preset") == 0 ||
                   strcmp(a, "--batch") == 0 || strcmp(a, "--json") == 0 ||
                   strcmp(a, "--compare") == 0 || strcmp(a, "--load") == 0) {
            if (!has) return cli_usage_error(CMD, "%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--device") == 0) {
                if (ndev == MAX_DEVICES) return cli_usage_error(CMD, "at most %d --device", MAX_DEVICES);
                devsel[ndev++] = v;
            } else if (strcmp(a, "--preset") == 0) {
                if (strcmp(v, "tiny") && strcmp(v, "small") && strcmp(v, "base"))
                    return cli_usage_error(CMD, "unknown preset '%s' (tiny, small or base)", v);
                preset = v;
            } else if (strcmp(a, "--batch") == 0) {
                long b;
                if (!cli_parse_int(v, 1, 4096, &b))
                    return cli_usage_error(CMD, "--batch: '%s' is not a number in 1..4096", v);
                if (nb == CP_BENCH_MAX_BATCHES)
                    return cli_usage_error(CMD, "at most %d --batch", CP_BENCH_MAX_BATCHES);
                batches[nb++] = (int)b;
            } else if (strcmp(a, "--json") == 0) {
                json_path = v;
            } else if (strcmp(a, "--compare") == 0) {
                compare_path = v;
            } else {
                load_path = v;
            }
        } else {
            return cli_usage_error(CMD, "unknown option '%s'", a);
        }
    }
    if (!preset) preset = "tiny";
    if (nb == 0) batches[nb++] = quick ? 2 : 8;
    if (probe) return startup_child(ndev ? devsel[0] : NULL, preset, batches[0]);

    cJSON *saved = NULL;
    if (compare_path && !(saved = load_json(compare_path))) return CLI_EXIT_FAIL;
    if (load_path) {
        if (ndev || json_path || quick)
            fprintf(stderr, "clinpaint bench: note: --load shows a saved file; "
                            "--device, --json and --quick are ignored\n");
        cJSON *j = load_json(load_path);
        if (!j) {
            cJSON_Delete(saved);
            return CLI_EXIT_FAIL;
        }
        printf("clinpaint bench: %s (clinpaint %s)\n\n", load_path, str(j, "clinpaint_version"));
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(j, "devices")) print_device(d);
        if (saved) print_compare(j, saved, compare_path);
        cJSON_Delete(j);
        cJSON_Delete(saved);
        return CLI_EXIT_OK;
    }

    /* The devices, checked before anything runs. */
    cp_device_info *all = NULL;
    int nall = 0;
    char sels[MAX_DEVICES * 4][32];
    int nsel = 0;
    cp_status st = CP_OK;
    if (ndev == 0) {
        cp_device_info d;
        st = env_device_select(NULL, &d);
        if (st == CP_OK) snprintf(sels[nsel++], sizeof sels[0], "%d:%d", d.platform_index, d.device_index);
    }
    for (int i = 0; st == CP_OK && i < ndev; i++) {
        if (strcmp(devsel[i], "all") == 0) {
            if (!all) st = cp_device_list(&all, &nall);
            for (int k = 0; st == CP_OK && k < nall && nsel < MAX_DEVICES * 4; k++)
                snprintf(sels[nsel++], sizeof sels[0], "%d:%d", all[k].platform_index,
                         all[k].device_index);
        } else {
            cp_device_info d;
            st = env_device_select(devsel[i], &d);
            if (st == CP_OK && nsel < MAX_DEVICES * 4)
                snprintf(sels[nsel++], sizeof sels[0], "%d:%d", d.platform_index, d.device_index);
        }
    }
    free(all);
    if (st != CP_OK) {
        cJSON_Delete(saved);
        return cli_fail(CMD, st);
    }

    char platform[256], clblast[64];
    cp_runtime_versions(platform, sizeof platform, clblast, sizeof clblast);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "format_version", FORMAT_VERSION);
    cJSON_AddStringToObject(root, "clinpaint_version", CLINPAINT_VERSION);
    cJSON_AddStringToObject(root, "library_version", cp_version());
    cJSON_AddStringToObject(root, "platform", platform);
    cJSON_AddStringToObject(root, "clblast_version", clblast);
    cJSON_AddBoolToObject(root, "quick", quick);
    {
        time_t t = time(NULL);
        char ts[64];
        struct tm tmv;
        gmtime_r(&t, &tmv);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tmv);
        cJSON_AddStringToObject(root, "date", ts);
        double load[1] = {0};
        FILE *lf = fopen("/proc/loadavg", "r");
        if (lf) {
            if (fscanf(lf, "%lf", &load[0]) != 1) load[0] = -1;
            fclose(lf);
            cJSON_AddNumberToObject(root, "load_average_1min", load[0]);
        }
    }
    cJSON *devs = cJSON_AddArrayToObject(root, "devices");
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < nsel && rc == CLI_EXIT_OK; i++) {
        /* The start-up probe first: a child process, this process holds no
         * context yet. */
        cp_context *ctx = NULL;
        cli_warn_cache_dir("bench");
        st = env_context_create(sels[i], &ctx);
        if (st != CP_OK) {
            rc = cli_fail(CMD, st);
            break;
        }
        cp_bench_config c = cp_bench_defaults();
        c.preset = preset;
        memcpy(c.batches, batches, sizeof batches);
        c.batch_count = nb;
        c.progress = progress;
        if (quick) {
            c.seconds_per_figure = 0.02;
            c.min_runs = 2;
            c.gemm_sizes[0] = 128;
            c.gemm_sizes[1] = 256;
            c.gemm_sizes[2] = 512;
            c.bandwidth_bytes = 8u << 20;
            c.infer_batches[0] = 1;
            c.infer_batches[1] = 8;
        }
        fprintf(stderr, "clinpaint bench: %s (%s), preset %s\n", cp_context_device(ctx)->name,
                sels[i], preset);
        cp_bench_result r;
        st = cp_bench_run(ctx, &c, &r);
        cp_context_free(ctx);
        if (st != CP_OK) {
            rc = cli_fail(CMD, st);
            break;
        }
        cJSON *su = startup_json(sels[i], preset, batches[0], !quick, &r.programs);
        cJSON *d = device_json(&r, su);
        cJSON_AddItemToArray(devs, d);
        print_device(d);
    }
    if (rc == CLI_EXIT_OK && json_path) {
        char *text = cJSON_Print(root);
        size_t len = text ? strlen(text) : 0;
        char *with_nl = text ? realloc(text, len + 2) : NULL;
        if (with_nl) {
            memcpy(with_nl + len, "\n", 2);
            text = with_nl;
        }
        st = with_nl ? cp_write_file_atomic(json_path, text, len + 1)
                     : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", json_path);
        if (st != CP_OK) rc = cli_fail("bench", st); /* the message names the file */
        free(text);
        if (rc == CLI_EXIT_OK) fprintf(stderr, "clinpaint bench: wrote %s\n", json_path);
    }
    if (rc == CLI_EXIT_OK && saved) print_compare(root, saved, compare_path);
    cJSON_Delete(root);
    cJSON_Delete(saved);
    return rc;
}
