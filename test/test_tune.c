/* GEMM tuning (clinpaint/tune.h): a tiny tuning run writes the device's
 * file, a new context applies it, tuned results equal untuned CLBlast within
 * float tolerance, a corrupt file is ignored, a rerun resumes, the model's
 * shape list is sane. Uses its own cache folder. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "clinpaint/tune.h"
#include "util/test_util.h"

static char *g_dir;

static const cp_gemm_shape shapes[] = {
    {.ta = false, .tb = false, .m = 33, .n = 70, .k = 20, .label = "nn"},
    {.ta = true, .tb = false, .m = 20, .n = 70, .k = 33, .label = "tn"},
    {.ta = false, .tb = true, .m = 33, .n = 20, .k = 70, .label = "nt"},
    {.ta = true, .tb = true, .m = 9, .n = 13, .k = 17, .label = "tt"},
};
#define NSHAPES ((int)(sizeof shapes / sizeof *shapes))

static int n_resumed, n_lines, n_budget_spent;
static void progress(void *user, const char *line)
{
    (void)user;
    n_lines++;
    if (strstr(line, "already tuned")) n_resumed++;
    if (strstr(line, "budget spent")) n_budget_spent++;
}

/* No time budget: the contract is that every class gets tuned then, however
 * slow the device (a budget only stops starting new classes; a rerun
 * resumes, see test_tune_budget). */
static cp_tune_options options(int count)
{
    return (cp_tune_options){.shapes = shapes, .shape_count = count, .budget_seconds = 0,
                             .try_clblast_params = false, .repetitions = 1,
                             .progress = progress};
}

static cJSON *read_json(const char *path);

/* Classes in the tuning file (0 if there is none yet). */
static int classes_in(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    cJSON *j = read_json(path);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "classes"));
    cJSON_Delete(j);
    return n;
}

static cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no tuning file %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    ck_assert_msg(j != NULL, "tuning file is not JSON");
    return j;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* Tensors of `ctx` (not tu_ctx(): buffers belong to one context). */
static cp_tensor from(cp_context *ctx, const float *host, size_t n, const char *name)
{
    cp_tensor t;
    TU_OK(cp_tensor_create4(ctx, 1, 1, 1, (int64_t)n, name, &t));
    TU_OK(cp_tensor_upload(ctx, &t, host));
    return t;
}

static float *down(cp_context *ctx, const cp_tensor *t)
{
    float *h = malloc(cp_tensor_numel(t) * sizeof *h);
    ck_assert(h != NULL);
    TU_OK(cp_tensor_download(ctx, t, h));
    return h;
}

/* Routed (tuned) GEMM vs forced CLBlast on the same data. */
static void compare_with_clblast(cp_context *ctx, const cp_gemm_shape *s, float beta)
{
    cp_rng r;
    cp_rng_seed(&r, 7, 3);
    size_t na = s->m * s->k, nb = s->k * s->n, nc = s->m * s->n;
    float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4);
    ck_assert(a && b && c);
    tu_fill_uniform(&r, a, na, -1, 1);
    tu_fill_uniform(&r, b, nb, -1, 1);
    tu_fill_uniform(&r, c, nc, -1, 1);
    cp_tensor ta = from(ctx, a, na, "A");
    cp_tensor tb = from(ctx, b, nb, "B");
    cp_tensor t1 = from(ctx, c, nc, "C1");
    cp_tensor t2 = from(ctx, c, nc, "C2");
    cp_gemm_args g = {.trans_a = s->ta, .trans_b = s->tb, .m = s->m, .n = s->n, .k = s->k,
                      .alpha = 1.0f, .beta = beta, .a = ta.buf, .lda = s->ta ? s->m : s->k,
                      .b = tb.buf, .ldb = s->tb ? s->k : s->n, .c = t1.buf, .ldc = s->n};
    TU_OK(cp_gemm(ctx, &g, NULL, 0));
    g.c = t2.buf;
    cp_gemm_route clb = {.backend = CP_GEMM_CLBLAST};
    TU_OK(cp_gemm_with_route(ctx, &g, &clb, NULL, 0));
    float *got = down(ctx, &t1), *want = down(ctx, &t2);
    for (size_t i = 0; i < nc; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-5f * (float)s->k + 1e-5f,
                      "%s: tuned %g vs CLBlast %g at %zu", s->label, (double)got[i],
                      (double)want[i], i);
    free(got);
    free(want);
    free(a);
    free(b);
    free(c);
    cp_tensor_free(ctx, &ta);
    cp_tensor_free(ctx, &tb);
    cp_tensor_free(ctx, &t1);
    cp_tensor_free(ctx, &t2);
}

