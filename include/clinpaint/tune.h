/* clinpaint GEMM routing and tuning.
 *
 * cp_gemm sends each GEMM either to CLBlast or to clinpaint's own kernels
 * (cl/gemm.cl), per "shape class" (transposes and the rough size of m, n,
 * k). The choice comes from a tuning file for the device when one has been
 * applied (`clinpaint tune` writes it; cp_tune_apply applies it, a step of
 * its own after cp_context_create_with, which every command takes), else
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

/* ---- convolution routes ----
 * Each pass (forward, dx, dw) of each convolution layer shape runs on one
 * route: im2col + GEMM (own kernels or CLBlast, by the GEMM routing above),
 * the direct kernels of CPU devices (stride 1, width kept, widths divisible
 * by 4; the up2 transposed convolution) or the implicit GEMM of GPU-class
 * devices (any layer). The choice per layer shape is measured: on first use
 * of a device (a bounded budget, when a tuning file was applied or could
 * be: cp_tune_apply) and by cp_tune_conv_run; it is kept in the tuning
 * file. Until a shape is measured the device type picks the default:
 * direct where it is faster on CPUs (notes/ops.md), im2col + CLBlast
 * elsewhere. A forced route (cp_context_options.conv_route, which the
 * command takes from CLINPAINT_CONV=gemm|direct|igemm, or
 * cp_conv_force_route) overrides all of that (direct: where the shape
 * allows it, else GEMM). */
/* cp_conv_route and CP_CONV_ROUTES: include/clinpaint/runtime.h. */

/* "auto", "gemm", "direct", "igemm"; parse: false for anything else. */
const char *cp_conv_route_name(cp_conv_route r);
bool cp_conv_route_parse(const char *s, cp_conv_route *r);

/* A layer shape: a convolution (weights [c_out, c_in, kh, kw]) or a
 * transposed one (weights [c_in, c_out, kh, kw]) on an input [n, c_in, h, w]. */
typedef struct cp_conv_layer {
    bool transposed;
    cp_conv_params p;
    int64_t n, c_in, h, w, c_out;
} cp_conv_layer;

enum { CP_CONV_FWD = 0, CP_CONV_DX = 1, CP_CONV_DW = 2 };
typedef struct cp_conv_choice {
    cp_conv_route pass[3]; /* by CP_CONV_FWD, _DX, _DW; never CP_CONV_AUTO */
    bool measured;         /* false: the device type's default */
} cp_conv_choice;

/* The routes the passes of this layer take on ctx's device. The first answer
 * for a shape is kept for the life of the process (workspaces are sized
 * from it). */
cp_conv_choice cp_conv_route_for(cp_context *ctx, const cp_conv_layer *l);
/* The device type's choice for this layer when nothing is measured. */
cp_conv_choice cp_conv_route_default(cp_context *ctx, const cp_conv_layer *l);
/* Whether `r` can run pass `pass` of this layer (GEMM and igemm: always). */
bool cp_conv_route_applies(const cp_conv_layer *l, int pass, cp_conv_route r);
/* Forces one route for every convolution on ctx's device (CP_CONV_AUTO
 * removes the override; the context's own conv_route option, read at each
 * call, wins over it). */
void cp_conv_force_route(cp_context *ctx, cp_conv_route r);

/* Times every route that applies to each pass of `l` (the fastest of 1 +
 * reps runs, after a run that builds its kernels; a route slower than 4x the best on its first timed
 * run is not timed further; with a batch above 1, routes 4x slower than the
 * best at batch 1 are not run at the full batch),
 * checks each result against im2col + GEMM's, and fills the fastest that
 * matches into *choice (measured = true; the device type's default stays
 * unless another route is at least 10 % faster). seconds[pass][route]: that time,
 * or a negative value where not timed or rejected. */
cp_status cp_conv_measure(cp_context *ctx, const cp_conv_layer *l, int reps,
                          cp_conv_choice *choice, double seconds[3][CP_CONV_ROUTES]);
/* Test hook: when set, measured times pass through it before they are
 * compared (tests inject timings). Not thread-safe. */
extern double (*cp_conv_timing_hook)(const cp_conv_layer *l, int pass, cp_conv_route r,
                                     double seconds);

/* Measures the routes of every convolution layer of a preset at `batch`
 * (layers already measured in the tuning file are skipped unless `redo`),
 * within budget_seconds (<= 0: none; at least one layer is measured), saves them to the tuning file after
 * each layer and applies them. */
cp_status cp_tune_conv_run(cp_context *ctx, const char *preset, int batch,
                           double budget_seconds, bool redo,
                           void (*progress)(void *user, const char *line), void *user);
/* Adds (or replaces) the choice for l in the device's routes file (ms: the
 * chosen routes' milliseconds per pass, or NULL) and records it in the
 * route table. */
cp_status cp_tune_conv_save(cp_context *ctx, const cp_conv_layer *l, const cp_conv_choice *c,
                            const double *ms);
/* Loads the device's convolution routes file (beside the tuning file) into
 * the route table and allows first-use measurement (a few seconds per
 * process) of layer shapes it does not hold; cp_tune_apply calls it. */
cp_status cp_tune_conv_apply(cp_context *ctx);
/* The convolution layers of a preset's training graph at `batch`
 * (deduplicated). Caller frees *layers. */
cp_status cp_tune_conv_layers(const char *preset, int batch, cp_conv_layer **layers,
                              int *count);

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
 * CP_ERR_FORMAT and changes nothing. A context without a cache folder
 * (cp_context_options.cache_dir) has no file. The command calls it after
 * creating its context unless CLINPAINT_NO_TUNE=1 (which so skips the file,
 * the convolution routes' file and first-use measurement). */
cp_status cp_tune_apply(cp_context *ctx);
cp_status cp_tune_apply_file(cp_context *ctx, const char *path);

/* Mean seconds of one GEMM through `r` over `reps` runs (after a warm-up). */
cp_status cp_gemm_time(cp_context *ctx, const cp_gemm_args *g, const cp_gemm_route *r,
                       int reps, double *seconds);

#ifdef __cplusplus
}
#endif
#endif
