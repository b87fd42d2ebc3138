/* clinpaint GEMM routing and tuning.
 *
 * cp_gemm sends each GEMM either to CLBlast or to clinpaint's own kernels
 * (cl/gemm.cl), per "shape class" (transposes and the rough size of m, n,
 * k). The choice comes from a tuning file for the device when one has been
 * applied (`clinpaint tune` writes it; cp_context_create applies it), else
 * from a default: own kernels on CPU devices, CLBlast elsewhere.
 * Routes are kept per OpenCL device, process-wide (as CLBlast's parameter
 * overrides are). */
#ifndef CLINPAINT_TUNE_H
#define CLINPAINT_TUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/ops.h"
#include "clinpaint/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cp_gemm_backend {
    CP_GEMM_CLBLAST = 0,
    CP_GEMM_OWN = 1,
} cp_gemm_backend;

typedef enum cp_gemm_kernel {
    CP_GEMM_K_ROWVEC = 0, /* register tile vectorised along n (any transposes) */
    CP_GEMM_K_DOT = 1,    /* vectorised along k (trans_b && !trans_a only) */
    CP_GEMM_K_LOCAL = 2,  /* local-memory tiles (GPU style) */
} cp_gemm_kernel;

typedef struct cp_gemm_route {
    cp_gemm_backend backend;
    cp_gemm_kernel kernel; /* own kernels only */
    int tm, tn, vw, lx, ly;
    int tk; /* local kernel: k tile; rowvec/dot: k chunk between barriers (0: none) */
} cp_gemm_route;

/* Shape class: transposes and floor(log2(x) / 2) of m, n, k (capped). */
typedef struct cp_gemm_class {
    bool ta, tb;
    int lm, ln, lk;
} cp_gemm_class;

cp_gemm_class cp_gemm_class_of(bool ta, bool tb, size_t m, size_t n, size_t k);
bool cp_gemm_class_eq(cp_gemm_class a, cp_gemm_class b);

/* The route cp_gemm takes for these arguments on ctx's device. */
cp_gemm_route cp_gemm_route_for(cp_context *ctx, const cp_gemm_args *g);
/* The default own-kernel route for a transpose case and m (used untuned on CPUs). */
cp_gemm_route cp_gemm_default_own(bool ta, bool tb, size_t m);
/* Runs one GEMM through an explicit route (what cp_gemm does after routing). */
cp_status cp_gemm_with_route(cp_context *ctx, const cp_gemm_args *g, const cp_gemm_route *r,
                             cl_mem workspace, size_t workspace_off);

/* Forces one route for every GEMM on ctx's device (tests, benchmarks);
 * NULL removes the override. */
void cp_gemm_force_route(cp_context *ctx, const cp_gemm_route *r);
/* Replaces the per-class table for ctx's device (count 0 clears it). */
cp_status cp_gemm_set_routes(cp_context *ctx, const cp_gemm_class *classes,
                             const cp_gemm_route *routes, int count);

/* ---- tuning ---- */

/* One GEMM shape a model uses, with a label ("G.enc1.conv3 fwd"). */
typedef struct cp_gemm_shape {
    bool ta, tb;
    size_t m, n, k;
    char label[64];
} cp_gemm_shape;

/* The GEMM shapes of the training graph of a preset at batch `batch`
 * (conv forward / dx / dw, transposed conv, dense), deduplicated. With a
 * context, the passes its device runs without GEMM (the direct convolution
 * kernels of CPU devices) are left out; ctx NULL lists them all. Caller
 * frees *shapes. */
cp_status cp_tune_model_shapes(cp_context *ctx, const char *preset, int batch,
                               cp_gemm_shape **shapes, int *count);

/* Path of the tuning file of ctx's device in the cache folder (keyed by
 * device name and driver version); false if there is no cache folder. */
bool cp_tune_file_path(cp_context *ctx, char *path, size_t size);

typedef struct cp_tune_options {
    const cp_gemm_shape *shapes; /* what to tune for */
    int shape_count;
    double budget_seconds;       /* stop starting new candidates after this (<= 0: none) */
    bool try_clblast_params;     /* time CLBlast parameter sets (slow to compile) */
    int repetitions;             /* timed runs per candidate (>= 1) */
    const char *path;            /* NULL: cp_tune_file_path */
    void (*progress)(void *user, const char *line);
    void *user;
} cp_tune_options;

/* Times candidates per shape class, verifies them against untuned CLBlast,
 * keeps the fastest, saves after every class (a rerun resumes: classes
 * already in the file are skipped) and applies the result. */
cp_status cp_tune_run(cp_context *ctx, const cp_tune_options *opt);

/* Loads the device's tuning file (if any) and applies it: CLBlast parameter
 * overrides and the routing table. A missing file is CP_OK; a corrupt one is
 * CP_ERR_FORMAT and changes nothing. Environment: CLINPAINT_NO_TUNE=1 skips
 * the file; CLINPAINT_GEMM=clblast routes every GEMM to CLBlast. */
cp_status cp_tune_apply(cp_context *ctx);
cp_status cp_tune_apply_file(cp_context *ctx, const char *path);

/* Mean seconds of one GEMM through `r` over `reps` runs (after a warm-up). */
cp_status cp_gemm_time(cp_context *ctx, const cp_gemm_args *g, const cp_gemm_route *r,
                       int reps, double *seconds);

#ifdef __cplusplus
}
#endif
#endif
