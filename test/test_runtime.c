/* Runtime: device selection, kernel embedding and override, the program
 * cache (memory, disk hit, corrupt entry, off), status strings. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/opencl/runtime/context_internal.h"
#include "util/test_util.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *read_source_file(const char *name)
{
    const char *src = getenv("CLINPAINT_TEST_SOURCE_DIR");
    ck_assert_msg(src != NULL, "CLINPAINT_TEST_SOURCE_DIR not set (run through ctest)");
    char path[1024];
    snprintf(path, sizeof path, "%s/cl/%s", src, name);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- device selection ---- */

START_TEST(select_default_and_by_index)
{
    unsetenv("CLINPAINT_DEVICE");
    cp_device_info *list;
    int n;
    TU_OK(cp_device_list(&list, &n));
    ck_assert_int_ge(n, 1);
    int defaults = 0, first_gpu = -1;
    for (int i = 0; i < n; i++) {
        defaults += list[i].is_default;
        if (first_gpu < 0 && (list[i].type & CL_DEVICE_TYPE_GPU)) first_gpu = i;
    }
    ck_assert_int_eq(defaults, 1);
    int want = first_gpu >= 0 ? first_gpu : 0;
    ck_assert(list[want].is_default);

    cp_device_info d;
    TU_OK(cp_device_select(NULL, &d));
    ck_assert_str_eq(d.name, list[want].name);
    char sel[32];
    snprintf(sel, sizeof sel, "%d:%d", list[n - 1].platform_index, list[n - 1].device_index);
    TU_OK(cp_device_select(sel, &d));
    ck_assert_int_eq(d.platform_index, list[n - 1].platform_index);
    ck_assert_int_eq(d.device_index, list[n - 1].device_index);
    free(list);
}
END_TEST

START_TEST(select_by_name_case_insensitive)
{
    unsetenv("CLINPAINT_DEVICE");
    cp_device_info d0, d;
    TU_OK(cp_device_select(NULL, &d0));
    /* Three characters from the middle of the name, upper-cased. */
    char part[4] = {0};
    size_t len = strlen(d0.name);
    ck_assert_uint_ge(len, 3);
    for (int i = 0; i < 3; i++) {
        char c = d0.name[len / 2 - 1 + (size_t)i];
        part[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    TU_OK(cp_device_select(part, &d));
    /* The chosen device's name holds the part, ignoring case. */
    char lower_name[256], lower_part[4];
    for (size_t i = 0; i <= strlen(d.name); i++)
        lower_name[i] = (char)((d.name[i] >= 'A' && d.name[i] <= 'Z') ? d.name[i] + 32 : d.name[i]);
    for (size_t i = 0; i < 4; i++)
        lower_part[i] = (char)((part[i] >= 'A' && part[i] <= 'Z') ? part[i] + 32 : part[i]);
    ck_assert_ptr_nonnull(strstr(lower_name, lower_part));
}
END_TEST

START_TEST(select_no_match_lists_devices)
{
    unsetenv("CLINPAINT_DEVICE");
    cp_device_info d;
    cp_status st = cp_device_select("no-such-device-xyz", &d);
    ck_assert_int_eq(st, CP_ERR_NO_DEVICE);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "no-such-device-xyz"));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "0:0"));
    ck_assert_int_eq(cp_device_select("7:99", &d), CP_ERR_NO_DEVICE);
}
END_TEST

START_TEST(select_from_environment)
{
    /* The tools' mapping (tools/clinpaint/env_options.c). */
    cp_device_info d;
    setenv("CLINPAINT_DEVICE", "no-such-device-xyz", 1);
    ck_assert_int_eq(env_device_select(NULL, &d), CP_ERR_NO_DEVICE);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "CLINPAINT_DEVICE"));
    setenv("CLINPAINT_DEVICE", "0:0", 1);
    TU_OK(env_device_select(NULL, &d));
    ck_assert_int_eq(d.platform_index, 0);
    /* An explicit selector wins over the environment. */
    setenv("CLINPAINT_DEVICE", "no-such-device-xyz", 1);
    TU_OK(env_device_select("0:0", &d));
    /* The library itself reads no environment: the default device. */
    TU_OK(cp_device_select(NULL, &d));
    cp_context *ctx;
    TU_OK(cp_context_create(NULL, &ctx));
    cp_context_free(ctx);
    unsetenv("CLINPAINT_DEVICE");
}
END_TEST

/* ---- kernels: embedding and the folder override ---- */

