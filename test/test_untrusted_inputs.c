/* Untrusted inputs: FIFOs and unreadable folders among the data, masks and
 * models; NaN weights and hostile metadata in checkpoints; degenerate masks;
 * a model too large for host memory. Each case must end with a clear
 * refusal or a warning, never a hang, a wrap-around or a silent "null". */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clinpaint/checkpoint.h"
#include "clinpaint/dataset.h"
#include "clinpaint/image.h"
#include "clinpaint/synth.h"
#include "clinpaint/train.h"
#include "clinpaint/warning.h"
#include "util/test_util.h"

#define S 32
#define HANG_S 30 /* a command still running after this is hung */

static char *work;

static char *at(const char *rel)
{
    char *p = malloc(strlen(work) + strlen(rel) + 2);
    ck_assert_ptr_nonnull(p);
    sprintf(p, "%s/%s", work, rel);
    return p;
}

static void setup(void) { work = tu_tempdir(); }
static void teardown(void)
{
    tu_rmdir(work);
    free(work);
    work = NULL;
}

/* ---- warnings, collected through the handler ---- */

static char warnings[1 << 15];
static size_t warnings_len;

static void collect(void *user, const char *text)
{
    (void)user;
    size_t room = sizeof warnings - warnings_len;
    int n = snprintf(warnings + warnings_len, room, "%s\n", text);
    if (n > 0 && (size_t)n < room) warnings_len += (size_t)n;
}

static void collect_begin(void)
{
    warnings_len = 0;
    warnings[0] = '\0';
    cp_set_warning_handler(collect, NULL);
}

static int occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* ---- the command, with a deadline: a hang fails instead of stalling ---- */

typedef struct run_result {
    int exit_code; /* -1: killed (SIGALRM after HANG_S: it hung) */
    char out[1 << 14], err[1 << 14];
} run_result;

static void slurp(int fd, char *buf, size_t size)
{
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
}

static void run_cli(run_result *r, const char *const *argv)
{
    const char *bin = getenv("CLINPAINT_BIN");
    ck_assert_msg(bin != NULL, "CLINPAINT_BIN not set (run through ctest)");
    char op[] = "/tmp/cp-untrusted-out-XXXXXX", ep[] = "/tmp/cp-untrusted-err-XXXXXX";
    int out_fd = mkstemp(op), err_fd = mkstemp(ep);
    ck_assert(out_fd >= 0 && err_fd >= 0);
    unlink(op);
    unlink(ep);
    int argc = 0;
    while (argv[argc]) argc++;
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        alarm(HANG_S); /* survives exec: SIGALRM ends a hung command */
        char **args = calloc((size_t)argc + 2, sizeof *args);
        args[0] = (char *)bin;
        for (int i = 0; i < argc; i++) args[i + 1] = (char *)argv[i];
        execv(bin, args);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    slurp(out_fd, r->out, sizeof r->out);
    slurp(err_fd, r->err, sizeof r->err);
}

#define RUN(r, ...) run_cli(r, (const char *const[]){__VA_ARGS__, NULL})

static void expect(const run_result *r, int code, const char *in_err)
{
    ck_assert_msg(r->exit_code == code, "exit %d, want %d; stderr: %s", r->exit_code, code, r->err);
    if (in_err) ck_assert_msg(strstr(r->err, in_err), "stderr lacks '%s': %s", in_err, r->err);
}

/* ---- fixtures ---- */

static const cp_model_config tiny_cfg = {"custom", S, {4, 8, 8, 8, 8, 8}, 16, false};

/* A small checkpoint; `nan_tensor` >= 0 fills that tensor with NaN. */
static char *write_model(const char *rel, int nan_tensor, const cp_meta_entry *meta, int n_meta,
                         char *nan_name, size_t nan_name_size)
{
    cp_model *m;
    TU_OK(cp_model_create(tu_ctx(), &tiny_cfg, &m));
    TU_OK(cp_model_init(m, 3));
    if (nan_tensor >= 0) {
        TU_OK(cp_tensor_fill(tu_ctx(), &m->tensors[nan_tensor].value, NAN));
        snprintf(nan_name, nan_name_size, "%s", m->tensors[nan_tensor].name);
    }
    char *path = at(rel);
    TU_OK(cp_checkpoint_save(m, path, meta, n_meta));
    cp_model_free(m);
    return path;
}

