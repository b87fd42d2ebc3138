/* clinpaint bench: `--quick --json F` exits 0 and F has the documented
 * shape (keys and types, never speeds); `--load F --compare F` prints
 * ratios of 1.00; usage errors and unknown devices exit 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util/cli_run.h"
#include "util/test_util.h"

#define RUN(...) tu_cli_run((const char *const[]){__VA_ARGS__, NULL}, NULL)

static char *work, *json_path;

static const char *json_file(void)
{
    if (!json_path) {
        const char *tmp = getenv("TMPDIR");
        work = malloc(1024);
        if (!work) abort();
        snprintf(work, 1024, "%s/cp-bench-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(work)) abort();
        json_path = malloc(strlen(work) + 16);
        if (!json_path) abort();
        sprintf(json_path, "%s/bench.json", work);
    }
    return json_path;
}

static cJSON *load(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    ck_assert_msg(j != NULL, "%s does not parse as JSON", path);
    return j;
}

static const cJSON *get(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(v != NULL, "missing key '%s'", key);
    return v;
}

static void is_num(const cJSON *o, const char *key)
{
    ck_assert_msg(cJSON_IsNumber(get(o, key)), "'%s' is not a number", key);
}

static void is_str(const cJSON *o, const char *key)
{
    ck_assert_msg(cJSON_IsString(get(o, key)), "'%s' is not a string", key);
}

static void is_stat(const cJSON *o, const char *key)
{
    const cJSON *s = get(o, key);
    ck_assert_msg(cJSON_IsObject(s), "'%s' is not an object", key);
    const char *const k[] = {"median", "min", "q1", "q3", "max", "runs"};
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) is_num(s, k[i]);
    ck_assert(get(s, "min")->valuedouble <= get(s, "median")->valuedouble);
    ck_assert(get(s, "median")->valuedouble <= get(s, "max")->valuedouble);
    ck_assert(get(s, "runs")->valuedouble >= 1);
}

START_TEST(usage_errors_exit_2)
{
    tu_cli_result r = RUN("bench", "--help");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: clinpaint bench"));
    tu_cli_free(&r);
    const char *const bad[][3] = {
        {"bench", "--frobnicate", NULL}, {"bench", "--batch", "0"},
        {"bench", "--batch", "x"},       {"bench", "--preset", "huge"},
        {"bench", "--json", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = tu_cli_run(bad[i], NULL);
        ck_assert_msg(r.exit_code == 2, "%s %s: exit %d", bad[i][1], bad[i][2] ? bad[i][2] : "",
                      r.exit_code);
        ck_assert_ptr_nonnull(strstr(r.err, "clinpaint bench"));
        tu_cli_free(&r);
    }
    r = RUN("bench", "--quick", "--device", "no-such-device-anywhere");
    ck_assert_int_eq(r.exit_code, 2);
    tu_cli_free(&r);
}
END_TEST

START_TEST(quick_json_has_every_figure)
{
    const char *path = json_file();
    tu_cli_result r = RUN("bench", "--quick", "--json", path);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "sgemm"));
    ck_assert_ptr_nonnull(strstr(r.out, "images/s"));
    tu_cli_free(&r);

    cJSON *j = load(path);
    ck_assert_int_eq(get(j, "format_version")->valueint, 1);
    is_str(j, "clinpaint_version");
    is_str(j, "platform");
    is_str(j, "clblast_version");
    const cJSON *devs = get(j, "devices");
    ck_assert(cJSON_IsArray(devs));
    ck_assert_int_ge(cJSON_GetArraySize(devs), 1);
    const cJSON *d;
    cJSON_ArrayForEach(d, devs)
    {
        is_str(d, "name");
        is_str(d, "id");
        is_str(d, "platform");
        is_str(d, "driver_version");
        is_str(d, "gemm_route");
        const cJSON *g = get(d, "gemm"), *e;
        ck_assert(cJSON_IsArray(g));
        ck_assert_int_eq(cJSON_GetArraySize(g), 3);
        cJSON_ArrayForEach(e, g)
        {
            is_num(e, "n");
            is_num(e, "gflops");
            is_str(e, "route");
            ck_assert(get(e, "gflops")->valuedouble > 0);
            is_stat(e, "ms");
        }
        is_num(d, "gemm_ceiling_gflops");
        const cJSON *bw = get(d, "bandwidth");
        is_num(bw, "gbs");
        is_num(bw, "bytes");
        is_stat(bw, "ms");
        const cJSON *ls = get(d, "layers");
        ck_assert(cJSON_IsArray(ls));
        ck_assert_int_eq(cJSON_GetArraySize(ls), 5);
        const char *const names[] = {"conv3", "conv2", "up2", "dense", "elementwise"};
        int k = 0;
        cJSON_ArrayForEach(e, ls)
        {
            ck_assert_str_eq(get(e, "name")->valuestring, names[k++]);
            is_stat(e, "fwd_ms");
            is_stat(e, "bwd_ms");
            is_num(e, "fwd_gflops");
            is_num(e, "bwd_gflops");
            is_num(e, "fwd_share");
            is_num(e, "bwd_share");
            is_num(e, "intensity");
            const char *lim = get(e, "limited_by")->valuestring;
            ck_assert(strcmp(lim, "compute") == 0 || strcmp(lim, "memory") == 0);
        }
        const cJSON *it = get(d, "iteration");
        ck_assert(cJSON_IsObject(it));
        is_num(it, "batch");
        is_num(it, "images_per_s");
        ck_assert(get(it, "images_per_s")->valuedouble > 0);
        is_stat(it, "ms");
        is_num(it, "idle_share");
        ck_assert(cJSON_IsArray(get(d, "iterations")));
        const cJSON *inf = get(d, "inference");
        ck_assert(cJSON_IsArray(inf));
        ck_assert_int_eq(cJSON_GetArraySize(inf), 2);
        cJSON_ArrayForEach(e, inf)
        {
            is_num(e, "batch");
            is_num(e, "images_per_s");
            is_stat(e, "ms");
        }
        const cJSON *m = get(d, "memory");
        is_num(m, "model_bytes");
        is_num(m, "arena_bytes");
        is_num(m, "peak_bytes");
        ck_assert(get(m, "peak_bytes")->valuedouble >= get(m, "arena_bytes")->valuedouble);
        const cJSON *s = get(d, "startup");
        ck_assert(cJSON_IsObject(s));
        ck_assert(cJSON_IsObject(get(s, "cached")) || cJSON_IsNull(get(s, "cached")));
        ck_assert(cJSON_IsObject(get(s, "cold")) || cJSON_IsNull(get(s, "cold")));
        is_num(s, "bench_builds");
    }
    cJSON_Delete(j);

    /* The saved file against itself: every matched figure's ratio is 1.00. */
    r = RUN("bench", "--load", path, "--compare", path);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "ratio"));
    const char *p = strstr(r.out, "compare device 0");
    ck_assert_ptr_nonnull(p);
    int lines = 0;
    for (const char *l = strchr(p, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
        char key[200], ratio[32];
        double a, b;
        if (sscanf(l + 1, " %199s %lf %lf %31s", key, &a, &b, ratio) == 4) {
            ck_assert_msg(strcmp(ratio, "1.00") == 0, "%s: ratio %s", key, ratio);
            lines++;
        }
    }
    ck_assert_int_ge(lines, 20);
    ck_assert_ptr_nonnull(strstr(r.out, "iterations[b=2].images_per_s"));
    tu_cli_free(&r);

    /* A file that is not a bench result. */
    r = RUN("bench", "--load", "/nonexistent/bench.json");
    ck_assert_int_ne(r.exit_code, 0);
    tu_cli_free(&r);
}
END_TEST

int main(void)
{
    (void)json_file(); /* before any forked test: main removes it */
    Suite *s = suite_create("cmd_bench");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, quick_json_has_every_figure);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    if (work) tu_rmdir(work);
    free(work);
    free(json_path);
    return rc;
}