START_TEST(test_tune_file_apply_resume)
{
    cp_context *ctx;
    TU_OK(env_context_create(NULL, &ctx));
    char path[1100];
    ck_assert(cp_tune_file_path(ctx, path, sizeof path));
    ck_assert_msg(strncmp(path, g_dir, strlen(g_dir)) == 0, "file %s not in the cache dir", path);
    remove(path);

    /* First run: only the first shape (a partial tuning). */
    cp_tune_options o = options(1);
    TU_OK(cp_tune_run(ctx, &o));
    cJSON *j = read_json(path);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "classes")), 1);
    cJSON_Delete(j);

    /* Second run resumes: the first class is skipped, the others added. */
    n_resumed = 0;
    o = options(NSHAPES);
    TU_OK(cp_tune_run(ctx, &o));
    ck_assert_int_eq(n_resumed, 1);
    ck_assert_int_gt(n_lines, 3); /* progress is shown */
    j = read_json(path);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "classes")), NSHAPES);
    cJSON_Delete(j);
    cp_context_free(ctx);

    /* A new context applies the file: its routes are the file's. */
    TU_OK(env_context_create(NULL, &ctx));
    j = read_json(path);
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "classes"))
    {
        int ta = cJSON_GetObjectItem(e, "ta")->valueint, tb = cJSON_GetObjectItem(e, "tb")->valueint;
        for (int i = 0; i < NSHAPES; i++) {
            if (shapes[i].ta != ta || shapes[i].tb != tb) continue;
            cp_gemm_args g = {.trans_a = ta, .trans_b = tb, .m = shapes[i].m, .n = shapes[i].n,
                              .k = shapes[i].k};
            cp_gemm_route r = cp_gemm_route_for(ctx, &g);
            bool own = strcmp(cJSON_GetObjectItem(e, "backend")->valuestring, "own") == 0;
            ck_assert_int_eq(r.backend, own ? CP_GEMM_OWN : CP_GEMM_CLBLAST);
            if (own) {
                ck_assert_int_eq(r.tm, cJSON_GetObjectItem(e, "tm")->valueint);
                ck_assert_int_eq(r.vw, cJSON_GetObjectItem(e, "vw")->valueint);
            }
        }
    }
    cJSON_Delete(j);
    /* Tuned results equal untuned CLBlast within float tolerance. */
    for (int i = 0; i < NSHAPES; i++) {
        compare_with_clblast(ctx, &shapes[i], 0.0f);
        compare_with_clblast(ctx, &shapes[i], 1.0f);
    }
    cp_context_free(ctx);

    /* A tuning file for the whole default set of routes must not change the
     * result of a model-like GEMM either. */
    TU_OK(env_context_create(NULL, &ctx));
    cp_gemm_shape conv = {.m = 32, .n = 2048, .k = 144, .label = "conv"};
    compare_with_clblast(ctx, &conv, 0.0f);
    TU_OK(cp_gemm_set_routes(ctx, NULL, NULL, 0));
    cp_context_free(ctx);
}
END_TEST

START_TEST(test_tune_corrupt_file)
{
    cp_context *ctx;
    TU_OK(env_context_create(NULL, &ctx));
    char path[1100];
    ck_assert(cp_tune_file_path(ctx, path, sizeof path));
    cp_context_free(ctx);
    const char *bad[] = {
        "not json at all {",
        "",
        "{\"format\": \"clinpaint-gemm-tune-1\"}",
        "{\"format\": \"other\", \"classes\": []}",
        /* right device fields are filled below; bad class contents */
        NULL,
    };
    for (int i = 0; bad[i]; i++) {
        write_text(path, bad[i]);
        TU_OK(env_context_create(NULL, &ctx)); /* never fails */
        ck_assert_int_eq(cp_tune_apply(ctx), CP_ERR_FORMAT);
        cp_context_free(ctx);
    }
    /* Valid header, invalid entries: vw 3, unknown kernel, unknown CLBlast name. */
    TU_OK(env_context_create(NULL, &ctx));
    const cp_device_info *d = cp_context_device(ctx);
    const char *entries[] = {
        "\"classes\": [{\"ta\":0,\"tb\":0,\"lm\":1,\"ln\":1,\"lk\":1,\"backend\":\"own\","
        "\"kernel\":\"rowvec\",\"tm\":4,\"tn\":2,\"vw\":3,\"lx\":1,\"ly\":1,\"tk\":0}]",
        "\"classes\": [{\"ta\":0,\"tb\":0,\"lm\":1,\"ln\":1,\"lk\":1,\"backend\":\"own\","
        "\"kernel\":\"magic\",\"tm\":4,\"tn\":2,\"vw\":4,\"lx\":1,\"ly\":1,\"tk\":0}]",
        "\"classes\": [{\"ta\":0,\"tb\":0,\"lm\":1,\"ln\":1,\"lk\":1,\"backend\":\"gpu\"}]",
        "\"clblast\": {\"XgemmDirect\": {\"EVIL\": 3}}, \"classes\": []",
        "\"classes\": 5",
    };
    for (size_t i = 0; i < sizeof entries / sizeof *entries; i++) {
        char text[2048];
        snprintf(text, sizeof text,
                 "{\"format\": \"clinpaint-gemm-tune-1\", \"device\": \"%s\", \"driver\": \"%s\", %s}",
                 d->name, d->driver_version, entries[i]);
        write_text(path, text);
        ck_assert_int_eq(cp_tune_apply(ctx), CP_ERR_FORMAT);
    }
    /* Untuned routing still works and is correct. */
    cp_gemm_shape s = {.m = 17, .n = 40, .k = 9, .label = "after corrupt"};
    compare_with_clblast(ctx, &s, 0.0f);
    cp_context_free(ctx);
    /* Not a regular file: refused (CP_ERR_IO) without blocking on a FIFO;
     * a file that is not there is no error (nothing tuned yet). */
    char other[1200];
    snprintf(other, sizeof other, "%s.fifo", path);
    remove(other);
    ck_assert_int_eq(mkfifo(other, 0600), 0);
    TU_OK(env_context_create(NULL, &ctx));
    ck_assert_int_eq(cp_tune_apply_file(ctx, other), CP_ERR_IO);
    remove(other);
    TU_OK(cp_tune_apply_file(ctx, other));
    cp_context_free(ctx);
    /* A tuning run over a corrupt file starts afresh. */
    write_text(path, "{{{{");
    TU_OK(env_context_create(NULL, &ctx));
    cp_tune_options o = options(1);
    TU_OK(cp_tune_run(ctx, &o));
    TU_OK(cp_tune_apply(ctx));
    TU_OK(cp_gemm_set_routes(ctx, NULL, NULL, 0));
    cp_context_free(ctx);
    remove(path);
}
END_TEST

