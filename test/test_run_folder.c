/* `clinpaint train` and its run folder: a folder holding a run is refused
 * unless --resume or --overwrite, one process at a time (a lock), the logs
 * always one history with the checkpoint (resume cuts what came after it),
 * a --max-steps stop writes its figures, a full disk stops the run with a
 * message naming the file, and a second Ctrl-C ends the process at once. */
#define _XOPEN_SOURCE 700
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clinpaint/synth.h"
#include "clinpaint/checkpoint.h"
#include "util/cli_spawn.h"
#include "util/test_util.h"

static char *work, *data;

static void setup_once(void)
{
    if (work) return;
    work = tu_tempdir();
    data = malloc(strlen(work) + 8);
    ck_assert_ptr_nonnull(data);
    sprintf(data, "%s/faces", work);
    TU_OK(cp_synth_write_dataset(data, 40, 32, 5));
}

static char *at(const char *rel)
{
    setup_once();
    char *p = malloc(strlen(work) + strlen(rel) + 2);
    ck_assert_ptr_nonnull(p);
    sprintf(p, "%s/%s", work, rel);
    return p;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    ck_assert_ptr_nonnull(buf);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            buf = realloc(buf, 2 * cap + 1);
            ck_assert_ptr_nonnull(buf);
            cap *= 2;
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static char *file_in(const char *run, const char *rel)
{
    char *p = malloc(strlen(run) + strlen(rel) + 2);
    ck_assert_ptr_nonnull(p);
    sprintf(p, "%s/%s", run, rel);
    return p;
}

static bool exists_in(const char *run, const char *rel)
{
    char *p = file_in(run, rel);
    struct stat sb;
    bool ok = stat(p, &sb) == 0 && sb.st_size > 0;
    free(p);
    return ok;
}

static void append(const char *run, const char *rel, const char *text)
{
    char *p = file_in(run, rel);
    FILE *f = fopen(p, "ab");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
    free(p);
}

/* The steps (column `col`) of a CSV's rows; asserts every line is whole
 * (ends in a newline) and has `columns` fields. */
static int csv_steps(const char *run, const char *rel, int col, int columns, long *steps, int max)
{
    char *p = file_in(run, rel);
    char *text = read_text(p);
    ck_assert_msg(text != NULL, "%s missing", p);
    size_t len = strlen(text);
    ck_assert_msg(len > 0 && text[len - 1] == '\n', "%s: the last line is not whole", p);
    int n = 0;
    char *line = strchr(text, '\n') + 1; /* after the header */
    for (char *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        int fields = 1;
        for (const char *c = line; *c; c++) fields += *c == ',';
        ck_assert_msg(fields == columns, "%s: row '%s' has %d fields, want %d", p, line, fields, columns);
        const char *c = line;
        for (int k = 0; k < col; k++) c = strchr(c, ',') + 1;
        ck_assert_int_lt(n, max);
        steps[n++] = atol(c);
    }
    free(text);
    free(p);
    return n;
}

#define LOG_COLUMNS 9
#define METRICS_COLUMNS 10

/* train with the small test model; extra options after. */
static tu_cli_result train(const char *run, const char *const *extra)
{
    const char *argv[40] = {"train", "--data", data, "--out", run, "--size", "32",
                            "--widths", "4,8,8,8,8,8", "--latent", "16", "--batch", "4",
                            "--threads", "1", "--eval-images", "4"};
    int n = 17;
    for (int i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    return tu_cli_run_opts(argv, NULL);
}

static tu_cli_result resume(const char *run, const char *const *extra)
{
    char *ck = file_in(run, "ckpt/last.safetensors");
    const char *argv[20] = {"train", "--resume", ck, "--data", data, "--threads", "1",
                            "--eval-images", "4"};
    int n = 9;
    for (int i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    tu_cli_result r = tu_cli_run_opts(argv, NULL);
    free(ck);
    return r;
}

#define EXTRA(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect(tu_cli_result *r, int code, const char *in_err)
{
    ck_assert_msg(r->exit_code == code, "exit %d, want %d; stderr: %s", r->exit_code, code, r->err);
    if (in_err) ck_assert_msg(strstr(r->err, in_err), "stderr lacks '%s': %s", in_err, r->err);
    tu_cli_free(r);
}

START_TEST(existing_run_refused_overwrite_and_resume_work)
{
    char *run = at("run_exists");
    tu_cli_result r = train(run, EXTRA("--max-steps", "3"));
    expect(&r, 0, NULL);
    append(run, "notes.txt", "the user's own file\n");
    char *log = file_in(run, "log.csv");
    char *before = read_text(log);

    /* Again without --resume: refused, nothing touched. */
    r = train(run, EXTRA("--max-steps", "2"));
    expect(&r, 2, "already holds a run");
    char *after = read_text(log);
    ck_assert_str_eq(after, before);
    free(after);
    r = train(run, EXTRA("--overwrite", "--resume", "x"));
    expect(&r, 2, "give one of them");

    /* --overwrite: one fresh history; the user's file stays, the run's
     * leftovers (a grid of a later epoch, a torn temporary file) go. */
    append(run, "samples/epoch_009.png", "old grid");
    append(run, "config.json.tmp.AbC123", "{");
    r = train(run, EXTRA("--overwrite", "--max-steps", "2"));
    expect(&r, 0, NULL);
    ck_assert(!exists_in(run, "samples/epoch_009.png"));
    ck_assert(!exists_in(run, "config.json.tmp.AbC123"));
    long steps[64];
    ck_assert_int_eq(csv_steps(run, "log.csv", 0, LOG_COLUMNS, steps, 64), 2);
    ck_assert_int_eq(steps[0], 1);
    ck_assert_int_eq(steps[1], 2);
    int n = csv_steps(run, "metrics.csv", 1, METRICS_COLUMNS, steps, 64);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(steps[0], 2);
    ck_assert(exists_in(run, "notes.txt"));
    ck_assert(!exists_in(run, "samples/step_000003.png"));

    /* --resume continues the same history. */
    r = resume(run, EXTRA("--max-steps", "4"));
    expect(&r, 0, NULL);
    ck_assert_int_eq(csv_steps(run, "log.csv", 0, LOG_COLUMNS, steps, 64), 4);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(steps[i], i + 1);

    /* Resuming into a folder that holds another run would mix two runs. */
    char *other = at("run_exists_other");
    r = train(other, EXTRA("--max-steps", "1"));
    expect(&r, 0, NULL);
    r = resume(run, EXTRA("--out", other, "--max-steps", "5"));
    expect(&r, 2, "holds another run");
    free(other);
    free(before);
    free(log);
    free(run);
}
END_TEST

START_TEST(max_steps_stop_writes_final_grid_and_metrics)
{
    char *run = at("run_steps");
    tu_cli_result r = train(run, EXTRA("--max-steps", "3"));
    ck_assert_msg(strstr(r.out, "stopped at the step limit"), "stdout: %s", r.out);
    expect(&r, 0, NULL);
    ck_assert(exists_in(run, "samples/step_000003.png"));
    long steps[8];
    ck_assert_int_eq(csv_steps(run, "metrics.csv", 1, METRICS_COLUMNS, steps, 8), 1);
    ck_assert_int_eq(steps[0], 3);
    ck_assert(exists_in(run, "ckpt/best.safetensors"));
    free(run);
}
END_TEST

/* A resume without --epochs goes on to the epochs the run was started
 * with (the command printed on Ctrl-C has no --epochs); with it, to those. */
static char *ckpt_epochs(const char *run)
{
    char *ck = file_in(run, "ckpt/last.safetensors");
    cp_checkpoint *c;
    TU_OK(cp_checkpoint_open(ck, &c));
    const char *v = cp_checkpoint_meta(c, "epochs");
    char *out = strdup(v ? v : "(none)");
    cp_checkpoint_close(c);
    free(ck);
    return out;
}

START_TEST(resume_keeps_the_runs_epochs)
{
    char *run = at("run_epochs");
    tu_cli_result r = train(run, EXTRA("--epochs", "40", "--max-steps", "2"));
    expect(&r, 0, NULL);
    r = resume(run, EXTRA("--max-steps", "3"));
    expect(&r, 0, NULL);
    char *e = ckpt_epochs(run);
    ck_assert_str_eq(e, "40");
    free(e);
    r = resume(run, EXTRA("--epochs", "7", "--max-steps", "4"));
    expect(&r, 0, NULL);
    e = ckpt_epochs(run);
    ck_assert_str_eq(e, "7");
    free(e);
    free(run);
}
END_TEST

START_TEST(resume_after_torn_log_is_one_history)
{
    char *run = at("run_torn");
    tu_cli_result r = train(run, EXTRA("--max-steps", "4"));
    expect(&r, 0, NULL);
    /* As after a kill -9 between checkpoints: rows past the checkpoint's
     * step, a half-written last line, metrics of a later point. */
    append(run, "log.csv", "5,1,0.5,0.6,0.5,1.3,0.5,0.5,100\n6,1,0.5,0.6,0.5,1.3,0.5,0.5,100\n7,1,0.5,0.");
    append(run, "metrics.csv", "1,6,99.0,99.0,0.99,1.0,0.1,0.1,0.1,4\n1,7,99");
    r = resume(run, EXTRA("--max-steps", "6"));
    expect(&r, 0, NULL);
    long steps[64];
    int n = csv_steps(run, "log.csv", 0, LOG_COLUMNS, steps, 64);
    ck_assert_int_eq(n, 6);
    for (int i = 0; i < n; i++) ck_assert_int_eq(steps[i], i + 1);
    n = csv_steps(run, "metrics.csv", 1, METRICS_COLUMNS, steps, 64);
    ck_assert_int_eq(n, 2); /* step 4 (first stop), step 6 (this one) */
    ck_assert_int_eq(steps[0], 4);
    ck_assert_int_eq(steps[1], 6);
    char *m = file_in(run, "metrics.csv");
    char *text = read_text(m);
    ck_assert_msg(!strstr(text, "99.0"), "the rows after the checkpoint stayed: %s", text);
    free(text);
    free(m);
    free(run);
}
END_TEST

/* Waits until `rel` exists in run (the trainer holds its lock by then). */
static void wait_for(tu_cli_proc *p, const char *run, const char *rel)
{
    for (int i = 0; i < 3000 && !exists_in(run, rel); i++) {
        char *err = tu_cli_stderr_now(p);
        bool failed = strstr(err, "error") != NULL;
        free(err);
        ck_assert_msg(!failed, "the first trainer failed");
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    ck_assert_msg(exists_in(run, rel), "%s/%s never appeared", run, rel);
}

START_TEST(second_trainer_refused_while_first_runs)
{
    char *run = at("run_busy");
    const char *argv[] = {"train", "--data", data, "--out", run, "--size", "32", "--widths",
                          "4,8,8,8,8,8", "--latent", "16", "--batch", "4", "--threads", "1",
                          "--eval-images", "4", "--epochs", "100000", NULL};
    tu_cli_proc first = tu_cli_start(argv, NULL);
    wait_for(&first, run, "log.csv");
    tu_cli_result r = train(run, EXTRA("--overwrite", "--max-steps", "1"));
    expect(&r, 1, "is in use by another clinpaint process");
    ck_assert(exists_in(run, "config.json")); /* --overwrite deleted nothing */
    kill(first.pid, SIGINT);
    ck_assert(tu_cli_wait(&first, 120, &r));
    expect(&r, 130, "resume with");
    /* The lock went with the process. */
    r = train(run, EXTRA("--overwrite", "--max-steps", "1"));
    expect(&r, 0, NULL);
    free(run);
}
END_TEST

START_TEST(full_disk_stops_with_the_file_named)
{
    char *run = at("run_full");
    const char *argv[] = {"train", "--data", data, "--out", run, "--size", "32", "--widths",
                          "4,8,8,8,8,8", "--latent", "16", "--batch", "4", "--threads", "1",
                          "--eval-images", "4", "--max-steps", "2", NULL};
    /* Room for the logs and figures, not for a checkpoint (~300 KB). */
    tu_cli_opts o = {.max_file_bytes = 60000};
    tu_cli_result r = tu_cli_run_opts(argv, &o);
    ck_assert_msg(strstr(r.err, "last.safetensors"), "stderr: %s", r.err);
    expect(&r, 1, "training stopped at step 2");
    free(run);
}
END_TEST

START_TEST(second_ctrl_c_exits_at_once)
{
    /* Cold caches: the kernel builds alone take tens of seconds. */
    char *cache = at("cold_cache"), *pocl = at("cold_pocl");
    ck_assert_int_eq(mkdir(cache, 0700), 0);
    ck_assert_int_eq(mkdir(pocl, 0700), 0);
    char env1[1200], env2[1200];
    snprintf(env1, sizeof env1, "CLINPAINT_CACHE_DIR=%s", cache);
    snprintf(env2, sizeof env2, "POCL_CACHE_DIR=%s", pocl);
    const char *env[] = {env1, env2, NULL};
    tu_cli_opts o = {.env = env};
    char *run = at("run_sigint");
    const char *argv[] = {"train", "--data", data, "--out", run, "--preset", "tiny", "--batch",
                          "4", "--threads", "1", NULL};
    tu_cli_proc p = tu_cli_start(argv, &o);
    bool up = false;
    for (int i = 0; i < 2400 && !up; i++) { /* until the context is up, kernels building */
        char *err = tu_cli_stderr_now(&p);
        up = strstr(err, "training on") != NULL;
        free(err);
        if (!up) nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    if (!up) kill(p.pid, SIGKILL);
    ck_assert_msg(up, "the train never got to its kernel builds");
    nanosleep(&(struct timespec){0, 300000000}, NULL);
    kill(p.pid, SIGINT);
    nanosleep(&(struct timespec){0, 200000000}, NULL);
    double t0 = (double)time(NULL);
    kill(p.pid, SIGINT);
    tu_cli_result r;
    bool in_time = tu_cli_wait(&p, 5, &r);
    ck_assert_msg(in_time, "still running 5 s after the second Ctrl-C (%.0f s); stderr: %s",
                  (double)time(NULL) - t0, r.err);
    /* The second Ctrl-C ends it, or the first already did (a driver's
     * compiler that catches Ctrl-C fails the build it interrupts). */
    ck_assert_msg(strstr(r.err, "exiting now") || strstr(r.err, "interrupted (Ctrl-C)"),
                  "stderr: %s", r.err);
    expect(&r, 130, NULL);
    free(run);
    free(cache);
    free(pocl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("run_folder");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, existing_run_refused_overwrite_and_resume_work);
    tcase_add_test(tc, max_steps_stop_writes_final_grid_and_metrics);
    tcase_add_test(tc, resume_after_torn_log_is_one_history);
    tcase_add_test(tc, resume_keeps_the_runs_epochs);
    tcase_add_test(tc, second_trainer_refused_while_first_runs);
    tcase_add_test(tc, full_disk_stops_with_the_file_named);
    tcase_add_test(tc, second_ctrl_c_exits_at_once);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    free(data);
    if (work) tu_rmdir(work);
    free(work);
    return rc;
}
