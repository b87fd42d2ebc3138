/* clinpaint bench's start-up probe: `clinpaint bench --startup-probe` run
 * in a child process, with empty caches and with filled ones. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_cli.h"
#include "cli_util.h"
#include "clinpaint/clinpaint.h"
#include "env_options.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The hidden child mode: prints one line of figures. */
int bench_startup_child(const char *sel, const char *preset, int batch)
{
    cp_bench_startup s;
    env_options e;
    env_options_read(sel, &e);
    cp_status st = cp_bench_startup_probe(&e.context, e.apply_tuning, preset, batch, &s);
    if (st != CP_OK) return cli_fail("bench", st);
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

cJSON *bench_startup_json(const char *sel, const char *preset, int batch, bool cold,
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
