/* The kernel cache folder holds binaries that CPU drivers run as native
 * code: it is created private (0700), a folder others can write to is not
 * used (with a reason for one warning), an entry that passes its checks but
 * is not the program it claims (forged) is named, deleted and rebuilt, and a
 * damaged entry is named in a warning and rebuilt. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/opencl/runtime/program_disk_cache.h"
#include "util/cli_spawn.h"
#include "util/test_util.h"

static int count_entries(const char *dir, char *last, size_t size)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -tr %s/*.clbin 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[1100];
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        if (last) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(last, size, "%s", line);
        }
        n++;
    }
    pclose(p);
    return n;
}

/* Builds (or loads) `file` in a fresh context and gets `kernel`. */
static cp_status get_kernel(const char *file, const char *kernel, cp_program_stats *stats)
{
    cp_context *ctx;
    TU_OK(env_context_create(NULL, &ctx));
    cl_kernel k;
    cp_status st = cp_kernel_get(ctx, file, "", kernel, &k);
    if (stats) *stats = cp_context_program_stats(ctx);
    cp_context_free(ctx);
    return st;
}

START_TEST(folder_created_private)
{
    char *base = tu_tempdir();
    char dir[1100], why[1400];
    snprintf(dir, sizeof dir, "%s/a/b", base);
    ck_assert(cp_cache_dir_usable(dir, why, sizeof why));
    struct stat sb;
    ck_assert_int_eq(stat(dir, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0700);
    ck_assert_str_eq(why, "");
    tu_rmdir(base);
    free(base);
}
END_TEST

START_TEST(open_folder_refused)
{
    char *dir = tu_tempdir();
    setenv("CLINPAINT_CACHE_DIR", dir, 1);
    unsetenv("CLINPAINT_NO_CACHE");
    ck_assert_int_eq(chmod(dir, 0777), 0);
    char why[1400];
    ck_assert(!cp_cache_dir_usable(dir, why, sizeof why));
    ck_assert_msg(strstr(why, dir) && strstr(why, "writable by others") && strstr(why, "0777"),
                  "reason: %s", why);
    /* Programs still build, but nothing lands in the folder. */
    cp_program_stats s;
    TU_OK(get_kernel("util.cl", "axpy_f32", &s));
    ck_assert_uint_eq(s.builds, 1);
    ck_assert_uint_eq(s.disk_hits, 0);
    ck_assert_int_eq(count_entries(dir, NULL, 0), 0);

    /* Group-writable: the same. A private folder of the same name is fine
     * again (checked once per folder name, so use another name). */
    char *dir2 = tu_tempdir();
    ck_assert_int_eq(chmod(dir2, 0770), 0);
    ck_assert(!cp_cache_dir_usable(dir2, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "its group"));
    ck_assert_int_eq(chmod(dir2, 0700), 0);
    char *dir3 = tu_tempdir();
    ck_assert(cp_cache_dir_usable(dir3, why, sizeof why));
    ck_assert(!cp_cache_dir_usable(NULL, why, sizeof why)); /* no folder: no cache */
    unsetenv("CLINPAINT_CACHE_DIR");
    tu_rmdir(dir);
    tu_rmdir(dir2);
    tu_rmdir(dir3);
    free(dir);
    free(dir2);
    free(dir3);
}
END_TEST

START_TEST(cli_warns_once_about_an_open_folder)
{
    char *dir = tu_tempdir();
    ck_assert_int_eq(chmod(dir, 0777), 0);
    char env[1200];
    snprintf(env, sizeof env, "CLINPAINT_CACHE_DIR=%s", dir);
    const char *envs[] = {env, NULL};
    tu_cli_opts o = {.env = envs};
    char run[1100];
    snprintf(run, sizeof run, "%s/run", dir);
    tu_cli_result r = tu_cli_run_opts(
        (const char *const[]){"train", "--data", "/nonexistent/x", "--out", run, NULL}, &o);
    ck_assert_msg(strstr(r.err, "warning: the kernel cache folder") && strstr(r.err, dir),
                  "stderr: %s", r.err);
    const char *first = strstr(r.err, "kernel cache folder");
    ck_assert_ptr_null(strstr(first + 1, "kernel cache folder"));
    tu_cli_free(&r);
    ck_assert_int_eq(count_entries(dir, NULL, 0), 0);
    tu_rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(forged_entry_named_deleted_and_rebuilt)
{
    char *dir = tu_tempdir();
    setenv("CLINPAINT_CACHE_DIR", dir, 1);
    unsetenv("CLINPAINT_NO_CACHE");
    char util_entry[1100], pool_entry[1100];
    TU_OK(get_kernel("util.cl", "axpy_f32", NULL));
    ck_assert_int_eq(count_entries(dir, util_entry, sizeof util_entry), 1);
    TU_OK(get_kernel("pool.cl", "maxpool2_fwd", NULL));
    ck_assert_int_eq(count_entries(dir, pool_entry, sizeof pool_entry), 2);
    ck_assert_str_ne(util_entry, pool_entry);
    /* util.cl's entry now holds pool.cl's binary under util.cl's key, with
     * a valid checksum: every check passes, as for a forged entry. */
    size_t un, pn;
    unsigned char *u = (unsigned char *)tu_read_file(util_entry, &un);
    unsigned char *p = (unsigned char *)tu_read_file(pool_entry, &pn);
    cp_cache_key key;
    for (int i = 0; i < 2; i++) {
        key.h[i] = 0;
        for (int b = 7; b >= 0; b--) key.h[i] = (key.h[i] << 8) | u[8 + 8 * i + b];
    }
    cp_cache_store(util_entry, key, p + 40, pn - 40);
    free(u);
    free(p);
    unsigned char *bin;
    size_t size;
    ck_assert_int_eq(cp_cache_load(util_entry, key, &bin, &size), CP_CACHE_HIT);
    free(bin);

    cp_program_stats s;
    TU_OK(get_kernel("util.cl", "axpy_f32", &s)); /* warns, deletes, rebuilds */
    ck_assert_uint_eq(s.disk_rejects, 1);
    ck_assert_uint_eq(s.builds, 1);
    TU_OK(get_kernel("util.cl", "axpy_f32", &s)); /* the rebuilt entry is good */
    ck_assert_uint_eq(s.disk_hits, 1);
    ck_assert_uint_eq(s.builds, 0);
    unsetenv("CLINPAINT_CACHE_DIR");
    tu_rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(damaged_entry_named_in_a_warning)
{
    char *dir = tu_tempdir();
    char env[1200];
    snprintf(env, sizeof env, "CLINPAINT_CACHE_DIR=%s", dir);
    const char *envs[] = {env, NULL};
    tu_cli_opts o = {.env = envs};
    const char *argv[] = {"devices", "--check", "--device", "0:0", NULL};
    tu_cli_result r = tu_cli_run_opts(argv, &o);
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    tu_cli_free(&r);
    char entry[1100];
    ck_assert_int_ge(count_entries(dir, entry, sizeof entry), 1);
    FILE *f = fopen(entry, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs("NOTMAGIC", f), 0);
    ck_assert_int_eq(fclose(f), 0);
    r = tu_cli_run_opts(argv, &o);
    ck_assert_msg(r.exit_code == 0 && strstr(r.err, entry) && strstr(r.err, "damaged"),
                  "exit %d; stderr: %s", r.exit_code, r.err);
    tu_cli_free(&r);
    tu_rmdir(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kernel_cache");
    TCase *tc = tcase_create("folder");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, folder_created_private);
    tcase_add_test(tc, open_folder_refused);
    tcase_add_test(tc, cli_warns_once_about_an_open_folder);
    tcase_add_test(tc, forged_entry_named_deleted_and_rebuilt);
    tcase_add_test(tc, damaged_entry_named_in_a_warning);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
