/* The library reads no environment: every setting is a cp_context_options
 * field, and tools/clinpaint/env_options.c maps the documented variables
 * (README: environment variables) onto them, as they behaved before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/tune.h"
#include "util/test_util.h"

static void clear_env(void)
{
    static const char *const names[] = {
        "CLINPAINT_DEVICE", "CLINPAINT_KERNEL_DIR", "CLINPAINT_CACHE_DIR", "CLINPAINT_NO_CACHE",
        "CLINPAINT_CONV",   "CLINPAINT_GEMM",       "CLINPAINT_NO_TUNE",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unsetenv(names[i]);
}

START_TEST(variables_map_onto_options)
{
    clear_env();
    setenv("HOME", "/home/someone", 1);
    unsetenv("XDG_CACHE_HOME");
    env_options e;
    env_options_read(NULL, &e);
    ck_assert_ptr_null(e.context.device);
    ck_assert_str_eq(e.context.device_origin, "CLINPAINT_DEVICE");
    ck_assert_ptr_null(e.context.kernel_dir);
    ck_assert_str_eq(e.context.cache_dir, "/home/someone/.cache/clinpaint");
    ck_assert_int_eq(e.context.conv_route, CP_CONV_AUTO);
    ck_assert_int_eq(e.context.gemm, CP_GEMM_PREFER_DEFAULT);
    ck_assert(e.apply_tuning);

    setenv("XDG_CACHE_HOME", "/xdg", 1);
    env_options_read(NULL, &e);
    ck_assert_str_eq(e.context.cache_dir, "/xdg/clinpaint");
    setenv("CLINPAINT_CACHE_DIR", "/mine", 1);
    env_options_read(NULL, &e);
    ck_assert_str_eq(e.context.cache_dir, "/mine");
    setenv("CLINPAINT_NO_CACHE", "0", 1); /* "0": still cached */
    env_options_read(NULL, &e);
    ck_assert_str_eq(e.context.cache_dir, "/mine");
    setenv("CLINPAINT_NO_CACHE", "1", 1);
    env_options_read(NULL, &e);
    ck_assert_ptr_null(e.context.cache_dir);

    setenv("CLINPAINT_DEVICE", "0:0", 1);
    setenv("CLINPAINT_KERNEL_DIR", "/kernels", 1);
    setenv("CLINPAINT_CONV", "igemm", 1);
    setenv("CLINPAINT_GEMM", "own", 1);
    setenv("CLINPAINT_NO_TUNE", "1", 1);
    env_options_read(NULL, &e);
    ck_assert_str_eq(e.context.device, "0:0");
    ck_assert_str_eq(e.context.kernel_dir, "/kernels");
    ck_assert_int_eq(e.context.conv_route, CP_CONV_IGEMM);
    ck_assert_int_eq(e.context.gemm, CP_GEMM_PREFER_OWN);
    ck_assert(!e.apply_tuning);
    /* --device wins over CLINPAINT_DEVICE and is named as itself. */
    env_options_read("1:0", &e);
    ck_assert_str_eq(e.context.device, "1:0");
    ck_assert_ptr_null(e.context.device_origin);

    setenv("CLINPAINT_CONV", "fast", 1); /* unknown: the measured routes */
    setenv("CLINPAINT_GEMM", "clblast", 1);
    setenv("CLINPAINT_NO_TUNE", "0", 1);
    env_options_read(NULL, &e);
    ck_assert_int_eq(e.context.conv_route, CP_CONV_AUTO);
    ck_assert_int_eq(e.context.gemm, CP_GEMM_PREFER_CLBLAST);
    ck_assert(e.apply_tuning);
    clear_env();
}
END_TEST

/* `clinpaint --version` names the platform of $CLINPAINT_DEVICE's device. */
START_TEST(versions_follow_the_device_variable)
{
    clear_env();
    char platform[256], clblast[64];
    env_runtime_versions(platform, sizeof platform, clblast, sizeof clblast);
    ck_assert_str_ne(platform, "none");
    setenv("CLINPAINT_DEVICE", "no-such-device-xyz", 1);
    env_runtime_versions(platform, sizeof platform, clblast, sizeof clblast);
    ck_assert_str_eq(platform, "none");
    clear_env();
}
END_TEST

/* The options reach the ops: a context's forced routes, whatever the
 * environment says. */
START_TEST(options_reach_the_routes)
{
    clear_env();
    setenv("CLINPAINT_CONV", "direct", 1); /* ignored by the library */
    setenv("CLINPAINT_GEMM", "own", 1);
    cp_context_options o = cp_context_options_default();
    o.conv_route = CP_CONV_IGEMM;
    o.gemm = CP_GEMM_PREFER_CLBLAST;
    cp_context *ctx;
    TU_OK(cp_context_create_with(&o, &ctx));
    ck_assert_int_eq(cp_context_options_of(ctx)->conv_route, CP_CONV_IGEMM);
    ck_assert_ptr_null(cp_context_options_of(ctx)->cache_dir);
    cp_conv_layer l = {.transposed = false, .p = cp_conv3_params(), .n = 2, .c_in = 4,
                       .h = 8, .w = 16, .c_out = 8};
    cp_conv_choice c = cp_conv_route_for(ctx, &l);
    for (int p = 0; p < 3; p++) ck_assert_int_eq(c.pass[p], CP_CONV_IGEMM);
    cp_context_set_conv_route(ctx, CP_CONV_GEMM);
    c = cp_conv_route_for(ctx, &l);
    for (int p = 0; p < 3; p++) ck_assert_int_eq(c.pass[p], CP_CONV_GEMM);
    cp_gemm_args g = {.m = 8, .n = 8, .k = 8};
    ck_assert_int_eq(cp_gemm_route_for(ctx, &g).backend, CP_GEMM_CLBLAST);
    cp_context_free(ctx);

    /* Own kernels on every device type. */
    o = cp_context_options_default();
    o.gemm = CP_GEMM_PREFER_OWN;
    TU_OK(cp_context_create_with(&o, &ctx));
    ck_assert_int_eq(cp_gemm_route_for(ctx, &g).backend, CP_GEMM_OWN);
    cp_context_free(ctx);
    clear_env();
}
END_TEST

/* The options' strings are the context's own copies. */
START_TEST(options_are_copied)
{
    char dir[64];
    snprintf(dir, sizeof dir, "%s", "/no/such/kernel/folder");
    cp_context_options o = cp_context_options_default();
    o.kernel_dir = dir;
    cp_context *ctx;
    TU_OK(cp_context_create_with(&o, &ctx));
    memset(dir, 0, sizeof dir);
    ck_assert_str_eq(cp_context_options_of(ctx)->kernel_dir, "/no/such/kernel/folder");
    cl_kernel k;
    ck_assert_int_eq(cp_kernel_get(ctx, "util.cl", "", "axpy_f32", &k), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "/no/such/kernel/folder"));
    cp_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("env_options");
    TCase *tc = tcase_create("env_options");
    tcase_add_test(tc, variables_map_onto_options);
    tcase_add_test(tc, options_reach_the_routes);
    tcase_add_test(tc, options_are_copied);
    tcase_add_test(tc, versions_follow_the_device_variable);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