START_TEST(embedded_source_matches_file)
{
    unsetenv("CLINPAINT_KERNEL_DIR");
    char *src;
    size_t n;
    TU_OK(cp_kernel_source("util.cl", &src, &n));
    const char *file = read_source_file("util.cl");
    ck_assert_uint_eq(n, strlen(file));
    ck_assert_str_eq(src, file);
    free(src);
    ck_assert_int_eq(cp_kernel_source("no_such_file.cl", &src, &n), CP_ERR_INTERNAL);
}
END_TEST

/* Runs util.cl's axpy_f32 with a = 2 on x = 1, y = 1; returns y[0]. */
static float run_axpy(cp_context *ctx)
{
    cp_tensor x, y;
    float one[4] = {1, 1, 1, 1}, out[4];
    TU_OK(cp_tensor_create4(ctx, 1, 1, 1, 4, "x", &x));
    TU_OK(cp_tensor_create4(ctx, 1, 1, 1, 4, "y", &y));
    TU_OK(cp_tensor_upload(ctx, &x, one));
    TU_OK(cp_tensor_upload(ctx, &y, one));
    cl_kernel k;
    TU_OK(cp_kernel_get(ctx, "util.cl", "", "axpy_f32", &k));
    float a = 2.0f;
    cl_uint n = 4;
    ck_assert_int_eq(clSetKernelArg(k, 0, sizeof a, &a), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 1, sizeof(cl_mem), &x.buf), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 2, sizeof(cl_mem), &y.buf), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 3, sizeof n, &n), CL_SUCCESS);
    TU_OK(cp_enqueue_1d(ctx, k, 4, 64, NULL));
    TU_OK(cp_tensor_download(ctx, &y, out));
    cp_tensor_free(ctx, &x);
    cp_tensor_free(ctx, &y);
    return out[0];
}

START_TEST(kernel_dir_override)
{
    char *dir = tu_tempdir();
    char path[1100];
    snprintf(path, sizeof path, "%s/util.cl", dir);
    /* Same signature, different arithmetic: y = a * x - y. */
    write_file(path,
               "__kernel void axpy_f32(const float a, __global const float *x,\n"
               "                       __global float *y, const uint n)\n"
               "{ const uint i = get_global_id(0); if (i < n) y[i] = a * x[i] - y[i]; }\n");
    setenv("CLINPAINT_NO_CACHE", "1", 1);
    unsetenv("CLINPAINT_KERNEL_DIR");
    cp_context *ctx;
    TU_OK(env_context_create(NULL, &ctx));
    ck_assert_float_eq(run_axpy(ctx), 3.0f); /* embedded: 2*1 + 1 */
    cp_context_free(ctx);

    setenv("CLINPAINT_KERNEL_DIR", dir, 1);
    TU_OK(env_context_create(NULL, &ctx));
    ck_assert_float_eq(run_axpy(ctx), 1.0f); /* override: 2*1 - 1 */
    cl_kernel k;
    ck_assert_int_eq(cp_kernel_get(ctx, "pool.cl", "", "x", &k), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "pool.cl"));
    cp_context_free(ctx);
    unsetenv("CLINPAINT_KERNEL_DIR");
    unsetenv("CLINPAINT_NO_CACHE");
    tu_rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(includes_are_expanded)
{
    /* Embedded: reduce.cl includes sum_helpers.cl. */
    unsetenv("CLINPAINT_KERNEL_DIR");
    char *src;
    size_t n;
    TU_OK(cp_kernel_source("reduce.cl", &src, &n));
    ck_assert_uint_eq(n, strlen(src));
    ck_assert_ptr_null(strstr(src, "\n#include"));
    ck_assert_ptr_nonnull(strstr(src, "float wg_sum("));
    ck_assert_ptr_nonnull(strstr(src, "channel_sum"));
    free(src);

    /* From a folder: nested includes, text before and after, and a clear
     * error for a missing one. */
    char *dir = tu_tempdir();
    char path[1100];
    snprintf(path, sizeof path, "%s/a.cl", dir);
    write_file(path, "// a\n#include \"b.cl\"\nkernel_a\n");
    snprintf(path, sizeof path, "%s/b.cl", dir);
    write_file(path, "b1\n#include \"c.cl\"\nb2");
    snprintf(path, sizeof path, "%s/c.cl", dir);
    write_file(path, "c\n");
    snprintf(path, sizeof path, "%s/bad.cl", dir);
    write_file(path, "#include \"missing.cl\"\n");
    TU_OK(cp_kernel_source_from(dir, "a.cl", &src, &n));
    ck_assert_str_eq(src, "// a\nb1\nc\n\nb2\nkernel_a\n");
    ck_assert_uint_eq(n, strlen(src));
    free(src);
    ck_assert_int_eq(cp_kernel_source_from(dir, "bad.cl", &src, &n), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "missing.cl"));
    /* The library reads no environment: the embedded copy. */
    setenv("CLINPAINT_KERNEL_DIR", dir, 1);
    TU_OK(cp_kernel_source("reduce.cl", &src, &n));
    free(src);
    unsetenv("CLINPAINT_KERNEL_DIR");
    tu_rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(build_failure_reports_file_options_log)
{
    char *dir = tu_tempdir();
    char path[1100];
    snprintf(path, sizeof path, "%s/broken.cl", dir);
    write_file(path, "__kernel void f(__global float *x) { x[0] = undeclared_name; }\n");
    setenv("CLINPAINT_KERNEL_DIR", dir, 1);
    setenv("CLINPAINT_NO_CACHE", "1", 1);
    cp_context *ctx;
    TU_OK(env_context_create(NULL, &ctx));
    cl_kernel k;
    ck_assert_int_eq(cp_kernel_get(ctx, "broken.cl", "-DMY_OPTION=7", "f", &k), CP_ERR_BUILD);
    const char *msg = cp_last_error();
    ck_assert_ptr_nonnull(strstr(msg, "broken.cl"));
    ck_assert_ptr_nonnull(strstr(msg, "-DMY_OPTION=7"));
    ck_assert_ptr_nonnull(strstr(msg, "undeclared_name"));
    /* An unknown kernel name in a good program is a clear error too. */
    ck_assert_int_eq(cp_kernel_get(ctx, "util.cl", "", "no_such_kernel", &k), CP_ERR_IO);
    cp_context_free(ctx);
    unsetenv("CLINPAINT_KERNEL_DIR");
    TU_OK(env_context_create(NULL, &ctx));
    ck_assert_int_eq(cp_kernel_get(ctx, "util.cl", "", "no_such_kernel", &k),
                     CP_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "no_such_kernel"));
    cp_context_free(ctx);
    unsetenv("CLINPAINT_NO_CACHE");
    tu_rmdir(dir);
    free(dir);
}
END_TEST

