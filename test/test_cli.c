/* The clinpaint command: help, version, usage errors, devices. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util/cli_run.h"
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

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, help_and_version);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, devices_table_json_and_selector);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