static char *write_faces(const char *rel, int count)
{
    char *dir = at(rel);
    TU_OK(cp_synth_write_dataset(dir, (uint64_t)count, S, 5));
    return dir;
}

static void write_grey(const char *path, int w, int h, int value)
{
    cp_image img;
    TU_OK(cp_image_alloc(w, h, &img));
    memset(img.pixels, value, (size_t)w * h * 3);
    TU_OK(cp_image_write_png(path, &img));
    cp_image_free(&img);
}

/* ---- data folders ---- */

START_TEST(fifo_in_data_folder_is_skipped_not_opened)
{
    alarm(HANG_S);
    char *dir = write_faces("faces", 6);
    char *fifo = at("faces/pipe.png");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    collect_begin();
    cp_dataset *ds;
    TU_OK(cp_dataset_open(dir, CP_SPLIT_ALL, &ds));
    cp_set_warning_handler(NULL, NULL);
    ck_assert_uint_eq(cp_dataset_count(ds), 6);
    ck_assert_uint_eq(cp_dataset_skipped(ds), 1);
    ck_assert_int_eq(occurrences(warnings, "pipe.png"), 1);
    ck_assert_ptr_nonnull(strstr(warnings, "FIFO"));
    ck_assert_ptr_nonnull(strstr(warnings, "1 file skipped"));
    cp_dataset_free(ds);
    alarm(0);
    free(fifo);
    free(dir);
}
END_TEST

/* The trainer opens the train and the test split: a bad entry belongs to
 * one of them and is reported once, not once per split. */
START_TEST(skipped_entry_is_reported_once_across_splits)
{
    char *dir = write_faces("faces", 12);
    char *link = at("faces/gone.png");
    ck_assert_int_eq(symlink("/nonexistent/clinpaint-test", link), 0);
    collect_begin();
    cp_dataset *train, *test;
    TU_OK(cp_dataset_open(dir, CP_SPLIT_TRAIN, &train));
    cp_status st = cp_dataset_open(dir, CP_SPLIT_TEST, &test);
    cp_set_warning_handler(NULL, NULL);
    ck_assert_int_eq(occurrences(warnings, "gone.png"), 1);
    ck_assert_int_eq(occurrences(warnings, "1 file skipped"), 1);
    ck_assert_uint_eq(cp_dataset_skipped(train) + (st == CP_OK ? cp_dataset_skipped(test) : 0), 1);
    cp_dataset_free(train);
    if (st == CP_OK) cp_dataset_free(test);
    free(link);
    free(dir);
}
END_TEST

/* Opens `dir` and checks that the unreadable subfolder is a warning; the
 * exit status tells the parent (0 = as expected). */
static int open_with_unreadable_subfolder(const char *dir)
{
    collect_begin();
    cp_dataset *ds;
    if (cp_dataset_open(dir, CP_SPLIT_ALL, &ds) != CP_OK) return 1;
    int rc = cp_dataset_count(ds) == 6 ? 0 : 2;
    if (!strstr(warnings, "locked") || !strstr(warnings, "unreadable folder")) rc = 3;
    cp_dataset_free(ds);
    return rc;
}

START_TEST(unreadable_subfolder_is_a_warning)
{
    char *dir = write_faces("faces", 6);
    char *locked = at("faces/locked");
    ck_assert_int_eq(mkdir(locked, 0700), 0);
    char *inside = at("faces/locked/x.png");
    write_grey(inside, 8, 8, 90);
    ck_assert_int_eq(chmod(locked, 0), 0);
    if (geteuid() != 0) {
        ck_assert_int_eq(open_with_unreadable_subfolder(dir), 0);
    } else {
        /* root reads any folder: open it as "nobody" in a child instead. */
        ck_assert_int_eq(chmod(work, 0755), 0);
        pid_t pid = fork();
        ck_assert(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(77);
            _exit(open_with_unreadable_subfolder(dir));
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
            fprintf(stderr, "unreadable_subfolder_is_a_warning: cannot become nobody; skipped\n");
        else
            ck_assert_msg(WEXITSTATUS(status) == 0, "child check %d failed", WEXITSTATUS(status));
    }
    ck_assert_int_eq(chmod(locked, 0700), 0); /* so that teardown can remove it */
    free(inside);
    free(locked);
    free(dir);
}
END_TEST

/* ---- checkpoints ---- */

START_TEST(fifo_as_model_is_refused)
{
    alarm(HANG_S);
    char *fifo = at("model.safetensors");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    cp_checkpoint *ck = NULL;
    ck_assert_int_ne(cp_checkpoint_open(fifo, &ck), CP_OK);
    ck_assert_ptr_null(ck);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "not a regular file"));
    alarm(0); /* the command has its own deadline (run_cli) */
    run_result *r = malloc(sizeof *r);
    char *out = at("out");
    RUN(r, "inpaint", "--model", fifo, fifo, "-o", out);
    ck_assert_msg(r->exit_code == 1 || r->exit_code == 2, "exit %d; stderr: %s", r->exit_code, r->err);
    ck_assert_ptr_nonnull(strstr(r->err, "not a regular file"));
    free(r);
    free(out);
    free(fifo);
}
END_TEST