/* ---- program cache ---- */

static int count_entries(const char *dir, char *first, size_t size)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls %s/*.clbin 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[1100];
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        if (n == 0 && first) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(first, size, "%s", line);
        }
        n++;
    }
    pclose(p);
    return n;
}

static cp_program_stats stats_after_axpy(void)
{
    cp_context *ctx;
    TU_OK(env_context_create(NULL, &ctx));
    ck_assert_float_eq(run_axpy(ctx), 3.0f);
    cp_program_stats s = cp_context_program_stats(ctx);
    cp_context_free(ctx);
    return s;
}

START_TEST(program_cache_hit_miss_corrupt)
{
    unsetenv("CLINPAINT_KERNEL_DIR");
    unsetenv("CLINPAINT_NO_CACHE");
    char *dir = tu_tempdir();
    setenv("CLINPAINT_CACHE_DIR", dir, 1);

    cp_program_stats s = stats_after_axpy(); /* cold: builds and stores */
    ck_assert_uint_eq(s.builds, 1);
    ck_assert_uint_eq(s.disk_hits, 0);
    char entry[1100];
    ck_assert_int_eq(count_entries(dir, entry, sizeof entry), 1);

    s = stats_after_axpy(); /* warm: loads the binary, builds nothing */
    ck_assert_uint_eq(s.builds, 0);
    ck_assert_uint_eq(s.disk_hits, 1);

    /* In memory: the second request in one context is a memory hit. */
    cp_context *ctx;
    TU_OK(env_context_create(NULL, &ctx));
    run_axpy(ctx);
    run_axpy(ctx);
    s = cp_context_program_stats(ctx);
    ck_assert_uint_eq(s.memory_hits, 1);
    cp_context_free(ctx);

    /* Corrupt one byte in the payload: rejected, rebuilt, replaced. */
    FILE *f = fopen(entry, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 60, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 60, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    s = stats_after_axpy();
    ck_assert_uint_eq(s.disk_rejects, 1);
    ck_assert_uint_eq(s.builds, 1);
    s = stats_after_axpy();
    ck_assert_uint_eq(s.disk_hits, 1);

    /* Truncated entry: the same. */
    ck_assert_int_eq(truncate(entry, 20), 0);
    s = stats_after_axpy();
    ck_assert_uint_eq(s.disk_rejects, 1);
    ck_assert_uint_eq(s.builds, 1);

    /* Garbage of the right size with a wrong magic: the same. */
    struct stat sb;
    ck_assert_int_eq(stat(entry, &sb), 0);
    f = fopen(entry, "r+b");
    fputs("NOTMAGIC", f);
    fclose(f);
    s = stats_after_axpy();
    ck_assert_uint_eq(s.disk_rejects, 1);
    ck_assert_uint_eq(s.builds, 1);
    ck_assert_int_eq(count_entries(dir, NULL, 0), 1);

    /* Other options are another entry. */
    TU_OK(env_context_create(NULL, &ctx));
    cl_kernel k;
    TU_OK(cp_kernel_get(ctx, "util.cl", "-DUNUSED=1", "axpy_f32", &k));
    cp_context_free(ctx);
    ck_assert_int_eq(count_entries(dir, NULL, 0), 2);

    unsetenv("CLINPAINT_CACHE_DIR");
    tu_rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(program_cache_off)
{
    char *dir = tu_tempdir();
    setenv("CLINPAINT_CACHE_DIR", dir, 1);
    setenv("CLINPAINT_NO_CACHE", "1", 1);
    cp_program_stats s = stats_after_axpy();
    ck_assert_uint_eq(s.builds, 1);
    s = stats_after_axpy();
    ck_assert_uint_eq(s.builds, 1);
    ck_assert_uint_eq(s.disk_hits, 0);
    ck_assert_int_eq(count_entries(dir, NULL, 0), 0);
    unsetenv("CLINPAINT_NO_CACHE");
    unsetenv("CLINPAINT_CACHE_DIR");
    tu_rmdir(dir);
    free(dir);
}
END_TEST

/* ---- status strings ---- */

START_TEST(status_strings)
{
    for (int a = 0; a < CP_STATUS_COUNT; a++) {
        ck_assert_ptr_nonnull(cp_status_str((cp_status)a));
        ck_assert_str_ne(cp_status_str((cp_status)a), "unknown status");
        for (int b = 0; b < a; b++)
            ck_assert_str_ne(cp_status_str((cp_status)a), cp_status_str((cp_status)b));
    }
    ck_assert_str_eq(cp_status_str((cp_status)999), "unknown status");
    ck_assert_str_eq(cp_cl_error_name(-5), "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(cp_cl_error_name(-4), "CL_MEM_OBJECT_ALLOCATION_FAILURE");
    ck_assert_str_eq(cp_cl_error_name(-12345), "CL_UNKNOWN_ERROR");
    ck_assert_str_eq(cp_clblast_error_name(-2048), "CLBlastNotImplemented");
    ck_assert_str_eq(cp_clblast_error_name(-5), "CL_OUT_OF_RESOURCES");
    ck_assert_int_eq(cp_set_error(CP_ERR_IO, "x %d", 42), CP_ERR_IO);
    ck_assert_str_eq(cp_last_error(), "x 42");
    cp_clear_error();
    ck_assert_str_eq(cp_last_error(), "");
}
END_TEST

START_TEST(out_of_memory_is_clear)
{
    cp_context *ctx = tu_ctx();
    const cp_device_info *d = cp_context_device(ctx);
    cl_mem m;
    cp_status st = cp_buffer_alloc(ctx, (size_t)d->max_alloc_bytes + 4096, &m);
    ck_assert_int_eq(st, CP_ERR_OUT_OF_DEVICE_MEMORY);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "--batch"));
}
END_TEST

