/* Training end to end on synthetic faces: the loss falls, a resumed run
 * equals an uninterrupted one, a stop request saves, NaN stops the run, a
 * checkpoint that cannot be written stops it cleanly,
 * bad data and too-large batches are refused clearly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/checkpoint.h"
#include "clinpaint/synth.h"
#include "clinpaint/train.h"
#include "util/test_util.h"

static char *data_dir, *work_dir;

static void make_data(void)
{
    if (data_dir) return;
    work_dir = tu_tempdir();
    data_dir = malloc(strlen(work_dir) + 8);
    sprintf(data_dir, "%s/faces", work_dir);
    TU_OK(cp_synth_write_dataset(data_dir, 48, 32, 5));
}

/* A small model at 32 px so that a step takes milliseconds on a CPU. */
static cp_train_config small_config(const char *out)
{
    make_data();
    cp_train_config c = cp_train_config_defaults();
    c.data_dir = data_dir;
    c.out_dir = out;
    c.model = (cp_model_config){"custom", 32, {8, 16, 16, 16, 16, 16}, 32, false};
    c.batch = 4;
    c.epochs = 100;
    c.seed = 3;
    c.sample_count = 2;
    c.eval_batch = 4;
    c.threads = 1;
    return c;
}

static char *out_path(const char *name)
{
    make_data();
    char *p = malloc(strlen(work_dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", work_dir, name);
    return p;
}

/* Column `col` (0-based) of log.csv rows, in order. */
static int read_log(const char *out, int col, double *v, int max, char rows[][160])
{
    char path[1200];
    snprintf(path, sizeof path, "%s/log.csv", out);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int n = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* header */
    while (n < max && fgets(line, sizeof line, f)) {
        if (rows) {
            /* step..L_D: everything but the speed column */
            char *last = strrchr(line, ',');
            size_t len = last ? (size_t)(last - line) : strlen(line);
            snprintf(rows[n], 160, "%.*s", (int)len, line);
        }
        char *p = line;
        for (int k = 0; k < col && p; k++) {
            p = strchr(p, ',');
            if (p) p++;
        }
        v[n++] = p ? atof(p) : NAN;
    }
    fclose(f);
    return n;
}

START_TEST(loss_falls_and_files_written)
{
    char *out = out_path("run_falls");
    cp_train_config c = small_config(out);
    c.max_steps = 90;
    c.opts.adam_g.lr = c.opts.adam_d.lr = 1e-3f; /* faster descent for a short test */
    cp_train_result r;
    TU_OK(cp_train(tu_ctx(), &c, &r));
    ck_assert(r.time_limit);
    ck_assert_uint_eq(r.step, 90);
    double rec[100];
    int n = read_log(out, 2, rec, 100, NULL);
    ck_assert_int_eq(n, 90);
    double first = 0, last = 0;
    for (int i = 0; i < 10; i++) {
        first += rec[i] / 10;
        last += rec[n - 10 + i] / 10;
    }
    ck_assert_msg(last < 0.7 * first, "L_rec did not fall: first 10 steps %.4f, last 10 %.4f",
                  first, last);
    const char *files[] = {"config.json", "loss.svg", "metrics.csv", "ckpt/last.safetensors",
                           "ckpt/best.safetensors", "samples/epoch_001.png"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[1200];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        ck_assert_msg(stat(p, &sb) == 0 && sb.st_size > 0, "%s missing", p);
    }
    free(out);
}
END_TEST

static cp_train_result run_to(const char *out, uint64_t steps, const char *resume_from)
{
    cp_train_config c = small_config(out);
    c.max_steps = steps;
    c.resume = resume_from;
    cp_train_result r;
    TU_OK(cp_train(tu_ctx(), &c, &r));
    return r;
}

START_TEST(resume_equals_uninterrupted)
{
    /* 12 batches per epoch (43 train images / 4): stop inside epoch 2. */
    char *a = out_path("run_whole"), *b = out_path("run_split");
    run_to(a, 20, NULL);
    cp_train_result first = run_to(b, 7, NULL);
    ck_assert_uint_eq(first.step, 7);
    char ckpt[1200];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt/last.safetensors", b);
    cp_train_result second = run_to(b, 20, ckpt);
    ck_assert_uint_eq(second.step, 20);
    ck_assert_uint_eq(second.steps_this_run, 13);
    static char ra[32][160], rb[32][160];
    double v[32];
    ck_assert_int_eq(read_log(a, 0, v, 32, ra), 20);
    ck_assert_int_eq(read_log(b, 0, v, 32, rb), 20);
    for (int i = 0; i < 20; i++)
        ck_assert_msg(strcmp(ra[i], rb[i]) == 0, "step %d differs:\n  whole: %s\n  split: %s",
                      i + 1, ra[i], rb[i]);
    free(a);
    free(b);
}
END_TEST

static volatile int stop_flag;
static void stop_at_3(void *user, const cp_train_progress *p)
{
    (void)user;
    if (p->step == 3) stop_flag = 1;
}

START_TEST(stop_request_saves)
{
    char *out = out_path("run_stop");
    cp_train_config c = small_config(out);
    stop_flag = 0;
    c.stop = &stop_flag;
    c.on_progress = stop_at_3;
    cp_train_result r;
    ck_assert_int_eq(cp_train(tu_ctx(), &c, &r), CP_ERR_INTERRUPTED);
    ck_assert(r.interrupted);
    ck_assert_uint_eq(r.step, 3);
    cp_checkpoint *ck;
    TU_OK(cp_checkpoint_open(r.last_checkpoint, &ck));
    ck_assert_str_eq(cp_checkpoint_meta(ck, "step"), "3");
    ck_assert_str_eq(cp_checkpoint_meta(ck, "batch_index"), "3");
    ck_assert_str_eq(cp_checkpoint_meta(ck, "step_g"), "3");
    ck_assert(cp_checkpoint_has_optimizer(ck));
    cp_checkpoint_close(ck);
    free(out);
}
END_TEST

START_TEST(nan_stops_without_saving_over)
{
    char *out = out_path("run_nan");
    cp_train_config c = small_config(out);
    /* A learning rate of 1e6 blows the weights up within a few steps. */
    c.opts.adam_g.lr = c.opts.adam_d.lr = 1e6f;
    c.max_steps = 40;
    cp_train_result r;
    ck_assert_int_eq(cp_train(tu_ctx(), &c, &r), CP_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "last good checkpoint"));
    ck_assert_uint_lt(r.step, 40);
    free(out);
}
END_TEST

/* On the first evaluation, makes ckpt/best.safetensors a folder: the
 * rename onto it fails as a full disk or a read-only file would. */
static void block_best(void *user, const cp_epoch_metrics *m)
{
    (void)m;
    char p[1200];
    snprintf(p, sizeof p, "%s/ckpt/best.safetensors", (const char *)user);
    mkdir(p, 0755);
}

START_TEST(best_write_failure_keeps_last_and_stops)
{
    char *out = out_path("run_best_fails");
    cp_train_config c = small_config(out);
    c.max_steps = 40; /* past the first epoch's end */
    c.user = out;
    c.on_epoch = block_best;
    cp_train_result r;
    ck_assert_int_eq(cp_train(tu_ctx(), &c, &r), CP_ERR_IO);
    const char *msg = cp_last_error();
    ck_assert_msg(strstr(msg, "best.safetensors") && strstr(msg, "training stopped at step") &&
                      strstr(msg, "last.safetensors holds that step"),
                  "unclear message: %s", msg);
    ck_assert(!r.finished && !r.time_limit);
    ck_assert_uint_lt(r.step, 40);
    cp_checkpoint *ck;
    TU_OK(cp_checkpoint_open(r.last_checkpoint, &ck));
    char step[32];
    snprintf(step, sizeof step, "%llu", (unsigned long long)r.step);
    ck_assert_str_eq(cp_checkpoint_meta(ck, "step"), step);
    cp_checkpoint_close(ck);
    free(out);
}
END_TEST

START_TEST(bad_data_is_refused)
{
    char *out = out_path("run_bad");
    cp_train_config c = small_config(out);
    c.data_dir = "/nonexistent/clinpaint-data";
    cp_train_result r;
    ck_assert_int_eq(cp_train(tu_ctx(), &c, &r), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "/nonexistent/clinpaint-data"));
    struct stat sb;
    ck_assert_msg(stat(out, &sb) != 0, "a failed start left the run folder %s behind", out);
    char *empty = out_path("empty");
    mkdir(empty, 0755);
    c.data_dir = empty;
    ck_assert_int_eq(cp_train(tu_ctx(), &c, &r), CP_ERR_INVALID_ARGUMENT);
    c = small_config(out);
    c.mask_spec = "no-such-mask-kind";
    ck_assert_int_ne(cp_train(tu_ctx(), &c, &r), CP_OK);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "no-such-mask-kind"));
    free(empty);
    free(out);
}
END_TEST

START_TEST(too_large_batch_is_refused_before_training)
{
    cp_model_config base;
    TU_OK(cp_model_config_preset("base", &base));
    uint64_t bytes;
    int largest;
    TU_OK(cp_train_memory(tu_ctx(), &base, 4096, &bytes, &largest));
    ck_assert_int_lt(largest, 4096);
    char *out = out_path("run_big");
    cp_train_config c = small_config(out);
    c.model = base;
    c.batch = 4096;
    cp_train_result r;
    ck_assert_int_eq(cp_train(tu_ctx(), &c, &r), CP_ERR_OUT_OF_DEVICE_MEMORY);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "largest batch that fits"));
    ck_assert_uint_eq(r.step, 0);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, loss_falls_and_files_written);
    tcase_add_test(tc, resume_equals_uninterrupted);
    tcase_add_test(tc, stop_request_saves);
    tcase_add_test(tc, nan_stops_without_saving_over);
    tcase_add_test(tc, best_write_failure_keeps_last_and_stops);
    tcase_add_test(tc, bad_data_is_refused);
    tcase_add_test(tc, too_large_batch_is_refused_before_training);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    tu_rmdir(work_dir);
    free(work_dir);
    free(data_dir);
    return rc;
}
