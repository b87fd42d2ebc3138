/* Shared test helpers: one device context per test process, random data,
 * NaN poisoning, comparisons with tolerances, temporary folders. */
#ifndef CP_TEST_UTIL_H
#define CP_TEST_UTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/clinpaint.h"
#include "clinpaint/rng.h"
#include "env_options.h" /* the tools' environment mapping */

/* The device context for tests ($CLINPAINT_DEVICE or the default device),
 * created on first use and freed at exit. Fails the test if none. */
cp_context *tu_ctx(void);
void tu_ctx_release(void);

/* ck_assert on a cp_status, printing cp_last_error() on failure. */
#define TU_OK(expr)                                                               \
    do {                                                                          \
        cp_status tu_st_ = (expr);                                                \
        ck_assert_msg(tu_st_ == CP_OK, "%s -> %s: %s", #expr, cp_status_str(tu_st_), \
                      cp_last_error());                                           \
    } while (0)

/* Uniform floats in [lo, hi). */
void tu_fill_uniform(cp_rng *r, float *x, size_t n, float lo, float hi);
/* A parameter leaf of g bound to *p, a new tensor of `shape` filled from r
 * uniformly in [-scale, scale) (the graph tests' small networks). */
cp_node *tu_g_param_uniform(cp_graph *g, cp_rng *r, const char *name, int ndim,
                            const int64_t *shape, float scale, cp_tensor *p);

/* Creates *out with `shape` on tu_ctx() and fills it with uniform floats
 * in [lo, hi) from r (graph parameters). */
void tu_tensor_uniform(cp_rng *r, int ndim, const int64_t *shape, float lo, float hi,
                       const char *name, cp_tensor *out);

/* A device tensor holding host data (created and uploaded). */
cp_tensor tu_tensor_from(const float *host, int64_t n, int64_t c, int64_t h, int64_t w,
                         const char *name);
/* A device tensor filled with NaN, so unwritten elements show. */
cp_tensor tu_tensor_poisoned(int64_t n, int64_t c, int64_t h, int64_t w, const char *name);
/* Downloads into a new malloc'ed array. */
float *tu_download(const cp_tensor *t);

/* Max over i of |a-b| / (atol + rtol*|b|); > 1 means out of tolerance.
 * NaN anywhere counts as out of tolerance. Reports the worst index. */
double tu_max_err(const float *got, const double *want, size_t n, double atol,
                  double rtol, size_t *worst);
/* ck_assert that got matches want within (atol, rtol), naming `what`. */
void tu_assert_close(const char *what, const float *got, const double *want, size_t n,
                     double atol, double rtol);

/* mkdtemp under $TMPDIR (or /tmp); rm -r of it. */
char *tu_tempdir(void);
/* An initialised (untrained) checkpoint of the small model the CLI tests
 * use (widths 4,8,8,8,8,8, latent 16, no batch norm) at `size` px. */
void tu_write_small_model(const char *path, int size, uint64_t seed, const cp_meta_entry *meta,
                          int n_meta);
void tu_rmdir(const char *path);

/* A fresh temporary folder per test: add tu_tmp_setup/tu_tmp_teardown as a
 * checked fixture; tu_tmp is the folder while a test runs. */
extern char *tu_tmp;
void tu_tmp_setup(void);
void tu_tmp_teardown(void);
/* tu_tmp/name, in a static buffer that the next call overwrites. */
char *tu_tmp_path(const char *name);

/* Writes n bytes to path; fails the test on any error. */
void tu_write_file(const char *path, const void *data, size_t n);
/* The whole file, malloc'ed with a NUL after its *n bytes (for text);
 * fails the test if it cannot be read. */
char *tu_read_file(const char *path, size_t *n);

/* Runs a Check suite and returns the exit code for main(). */
int tu_run_suite(Suite *s);

#endif