START_TEST(self_check_passes)
{
    TU_OK(cp_context_self_check(tu_ctx()));
}
END_TEST

/* ---- launch limits (issue 13) ---- */

/* Groups within the kernel's limit, the device's and the context's cap:
 * 1-D launches clamp, explicit local sizes beyond them are refused by name
 * before the driver sees them (it would say only CL_INVALID_WORK_GROUP_SIZE). */
START_TEST(launch_limits)
{
    cp_context *ctx = tu_ctx();
    const cp_device_info *d = cp_context_device(ctx);
    ck_assert_uint_ge(d->max_work_item_sizes[0], 1);
    ck_assert_uint_le(d->max_work_item_sizes[0], d->max_work_group_size * 65536);
    cl_kernel k;
    size_t limit;
    TU_OK(cp_kernel_get(ctx, "util.cl", "", "axpy_f32", &k));
    TU_OK(cp_kernel_wg_limit(ctx, k, &limit));
    ck_assert_uint_ge(limit, 1);
    ck_assert_uint_le(limit, d->max_work_group_size);
    uint64_t local_free;
    TU_OK(cp_kernel_local_mem_free(ctx, k, &local_free));
    ck_assert_uint_le(local_free, d->local_mem_bytes);

    /* Beyond the device: a named error, not the driver's. */
    size_t global = d->max_work_group_size * 2, local = d->max_work_group_size * 2;
    cp_status st = cp_enqueue_nd(ctx, k, 1, &global, &local, NULL);
    ck_assert_int_eq(st, CP_ERR_UNSUPPORTED);

    /* A per-kernel limit below the device maximum (rusticl: 32). */
    cp_context_set_max_work_group_size(ctx, 32);
    ck_assert_uint_eq(cp_context_max_work_group_size(ctx), 32);
    TU_OK(cp_kernel_wg_limit(ctx, k, &limit));
    ck_assert_uint_le(limit, 32);
    ck_assert_uint_le(cp_context_wg_size(ctx, 256), 32);
    global = local = 64;
    ck_assert_int_eq(cp_enqueue_nd(ctx, k, 1, &global, &local, NULL), CP_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "axpy_f32"));
    ck_assert_float_eq(run_axpy(ctx), 3.0f); /* cp_enqueue_1d asked for 64: clamped */
    /* Apple's CPU device: groups of 1. */
    cp_context_set_max_work_group_size(ctx, 1);
    TU_OK(cp_kernel_wg_limit(ctx, k, &limit));
    ck_assert_uint_eq(limit, 1);
    ck_assert_float_eq(run_axpy(ctx), 3.0f);
    cp_context_set_max_work_group_size(ctx, 0);

    cp_context_set_max_local_mem_size(ctx, 1000);
    ck_assert_uint_eq(cp_context_local_mem_size(ctx), 1000);
    cp_context_set_max_local_mem_size(ctx, 0);
    ck_assert_uint_eq(cp_context_local_mem_size(ctx), d->local_mem_bytes);
}
END_TEST

