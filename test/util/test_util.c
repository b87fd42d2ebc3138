#define _XOPEN_SOURCE 700
#include "util/test_util.h"
#include "env_options.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cp_context *g_ctx;

cp_context *tu_ctx(void)
{
    if (!g_ctx) {
        cp_status st = env_context_create(NULL, &g_ctx);
        ck_assert_msg(st == CP_OK, "no OpenCL device for tests: %s", cp_last_error());
    }
    return g_ctx;
}

void tu_ctx_release(void)
{
    cp_context_free(g_ctx);
    g_ctx = NULL;
}

void tu_fill_uniform(cp_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * cp_rng_uniform(r);
}

void tu_tensor_uniform(cp_rng *r, int ndim, const int64_t *shape, float lo, float hi,
                       const char *name, cp_tensor *out)
{
    TU_OK(cp_tensor_create(tu_ctx(), ndim, shape, name, out));
    size_t n = cp_tensor_numel(out);
    float *h = malloc(n * sizeof *h);
    ck_assert_ptr_nonnull(h);
    tu_fill_uniform(r, h, n, lo, hi);
    TU_OK(cp_tensor_upload(tu_ctx(), out, h));
    free(h);
}

cp_tensor tu_tensor_from(const float *host, int64_t n, int64_t c, int64_t h, int64_t w,
                         const char *name)
{
    cp_tensor t;
    TU_OK(cp_tensor_create4(tu_ctx(), n, c, h, w, name, &t));
    TU_OK(cp_tensor_upload(tu_ctx(), &t, host));
    return t;
}

cp_tensor tu_tensor_poisoned(int64_t n, int64_t c, int64_t h, int64_t w, const char *name)
{
    cp_tensor t;
    TU_OK(cp_tensor_create4(tu_ctx(), n, c, h, w, name, &t));
    TU_OK(cp_tensor_fill(tu_ctx(), &t, NAN));
    return t;
}

float *tu_download(const cp_tensor *t)
{
    float *h = malloc(cp_tensor_numel(t) * sizeof *h);
    ck_assert_ptr_nonnull(h);
    TU_OK(cp_tensor_download(tu_ctx(), t, h));
    return h;
}

double tu_max_err(const float *got, const double *want, size_t n, double atol, double rtol,
                  size_t *worst)
{
    double m = 0;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (atol + rtol * fabs(want[i]));
        if (isnan(e) || isnan(got[i])) e = INFINITY;
        if (e > m) {
            m = e;
            *worst = i;
        }
    }
    return m;
}

void tu_assert_close(const char *what, const float *got, const double *want, size_t n,
                     double atol, double rtol)
{
    size_t w;
    double e = tu_max_err(got, want, n, atol, rtol, &w);
    ck_assert_msg(e <= 1.0,
                  "%s: element %zu is %.9g, expected %.9g (atol %g, rtol %g, error ratio %g)",
                  what, w, n ? (double)got[w] : 0.0, n ? want[w] : 0.0, atol, rtol, e);
}

char *tu_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[1024];
    snprintf(tmpl, sizeof tmpl, "%s/clinpaint-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    char *out = malloc(strlen(d) + 1);
    ck_assert_ptr_nonnull(out);
    strcpy(out, d);
    return out;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmdir(const char *path)
{
    if (path) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_tmp;

void tu_tmp_setup(void) { tu_tmp = tu_tempdir(); }

void tu_tmp_teardown(void)
{
    tu_rmdir(tu_tmp);
    free(tu_tmp);
    tu_tmp = NULL;
}

char *tu_tmp_path(const char *name)
{
    static char buf[4096];
    ck_assert_ptr_nonnull(tu_tmp);
    snprintf(buf, sizeof buf, "%s/%s", tu_tmp, name);
    return buf;
}

void tu_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    if (n) ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

char *tu_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    char *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    *n = (size_t)size;
    return buf;
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    /* No fork: one OpenCL context per process is cheaper, and ASan sees all. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tu_ctx_release();
    return failed == 0 ? 0 : 1;
}

void tu_write_small_model(const char *path, int size, uint64_t seed, const cp_meta_entry *meta,
                          int n_meta)
{
    cp_model_config cfg = {"custom", size, {4, 8, 8, 8, 8, 8}, 16, false};
    cp_model *m;
    TU_OK(cp_model_create(tu_ctx(), &cfg, &m));
    TU_OK(cp_model_init(m, seed));
    TU_OK(cp_checkpoint_save(m, path, meta, n_meta));
    cp_model_free(m);
}

cp_node *tu_g_param_uniform(cp_graph *g, cp_rng *r, const char *name, int ndim,
                            const int64_t *shape, float scale, cp_tensor *p)
{
    TU_OK(cp_tensor_create(tu_ctx(), ndim, shape, name, p));
    size_t n = cp_tensor_numel(p);
    float *h = malloc(n * sizeof *h);
    ck_assert_ptr_nonnull(h);
    tu_fill_uniform(r, h, n, -scale, scale);
    TU_OK(cp_tensor_upload(tu_ctx(), p, h));
    free(h);
    return cp_g_param(g, p, 0);
}