START_TEST(nan_weights_are_refused_naming_the_tensor)
{
    char name[128];
    char *path = write_model("nan.safetensors", 5, NULL, 0, name, sizeof name);
    cp_checkpoint *ck;
    TU_OK(cp_checkpoint_open(path, &ck));
    cp_model *m = NULL;
    ck_assert_int_eq(cp_checkpoint_load_model(ck, tu_ctx(), false, &m), CP_ERR_NUMERIC);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(cp_last_error(), name), "message lacks %s: %s", name, cp_last_error());
    cp_checkpoint_close(ck);

    /* eval: exit 1 naming it, never metrics of "null" */
    char *data = write_faces("faces", 4);
    run_result *r = malloc(sizeof *r);
    RUN(r, "eval", "--model", path, "--data", data, "--split", "all", "--json");
    expect(r, 1, name);
    ck_assert_ptr_null(strstr(r->out, "null"));
    free(r);
    free(data);
    free(path);
}
END_TEST

START_TEST(hostile_metadata_is_refused_naming_the_key)
{
    static const cp_meta_entry bad[][1] = {
        {{"batch", "4294967300"}}, {{"step", "-5"}},        {{"epoch", " 1"}},
        {{"seed", "18446744073709551616"}}, {{"batch_index", "1e3"}}, {{"lr_g", "nan"}},
        {{"beta1", "1"}},          {{"ctx_weight", "-0.5"}}, {{"epochs", "0"}},
        {{"size", "-64"}},         {{"widths", "4,8,8,8,8,4294967304"}}, {{"widths", "4,8,8"}},
        {{"latent", "+16"}},       {{"step_g", "99999999999999999999"}}, {{"mask", "a\x1b[2Jb"}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *path = write_model("hostile.safetensors", -1, bad[i], 1, NULL, 0);
        cp_checkpoint *ck = NULL;
        ck_assert_msg(cp_checkpoint_open(path, &ck) == CP_ERR_FORMAT, "%s = %s accepted",
                      bad[i][0].key, bad[i][0].value);
        ck_assert_ptr_null(ck);
        char key[64];
        snprintf(key, sizeof key, "'%s'", bad[i][0].key);
        ck_assert_msg(strstr(cp_last_error(), key), "message lacks %s: %s", key, cp_last_error());
        ck_assert_ptr_null(strchr(cp_last_error(), '\x1b')); /* no escape reaches a terminal */
        free(path);
    }
    /* widths in range but not those of the tensors in the file: refused by
     * counting, before a model of 4096-wide layers is built */
    static const cp_meta_entry wide[] = {{"widths", "4096,4096,4096,4096,4096,4096"}};
    char *wpath = write_model("wide.safetensors", -1, wide, 1, NULL, 0);
    cp_checkpoint *wck;
    TU_OK(cp_checkpoint_open(wpath, &wck));
    cp_model *wm = NULL;
    ck_assert_int_eq(cp_checkpoint_load_model(wck, tu_ctx(), false, &wm), CP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "does not match"));
    ck_assert_ptr_null(wm);
    cp_checkpoint_close(wck);
    free(wpath);
    /* the values clinpaint writes pass */
    static const cp_meta_entry good[] = {
        {"batch", "4096"}, {"step", "0"}, {"seed", "18446744073709551615"},
        {"best_hole_psnr", "-inf"}, {"lr_g", "0.0001"}, {"mask", "masks/m.png"},
    };
    char *path = write_model("good.safetensors", -1, good, 6, NULL, 0);
    cp_checkpoint *ck;
    TU_OK(cp_checkpoint_open(path, &ck));
    cp_checkpoint_close(ck);
    free(path);
}
END_TEST