/* OpenCL 1.1 devices (Mesa's clover on old GPUs) are refused with the
 * reason; 1.2 and later pass. */
START_TEST(opencl_version_floor)
{
    char why[96];
    ck_assert(cp_device_version_supported("OpenCL 1.2 pocl 1.8", why, sizeof why));
    ck_assert_str_eq(why, "");
    ck_assert(cp_device_version_supported("OpenCL 3.0 ", why, sizeof why));
    ck_assert(cp_device_version_supported("OpenCL 2.1 AMD-APP (3513.0)", why, sizeof why));
    ck_assert(!cp_device_version_supported("OpenCL 1.1 Mesa 22.3.6", why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "1.2"));
    ck_assert(!cp_device_version_supported("OpenCL 1.0", why, sizeof why));
    ck_assert(!cp_device_version_supported("", why, sizeof why));
    ck_assert(!cp_device_version_supported("CUDA 12", why, sizeof why));
    /* Every listed device says whether it is usable; the default is. */
    cp_device_info *list;
    int n;
    TU_OK(cp_device_list(&list, &n));
    for (int i = 0; i < n; i++) {
        bool ok = cp_device_version_supported(list[i].device_version, why, sizeof why);
        ck_assert_int_eq(ok, list[i].unsupported[0] == '\0');
        if (list[i].is_default) ck_assert(ok);
    }
    free(list);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("runtime");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, select_default_and_by_index);
    tcase_add_test(tc, select_by_name_case_insensitive);
    tcase_add_test(tc, select_no_match_lists_devices);
    tcase_add_test(tc, select_from_environment);
    tcase_add_test(tc, embedded_source_matches_file);
    tcase_add_test(tc, kernel_dir_override);
    tcase_add_test(tc, includes_are_expanded);
    tcase_add_test(tc, build_failure_reports_file_options_log);
    tcase_add_test(tc, program_cache_hit_miss_corrupt);
    tcase_add_test(tc, program_cache_off);
    tcase_add_test(tc, status_strings);
    tcase_add_test(tc, out_of_memory_is_clear);
    tcase_add_test(tc, self_check_passes);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("portability");
    tcase_add_test(tp, launch_limits);
    tcase_add_test(tp, opencl_version_floor);
    suite_add_tcase(s, tp);
    return tu_run_suite(s);
}
