/* clinpaint demo: a short run (hidden --max-steps, few faces) finishes and
 * leaves the data, the samples grid, loss.svg, the checkpoint and the
 * inpainted faces; usage errors exit 2. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/checkpoint.h"
#include "clinpaint/image.h"
#include "util/cli_run.h"
#include "util/test_util.h"

#define RUN(...) tu_cli_run((const char *const[]){__VA_ARGS__, NULL}, NULL)

static char *work;

static char *at(const char *rel)
{
    if (!work) work = tu_tempdir();
    char *p = malloc(strlen(work) + strlen(rel) + 2);
    ck_assert_ptr_nonnull(p);
    sprintf(p, "%s/%s", work, rel);
    return p;
}

static void assert_file(const char *rel)
{
    char *p = at(rel);
    struct stat sb;
    ck_assert_msg(stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0, "missing: %s", p);
    free(p);
}

/* Files in folder rel whose name ends with `suffix`. */
static int count_files(const char *rel, const char *suffix)
{
    char *p = at(rel);
    DIR *d = opendir(p);
    ck_assert_msg(d != NULL, "cannot open %s", p);
    int n = 0;
    struct dirent *e;
    size_t ls = strlen(suffix);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        n += l > ls && strcmp(e->d_name + l - ls, suffix) == 0;
    }
    closedir(d);
    free(p);
    return n;
}

START_TEST(usage_errors_exit_2)
{
    tu_cli_result r = RUN("demo", "--help");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: clinpaint demo"));
    ck_assert_ptr_null(strstr(r.out, "--max-steps")); /* hidden */
    tu_cli_free(&r);
    const char *const bad[][3] = {{"--bogus", "1", "unknown option"},
                                  {"--minutes", "0", "--minutes"},
                                  {"--minutes", "abc", "--minutes"},
                                  {"--count", "3", "--count"},
                                  {"--max-steps", "0", "--max-steps"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = RUN("demo", bad[i][0], bad[i][1]);
        ck_assert_msg(r.exit_code == 2, "%s %s: exit %d", bad[i][0], bad[i][1], r.exit_code);
        ck_assert_msg(strstr(r.err, bad[i][2]), "%s: %s", bad[i][0], r.err);
        tu_cli_free(&r);
    }
    r = RUN("demo", "--out");
    ck_assert_int_eq(r.exit_code, 2);
    tu_cli_free(&r);
}
END_TEST

START_TEST(short_demo_writes_everything)
{
    char *out = at("demo");
    /* 40 faces: about 36 in the training split, 4 batches of 8 = one epoch
     * in 4 steps, so that the epoch's grid and metrics are written. */
    tu_cli_result r = RUN("demo", "--out", out, "--count", "40", "--max-steps", "4", "--minutes", "5");
    ck_assert_msg(r.exit_code == 0, "exit %d\nstdout: %s\nstderr: %s", r.exit_code, r.out, r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "[1/4]"));
    ck_assert_ptr_nonnull(strstr(r.err, "epoch 1 done"));
    ck_assert_ptr_nonnull(strstr(r.out, "demo done"));
    ck_assert_ptr_nonnull(strstr(r.out, "clinpaint train"));
    ck_assert_ptr_nonnull(strstr(r.out, "clinpaint eval"));
    ck_assert_ptr_nonnull(strstr(r.out, "clinpaint inpaint"));
    tu_cli_free(&r);
    ck_assert_int_eq(count_files("demo/faces", ".png"), 40);
    assert_file("demo/run/samples/epoch_001.png");
    assert_file("demo/run/loss.svg");
    assert_file("demo/run/metrics.csv");
    assert_file("demo/run/ckpt/last.safetensors");
    assert_file("demo/inpainted/overview.png");
    int sbs = count_files("demo/inpainted", "_sbs.png");
    ck_assert_int_ge(sbs, 1);
    ck_assert_int_le(sbs, 8);
    ck_assert_int_eq(count_files("demo/inpainted", "_full.png"), sbs);

    /* The checkpoint is the tiny preset, trained with face masks. */
    char *ck = at("demo/run/ckpt/last.safetensors");
    cp_checkpoint *c;
    TU_OK(cp_checkpoint_open(ck, &c));
    ck_assert_int_eq(cp_checkpoint_config(c)->size, 64);
    ck_assert_str_eq(cp_checkpoint_meta(c, "mask"), "face");
    ck_assert_str_eq(cp_checkpoint_meta(c, "step"), "4");
    cp_checkpoint_close(c);
    free(ck);

    /* The overview grid: one row of (input | masked | result) per face. */
    char *ov = at("demo/inpainted/overview.png");
    cp_image img;
    TU_OK(cp_image_load(ov, &img));
    ck_assert_int_eq(img.w, 3 * 64 + 4 * 2);
    ck_assert_int_eq(img.h, sbs * 64 + (sbs + 1) * 2);
    cp_image_free(&img);
    free(ov);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cmd_demo");
    TCase *tc = tcase_create("demo");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, short_demo_writes_everything);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    tu_rmdir(work);
    free(work);
    return rc;
}