/* ---- masks through the commands ---- */

START_TEST(degenerate_and_special_masks_are_refused_by_eval)
{
    char *model = write_model("model.safetensors", -1, NULL, 0, NULL, 0);
    char *data = write_faces("faces", 4);
    char *black = at("black.png"), *white = at("white.png"), *fifo = at("fifo.png");
    write_grey(black, 40, 20, 0);
    write_grey(white, 20, 20, 255);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    run_result *r = malloc(sizeof *r);
    RUN(r, "eval", "--model", model, "--data", data, "--split", "all", "--mask", black);
    expect(r, 2, "no hole");
    RUN(r, "eval", "--model", model, "--data", data, "--split", "all", "--mask", white);
    expect(r, 2, "all hole");
    RUN(r, "eval", "--model", model, "--data", data, "--split", "all", "--mask", fifo);
    expect(r, 2, "not a regular file");
    RUN(r, "eval", "--model", model, "--data", data, "--split", "all", "--mask", "/");
    expect(r, 2, "filesystem root");
    /* train refuses them before it starts */
    char *out = at("run");
    const char *masks[] = {black, white};
    const char *why[] = {"no hole", "all hole"};
    for (int i = 0; i < 2; i++) {
        RUN(r, "train", "--data", data, "--size", "32", "--widths", "4,8,8,8,8,8", "--latent", "16",
            "--batch", "2", "--epochs", "1", "--max-steps", "1", "--mask", masks[i], "--out", out);
        expect(r, 2, why[i]);
    }
    free(out);
    free(r);
    free(black);
    free(white);
    free(fifo);
    free(data);
    free(model);
}
END_TEST

/* One warning per bad entry and one count line, printed by the command
 * (the library prints nothing itself). */
START_TEST(eval_prints_each_warning_once_and_the_count)
{
    char *model = write_model("model.safetensors", -1, NULL, 0, NULL, 0);
    char *data = write_faces("faces", 4);
    char *fifo = at("faces/pipe.png"), *link = at("faces/gone.png");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(symlink("/nonexistent/clinpaint-test", link), 0);
    run_result *r = malloc(sizeof *r);
    RUN(r, "eval", "--model", model, "--data", data, "--split", "all");
    expect(r, 0, NULL);
    ck_assert_int_eq(occurrences(r->err, "pipe.png"), 1);
    ck_assert_int_eq(occurrences(r->err, "gone.png"), 1);
    ck_assert_int_eq(occurrences(r->err, "2 files skipped"), 1);
    ck_assert_int_eq(occurrences(r->err, "clinpaint: warning: "), 3);
    free(r);
    free(fifo);
    free(link);
    free(data);
    free(model);
}
END_TEST

/* inpaint: a FIFO given as an input, or inside an input folder, is skipped
 * with one warning each and counted; the readable images are written. */
START_TEST(inpaint_skips_special_inputs)
{
    char *model = write_model("model.safetensors", -1, NULL, 0, NULL, 0);
    char *data = write_faces("faces", 3);
    char *fifo = at("pipe.png"), *inner = at("faces/inner.png"), *out = at("out");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(mkfifo(inner, 0600), 0);
    run_result *r = malloc(sizeof *r);
    RUN(r, "inpaint", "--model", model, fifo, data, "-o", out);
    expect(r, 0, NULL);
    ck_assert_int_eq(occurrences(r->err, "pipe.png"), 1);
    ck_assert_int_eq(occurrences(r->err, "inner.png"), 1);
    ck_assert_msg(strstr(r->out, "skipped 2"), "no count: %s", r->out);
    free(r);
    free(out);
    free(inner);
    free(fifo);
    free(data);
    free(model);
}
END_TEST

/* train opens the train and the test split of one folder: still one
 * warning per bad entry, and the count. */
