/* Tiny driver for the operator benchmark (cp_bench_ops): prints a Markdown
 * table. A CMake target (build/bench_ops), run by tools/bench_ops.sh.
 *   bench_ops [preset] [batch] [min_seconds] [device]                      */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "clinpaint/bench_ops.h"
#include "clinpaint/clinpaint.h"
#include "env_options.h"

static void progress(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "  %s\n", line);
}

int main(int argc, char **argv)
{
    const char *preset = argc > 1 ? argv[1] : "base";
    cp_bench_ops_config cfg = {0};
    if (!cp_bench_ops_preset(preset, &cfg)) {
        fprintf(stderr, "unknown preset %s (tiny, small, base)\n", preset);
        return 2;
    }
    cfg.batch = argc > 2 ? atoi(argv[2]) : 8;
    cfg.min_seconds = argc > 3 ? atof(argv[3]) : 0.3;
    cfg.progress = progress;
    cp_context *ctx;
    if (env_context_create(argc > 4 ? argv[4] : NULL, &ctx) != CP_OK) {
        fprintf(stderr, "%s\n", cp_last_error());
        return 1;
    }
    cp_bench_ops_report r;
    if (cp_bench_ops(ctx, &cfg, &r) != CP_OK) {
        fprintf(stderr, "benchmark failed: %s\n", cp_last_error());
        cp_context_free(ctx);
        return 1;
    }
    char plat[256], blas[64];
    env_runtime_versions(plat, sizeof plat, blas, sizeof blas);
    printf("Device: %s (%s), CLBlast %s. Preset %s (S=%d, widths %d,%d,%d,%d,%d,%d, L=%d), "
           "batch %d, median of runs totalling >= %.2f s per item.\n\n",
           r.device, plat, blas, preset, cfg.image_size, cfg.widths[0], cfg.widths[1],
           cfg.widths[2], cfg.widths[3], cfg.widths[4], cfg.widths[5], cfg.latent, cfg.batch,
           cfg.min_seconds);
    printf("CLBlast SGEMM %d^3: %.1f ms, **%.2f GFLOP/s**\n\n", r.sgemm_size, r.sgemm_ms,
           r.sgemm_gflops);
    printf("| layer shape | used by | fwd ms | fwd GFLOP | fwd GFLOP/s | bwd ms | bwd GFLOP | "
           "bwd GFLOP/s | %% of SGEMM (fwd/bwd) |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < r.count; i++) {
        const cp_bench_op_result *o = &r.ops[i];
        printf("| %s | %s | %.3f | %.4f | %.2f | %.3f | %.4f | %.2f | %.0f / %.0f |\n", o->shape,
               o->used_by, o->fwd_ms, o->fwd_gflop, o->fwd_gflops, o->bwd_ms, o->bwd_gflop,
               o->bwd_gflops, 100 * o->fwd_gflops / r.sgemm_gflops,
               100 * o->bwd_gflops / r.sgemm_gflops);
    }
    printf("\nSum over every layer use of G and D (one forward + one backward each): "
           "forward %.1f ms, backward %.1f ms. Benchmark wall time %.1f s.\n",
           r.total_fwd_ms, r.total_bwd_ms, r.seconds);
    /* On a CPU device the process's CPU time over wall time shows how much of
     * the machine the benchmark actually got (2.0 = both cores of a 2-core
     * machine); other load on the machine lowers it and the GFLOP/s. */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0 && r.seconds > 0)
        printf("Process CPU time / wall time: %.2f.\n",
               ((double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec) / r.seconds);
    cp_bench_ops_report_free(&r);
    cp_context_free(ctx);
    return 0;
}
