/* Internal: pieces shared by the benchmark's files. */
#ifndef CP_BENCH_INTERNAL_H
#define CP_BENCH_INTERNAL_H

#include "clinpaint/ops.h"

/* A fixed batch: uniform noise images in [-1, 1) and the centre-square
 * mask, so every run times the same work. */
void cp_bench_fill_batch(float *x, float *m, int batch, int s);

/* Monotonic wall-clock seconds (bench_timing.c). */
double cp_bench_now_s(void);

/* One run of the work a benchmark times. */
typedef cp_status (*cp_bench_run_fn)(cp_context *ctx, void *u);

/* A GEMM the benchmarks time: its arguments and CLBlast's temporary (NULL
 * for none); cp_bench_run_gemm runs it as a cp_bench_run_fn. */
typedef struct cp_bench_gemm_run {
    cp_gemm_args g;
    cl_mem ws;
} cp_bench_gemm_run;
cp_status cp_bench_run_gemm(cp_context *ctx, void *u);

#endif
