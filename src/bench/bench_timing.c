/* The timing pieces the benchmarks share (bench_internal.h). */
#include "bench/bench_internal.h"

#include <time.h>

double cp_bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

cp_status cp_bench_run_gemm(cp_context *ctx, void *u)
{
    cp_bench_gemm_run *s = u;
    return cp_gemm(ctx, &s->g, s->ws, 0);
}
