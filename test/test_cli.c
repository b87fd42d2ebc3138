/* The clinpaint command: help, version, usage errors, devices; a full disk
 * under synth; a second Ctrl-C during the demo's kernel builds. */
#define _XOPEN_SOURCE 700
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "util/cli_run.h"
#include "util/cli_spawn.h"
#include "util/test_util.h"

#define RUN(...) tu_cli_run((const char *const[]){__VA_ARGS__, NULL}, NULL)

START_TEST(help_and_version)
{
    tu_cli_result r = RUN("--help");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "devices"));
    ck_assert_ptr_nonnull(strstr(r.out, "train"));
    tu_cli_free(&r);
    r = RUN("--version");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "clinpaint"));
    ck_assert_ptr_nonnull(strstr(r.out, "CLBlast 1."));
    ck_assert_ptr_nonnull(strstr(r.out, "OpenCL platform"));
    tu_cli_free(&r);
    r = RUN("devices", "--help");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: clinpaint devices"));
    tu_cli_free(&r);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    tu_cli_result r = tu_cli_run((const char *const[]){NULL}, NULL);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "usage"));
    tu_cli_free(&r);
    r = RUN("frobnicate");
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "unknown command 'frobnicate'"));
    ck_assert_str_eq(r.out, "");
    tu_cli_free(&r);
    r = RUN("devices", "--bogus");
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "unknown option '--bogus'"));
    tu_cli_free(&r);
    r = RUN("devices", "--check", "--device");
    ck_assert_int_eq(r.exit_code, 2);
    tu_cli_free(&r);
}
END_TEST

START_TEST(devices_table_json_and_selector)
{
    tu_cli_result r = RUN("devices");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "* 0:0") ? r.out : strstr(r.out, "*"));
    ck_assert_ptr_nonnull(strstr(r.out, "compute units"));
    tu_cli_free(&r);

    r = RUN("devices", "--json");
    ck_assert_int_eq(r.exit_code, 0);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    cJSON *devs = cJSON_GetObjectItem(j, "devices");
    ck_assert(cJSON_IsArray(devs));
    ck_assert_int_ge(cJSON_GetArraySize(devs), 1);
    cJSON *d0 = cJSON_GetArrayItem(devs, 0);
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(d0, "name")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(d0, "id")));
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(d0, "max_work_group_size")));
    cJSON_Delete(j);
    tu_cli_free(&r);

    r = RUN("devices", "--check", "--device", "no-such-device-xyz");
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "matches no device"));
    ck_assert_ptr_nonnull(strstr(r.err, "0:0"));
    tu_cli_free(&r);

    r = tu_cli_run((const char *const[]){"devices", "--check", NULL},
                   "CLINPAINT_DEVICE=no-such-device-xyz");
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "CLINPAINT_DEVICE"));
    tu_cli_free(&r);

    r = RUN("devices", "--check", "--device", "0:0");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "ok"));
    tu_cli_free(&r);
}
END_TEST

START_TEST(results_lost_on_stdout_fail)
{
    /* stdout is a capture file limited to 16 bytes: the JSON cannot fit. */
    tu_cli_opts o = {.max_file_bytes = 16};
    tu_cli_result r = tu_cli_run_opts((const char *const[]){"devices", "--json", NULL}, &o);
    ck_assert_msg(r.exit_code == 1, "exit %d; stderr: %s", r.exit_code, r.err);
    tu_cli_free(&r); /* (the limit cuts the captured stderr too, so its message is not checked) */
}
END_TEST

START_TEST(synth_full_disk_fails_naming_the_file)
{
    /* The library's PNG writer must report a full disk. */
    ck_assert(tu_png_writer_reports_full_disk());
    char *dir = tu_tempdir();
    char out[1100];
    snprintf(out, sizeof out, "%s/faces", dir);
    tu_cli_opts o = {.max_file_bytes = 1500}; /* a 64 px face is several KB */
    tu_cli_result r = tu_cli_run_opts(
        (const char *const[]){"synth", "--count", "5", "--size", "64", out, NULL}, &o);
    ck_assert_msg(r.exit_code == 1, "exit %d; stdout: %s; stderr: %s", r.exit_code, r.out, r.err);
    ck_assert_msg(strstr(r.err, "face_000000.png"), "stderr: %s", r.err);
    ck_assert_ptr_null(strstr(r.out, "wrote"));
    tu_cli_free(&r);
    tu_rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(demo_second_ctrl_c_exits_at_once)
{
    /* Cold caches: the demo's kernel builds take tens of seconds. */
    char *dir = tu_tempdir();
    char cache[1100], pocl[1100], out[1100], env1[1200], env2[1200];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    snprintf(pocl, sizeof pocl, "%s/pocl", dir);
    snprintf(out, sizeof out, "%s/demo", dir);
    ck_assert_int_eq(mkdir(cache, 0700), 0);
    ck_assert_int_eq(mkdir(pocl, 0700), 0);
    snprintf(env1, sizeof env1, "CLINPAINT_CACHE_DIR=%s", cache);
    snprintf(env2, sizeof env2, "POCL_CACHE_DIR=%s", pocl);
    const char *env[] = {env1, env2, NULL};
    tu_cli_opts o = {.env = env};
    tu_cli_proc p = tu_cli_start((const char *const[]){"demo", "--out", out, "--count", "16", NULL}, &o);
    bool up = false;
    for (int i = 0; i < 2400 && !up; i++) { /* until training starts: kernels building */
        char *err = tu_cli_stderr_now(&p);
        up = strstr(err, "[2/4]") != NULL;
        free(err);
        if (!up) nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    if (!up) kill(p.pid, SIGKILL);
    ck_assert_msg(up, "the demo never got to its kernel builds");
    nanosleep(&(struct timespec){0, 300000000}, NULL);
    kill(p.pid, SIGINT);
    nanosleep(&(struct timespec){0, 200000000}, NULL);
    kill(p.pid, SIGINT);
    tu_cli_result r;
    bool in_time = tu_cli_wait(&p, 5, &r);
    ck_assert_msg(in_time, "still running 5 s after the second Ctrl-C; stderr: %s", r.err);
    ck_assert_msg(r.exit_code == 130, "exit %d; stderr: %s", r.exit_code, r.err);
    /* The second Ctrl-C ends it, or the first already did (a driver's
     * compiler that catches Ctrl-C fails the build it interrupts). */
    ck_assert_msg(strstr(r.err, "exiting now") || strstr(r.err, "interrupted (Ctrl-C)"),
                  "stderr: %s", r.err);
    tu_cli_free(&r);
    tu_rmdir(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, help_and_version);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, devices_table_json_and_selector);
    tcase_add_test(tc, synth_full_disk_fails_naming_the_file);
    tcase_add_test(tc, results_lost_on_stdout_fail);
    tcase_add_test(tc, demo_second_ctrl_c_exits_at_once);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
