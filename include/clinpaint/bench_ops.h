/* Operator benchmark: forward and backward time of every distinct
 * convolution / transposed convolution / dense layer shape of G and D
 * (MODEL.md) for a preset and batch, plus CLBlast SGEMM at n×n×n as the
 * device's GEMM ceiling. This is a benchmark, not the training path: it
 * calls clFinish around every timed run.
 *
 * Method: one warm-up run per item (kernel builds, CLBlast compilation),
 * then repeated runs until at least `min_seconds` (and 3 runs) have been
 * spent on the item; the median run is reported. */
#ifndef CLINPAINT_BENCH_OPS_H
#define CLINPAINT_BENCH_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cp_bench_layer_kind {
    CP_BENCH_CONV3 = 0, /* 3×3, stride 1, pad 1 */
    CP_BENCH_CONV2,     /* 2×2, stride 1, pad 0 top/left, 1 bottom/right */
    CP_BENCH_UP2,       /* 2×2 transposed, stride 2 */
    CP_BENCH_DENSE
} cp_bench_layer_kind;

typedef struct cp_bench_ops_config {
    int image_size;  /* S */
    int widths[6];   /* w1..w6 */
    int latent;      /* L */
    int batch;       /* N */
    double min_seconds; /* per item and direction; <= 0 means 0.3 */
    int sgemm_size;  /* n of the n×n×n SGEMM reference; <= 0 means 1024 */
    /* Optional: called with one line of progress per finished item. */
    void (*progress)(void *user, const char *line);
    void *progress_user;
} cp_bench_ops_config;

typedef struct cp_bench_op_result {
    cp_bench_layer_kind kind;
    char shape[64];    /* e.g. "conv3 4->32 @128x128" or "dense 4096->512" */
    char used_by[192]; /* layers of G and D with this shape, e.g. "G.enc2.conv2 D.enc2.conv2" */
    int uses;          /* how many layers of G and D have this shape */
    int64_t n, c_in, h, w, c_out, ho, wo; /* dense: c_in = F, c_out = out, h=w=ho=wo=1 */
    double fwd_ms, bwd_ms;         /* medians; bwd = dx + dw + db */
    double fwd_gflop, bwd_gflop;   /* 2·MACs (bwd: dx and dw GEMMs) */
    double fwd_gflops, bwd_gflops; /* achieved */
    int fwd_runs, bwd_runs;        /* timed runs behind the medians */
    double fwd_spread[4], bwd_spread[4]; /* min, first quartile, third quartile, max (ms) */
    uint64_t workspace_bytes;
} cp_bench_op_result;

typedef struct cp_bench_ops_report {
    cp_bench_op_result *ops;
    int count;
    int sgemm_size;
    double sgemm_ms, sgemm_gflops; /* CLBlast SGEMM n×n×n, median */
    double total_fwd_ms, total_bwd_ms; /* sum over G's and D's layers (each use counted) */
    double seconds;                /* wall time of the whole benchmark */
    char device[256];
} cp_bench_ops_report;

/* Fills in a preset by name ("tiny", "small", "base"); false if unknown.
 * Sets image_size, widths and latent; leaves the other fields alone. */
bool cp_bench_ops_preset(const char *name, cp_bench_ops_config *cfg);

/* Runs the benchmark. On success *out holds the results; free them with
 * cp_bench_ops_report_free. */
cp_status cp_bench_ops(cp_context *ctx, const cp_bench_ops_config *cfg,
                       cp_bench_ops_report *out);
void cp_bench_ops_report_free(cp_bench_ops_report *r);

#ifdef __cplusplus
}
#endif
#endif