/* The budget's contract: no new class starts once it is spent (whatever
 * the device's speed, so the test cannot depend on how many fit), the run
 * still succeeds and saves what it finished, and a rerun without a budget
 * resumes: the classes done are skipped and the rest tuned. */
START_TEST(test_tune_budget)
{
    cp_context *ctx;
    TU_OK(env_context_create(NULL, &ctx));
    char path[1100];
    ck_assert(cp_tune_file_path(ctx, path, sizeof path));
    remove(path);
    cp_tune_options o = options(NSHAPES);
    o.budget_seconds = 1e-9; /* spent before the first class */
    n_budget_spent = 0;
    TU_OK(cp_tune_run(ctx, &o));
    ck_assert_int_eq(n_budget_spent, 1);
    int done = classes_in(path);
    ck_assert_int_lt(done, NSHAPES);
    n_resumed = 0;
    o.budget_seconds = 0;
    TU_OK(cp_tune_run(ctx, &o));
    ck_assert_int_eq(n_resumed, done);
    ck_assert_int_eq(classes_in(path), NSHAPES);
    TU_OK(cp_gemm_set_routes(ctx, NULL, NULL, 0));
    cp_context_free(ctx);
    remove(path);
}
END_TEST

START_TEST(test_tune_model_shapes)
{
    cp_gemm_shape *s;
    int n;
    TU_OK(cp_tune_model_shapes(NULL, "tiny", 8, &s, &n));
    ck_assert_int_gt(n, 30);
    bool found = false; /* G.enc2.conv3 forward: M 32, N 8192, K 144 */
    for (int i = 0; i < n; i++)
        if (!s[i].ta && !s[i].tb && s[i].m == 32 && s[i].n == 8192 && s[i].k == 144) found = true;
    ck_assert(found);
    free(s);
    /* With the device's direct convolutions, their GEMMs are not listed. */
    cp_context *ctx = tu_ctx();
    int all = n;
    cp_context_set_conv_route(tu_ctx(), CP_CONV_DIRECT);
    TU_OK(cp_tune_model_shapes(ctx, "tiny", 8, &s, &n));
    ck_assert_int_lt(n, all);
    for (int i = 0; i < n; i++) /* G.enc2.conv3 forward runs direct */
        ck_assert(!(!s[i].ta && !s[i].tb && s[i].m == 32 && s[i].n == 8192 && s[i].k == 144));
    free(s);
    cp_context_set_conv_route(tu_ctx(), CP_CONV_GEMM);
    TU_OK(cp_tune_model_shapes(ctx, "tiny", 8, &s, &n));
    ck_assert_int_eq(n, all);
    free(s);
    cp_context_set_conv_route(tu_ctx(), CP_CONV_AUTO);
    ck_assert_int_eq(cp_tune_model_shapes(NULL, "nope", 8, &s, &n), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_tune_model_shapes(NULL, "tiny", 0, &s, &n), CP_ERR_INVALID_ARGUMENT);
}
END_TEST

int main(void)
{
    /* (tu_tempdir asserts, which Check allows only inside a test) */
    const char *base = getenv("TMPDIR");
    char tmpl[1024];
    snprintf(tmpl, sizeof tmpl, "%s/clinpaint-tune-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl)) return 1;
    g_dir = strdup(tmpl);
    if (!g_dir) return 1;
    setenv("CLINPAINT_CACHE_DIR", g_dir, 1);
    unsetenv("CLINPAINT_NO_TUNE");
    unsetenv("CLINPAINT_NO_CACHE");
    Suite *s = suite_create("tune");
    TCase *tc = tcase_create("tune");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_tune_model_shapes);
    tcase_add_test(tc, test_tune_file_apply_resume);
    tcase_add_test(tc, test_tune_corrupt_file);
    tcase_add_test(tc, test_tune_budget);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    tu_rmdir(g_dir);
    free(g_dir);
    return rc;
}