START_TEST(train_prints_each_warning_once_and_the_count)
{
    char *data = write_faces("faces", 24);
    char *fifo = at("faces/pipe.png"), *link = at("faces/gone.png"), *out = at("run");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(symlink("/nonexistent/clinpaint-test", link), 0);
    run_result *r = malloc(sizeof *r);
    RUN(r, "train", "--data", data, "--size", "32", "--widths", "4,8,8,8,8,8", "--latent", "16",
        "--batch", "4", "--epochs", "1", "--max-steps", "1", "--out", out);
    expect(r, 0, NULL);
    ck_assert_int_eq(occurrences(r->err, "pipe.png"), 1);
    ck_assert_int_eq(occurrences(r->err, "gone.png"), 1);
    ck_assert_int_eq(occurrences(r->err, "warning: skipping"), 2);
    /* the count: one line per split that had a bad entry */
    int counts = occurrences(r->err, "1 file skipped") + occurrences(r->err, "2 files skipped");
    ck_assert_int_ge(counts, 1);
    ck_assert_int_le(counts, 2);
    free(r);
    free(out);
    free(fifo);
    free(link);
    free(data);
}
END_TEST

/* ---- host memory ---- */

/* The train command itself checks host memory before creating the model
 * (PoCL asserted on such a model before). */
START_TEST(train_refuses_absurd_widths_before_allocation)
{
    char *data = write_faces("faces_wide", 4), *out = at("run_wide");
    run_result *r = malloc(sizeof *r);
    RUN(r, "train", "--data", data, "--size", "128", "--widths", "4096,4096,4096,4096,4096,4096",
        "--batch", "8", "--epochs", "1", "--max-steps", "1", "--out", out);
    ck_assert_msg(r->exit_code != 0, "exit 0; stderr: %s", r->err);
    ck_assert_msg(strstr(r->err, "GiB of host memory"), "stderr: %s", r->err);
    free(r);
    free(out);
    free(data);
}
END_TEST

START_TEST(absurd_model_is_refused_before_allocation)
{
    cp_model_config huge = {"custom", 512, {4096, 4096, 4096, 4096, 4096, 4096}, 65536, false};
    ck_assert(cp_model_config_params(&huge) > (uint64_t)1e11);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t bytes = 0;
    int largest = -1;
    ck_assert_int_eq(cp_train_memory(tu_ctx(), &huge, 8, &bytes, &largest), CP_ERR_OUT_OF_HOST_MEMORY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "GiB of host memory"));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "available"));
    ck_assert_double_lt((double)(t1.tv_sec - t0.tv_sec), 5.0); /* nothing was allocated */
    /* the parameter count matches the model actually built */
    cp_model *m;
    TU_OK(cp_model_create(tu_ctx(), &tiny_cfg, &m));
    uint64_t params = 0;
    for (int i = 0; i < m->count; i++) params += cp_tensor_numel(&m->tensors[i].value);
    ck_assert_uint_eq(cp_model_config_params(&tiny_cfg), params);
    cp_model_free(m);
    cp_model_config bn = tiny_cfg;
    bn.batchnorm = true;
    TU_OK(cp_model_create(tu_ctx(), &bn, &m));
    params = 0;
    for (int i = 0; i < m->count; i++) params += cp_tensor_numel(&m->tensors[i].value);
    ck_assert_uint_eq(cp_model_config_params(&bn), params);
    cp_model_free(m);
    /* a normal run fits */
    cp_host_memory h;
    TU_OK(cp_train_host_memory(NULL, &tiny_cfg, 8, 2, &h));
    ck_assert(h.decode > 0 && h.prefetch > 0 && h.cache > 0 && h.total > h.model);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("untrusted_inputs");
    TCase *tc = tcase_create("untrusted_inputs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, fifo_in_data_folder_is_skipped_not_opened);
    tcase_add_test(tc, skipped_entry_is_reported_once_across_splits);
    tcase_add_test(tc, unreadable_subfolder_is_a_warning);
    tcase_add_test(tc, fifo_as_model_is_refused);
    tcase_add_test(tc, nan_weights_are_refused_naming_the_tensor);
    tcase_add_test(tc, hostile_metadata_is_refused_naming_the_key);
    tcase_add_test(tc, degenerate_and_special_masks_are_refused_by_eval);
    tcase_add_test(tc, eval_prints_each_warning_once_and_the_count);
    tcase_add_test(tc, train_prints_each_warning_once_and_the_count);
    tcase_add_test(tc, inpaint_skips_special_inputs);
    tcase_add_test(tc, absurd_model_is_refused_before_allocation);
    tcase_add_test(tc, train_refuses_absurd_widths_before_allocation);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
