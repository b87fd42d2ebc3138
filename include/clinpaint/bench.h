/* Device benchmark behind `clinpaint bench` (see docs/bench.md): device
 * ceilings (SGEMM through cp_gemm, copy bandwidth), per layer type forward
 * and backward times against those ceilings, full training iterations
 * (MODEL.md: G forward, D step, G step, exactly as the trainer runs them),
 * inference, memory, and the share of time the device idles.
 *
 * Method: every figure is measured after a warm-up run (kernel builds and
 * CLBlast compilation happen there, never in a timed run); repetitions are
 * calibrated so that each figure takes about `seconds_per_figure`; the
 * median and the spread (min, max, quartiles) are reported. */
#ifndef CLINPAINT_BENCH_H
#define CLINPAINT_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/bench_ops.h"
#include "clinpaint/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_BENCH_MAX_BATCHES 8
#define CP_BENCH_GEMM_SIZES 3

/* Timings of one figure, in milliseconds. */
typedef struct cp_bench_stat {
    double median, min, max, q1, q3;
    int runs;
} cp_bench_stat;

typedef struct cp_bench_config {
    const char *preset;              /* "tiny", "small", "base" */
    int batches[CP_BENCH_MAX_BATCHES]; /* training batches to measure */
    int batch_count;
    double seconds_per_figure;       /* <= 0: 1.0 */
    int min_runs;                    /* <= 0: 3 */
    int gemm_sizes[CP_BENCH_GEMM_SIZES]; /* 0 entries skipped */
    uint64_t bandwidth_bytes;        /* copy size; 0: 64 MiB (capped by the device) */
    int infer_batches[2];            /* 0 entries skipped */
    void (*progress)(void *user, const char *line);
    void *progress_user;
} cp_bench_config;

typedef struct cp_bench_gemm {
    int n;
    char route[96]; /* the route cp_gemm took: "clblast" or "own rowvec tm4 tn2 vw16 ..." */
    cp_bench_stat ms;
    double gflops; /* at the median */
} cp_bench_gemm;

/* One layer type: conv3, conv2, up2, dense (from cp_bench_ops, each shape
 * weighted by its uses in one pass of G and D), or "elementwise" (every
 * other op of a profiled training iteration). */
typedef struct cp_bench_layer_type {
    char name[16];
    int shapes, uses;            /* distinct shapes / layers (elementwise: nodes) */
    cp_bench_stat fwd_ms, bwd_ms; /* sums over shapes of the per-shape figures */
    double fwd_gflop, bwd_gflop;
    double fwd_gflops, bwd_gflops; /* achieved, at the medians */
    double fwd_share, bwd_share;   /* of the SGEMM ceiling (elementwise: of bandwidth) */
    double bytes;                  /* bytes moved by one fwd + bwd (estimate) */
    double intensity;              /* (fwd + bwd) flop per byte */
    double gbs;                    /* achieved GB/s (elementwise only, else 0) */
    bool memory_bound;             /* intensity below the device's flop/byte ridge */
} cp_bench_layer_type;

typedef struct cp_bench_iteration {
    int batch;
    bool fits;             /* false: out of device memory at this batch (note says why) */
    char note[256];
    cp_bench_stat ms;
    double images_per_s;
    double idle_share;     /* from one profiled run (OpenCL event timestamps) */
    double profiled_wall_ms, profiled_busy_ms;
    uint64_t arena_bytes, model_bytes, peak_bytes;
} cp_bench_iteration;

typedef struct cp_bench_inference {
    int batch;
    bool fits;
    char note[256];
    cp_bench_stat ms;
    double images_per_s;
    uint64_t arena_bytes;
} cp_bench_inference;

typedef struct cp_bench_result {
    cp_device_info device;
    char preset[16];
    int image_size;
    char gemm_route[160];
    cp_bench_gemm gemm[CP_BENCH_GEMM_SIZES];
    int gemm_count;
    double gemm_ceiling_gflops; /* best of gemm[] */
    cp_bench_stat bandwidth_ms;
    uint64_t bandwidth_bytes;   /* read + write bytes per copy */
    double bandwidth_gbs;       /* at the median */
    double ridge_flop_per_byte; /* ceiling GFLOP/s / GB/s */
    cp_bench_layer_type layers[5];
    int layer_count;
    int layers_batch;           /* batch of the conv/up2/dense figures (halved
                                   from the first --batch if a layer did not fit) */
    cp_bench_iteration iterations[CP_BENCH_MAX_BATCHES];
    int iteration_count;
    cp_bench_inference inference[2];
    int inference_count;
    cp_program_stats programs;  /* kernel builds of this process */
    double seconds;             /* wall time of the whole benchmark */
} cp_bench_result;

cp_bench_config cp_bench_defaults(void);

/* Runs everything on ctx. */
cp_status cp_bench_run(cp_context *ctx, const cp_bench_config *cfg, cp_bench_result *out);

/* Start-up probe (run in a child process by `clinpaint bench`): a fresh
 * context with `options` (and the device's tuning file applied when
 * `apply_tuning`, as a command starts), the model and training graph of the
 * preset at `batch`, one iteration. Times in seconds. */
typedef struct cp_bench_startup {
    double context_s, first_iter_s, total_s;
    cp_program_stats programs;
} cp_bench_startup;
cp_status cp_bench_startup_probe(const cp_context_options *options, bool apply_tuning,
                                 const char *preset, int batch, cp_bench_startup *out);

/* Median etc. of `n` samples (sorted in place), in the samples' unit. */
cp_bench_stat cp_bench_stat_of(double *samples, int n);

#ifdef __cplusplus
}
#endif
#endif
