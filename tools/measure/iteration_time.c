/* Median time of full training iterations (cp_train_step: upload a batch,
 * G forward + D step + G step, read the logged scalars), exactly as the
 * trainer steps. For side-by-side runs with tools/torch_reference.py
 * --bench (notes/bench.md).
 * Usage: iteration_time PRESET BATCH [ITERATIONS] [split]
 * (built by CMake: build/iteration_time). `split`: with a gradient hook
 * that does nothing, so the step runs in three pieces (its cost). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/clinpaint.h"
#include "env_options.h"

static cp_status no_op(void *user, cp_model *m, cp_train_graph *t, int group)
{
    (void)user, (void)m, (void)t, (void)group;
    return CP_OK;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *preset = argc > 1 ? argv[1] : "tiny";
    int batch = argc > 2 ? atoi(argv[2]) : 8, iters = argc > 3 ? atoi(argv[3]) : 10;
    bool split = argc > 4 && strcmp(argv[4], "split") == 0;
    if (batch < 1 || iters < 1 || (argc > 4 && !split)) {
        fprintf(stderr, "usage: iteration_time [tiny|small|base] [batch] [iterations] [split]\n");
        return 2;
    }
    cp_context *ctx = NULL;
    cp_model_config cfg;
    cp_model *m = NULL;
    cp_train_graph tg = {0};
    cp_train_options o = cp_train_defaults();
    cp_plan_options po = cp_plan_defaults();
    if (env_context_create(NULL, &ctx) || cp_model_config_preset(preset, &cfg) ||
        cp_model_create(ctx, &cfg, &m) || cp_model_init(m, 1) ||
        cp_model_build_train(m, batch, &o, &tg) || cp_graph_plan(tg.graph, &po)) {
        fprintf(stderr, "iteration_time: %s\n", cp_last_error());
        return 1;
    }
    size_t px = (size_t)cfg.size * cfg.size, nx = (size_t)batch * 3 * px, nm = (size_t)batch * px;
    float *x = malloc(nx * sizeof *x), *mask = malloc(nm * sizeof *mask);
    double *t = malloc((size_t)(iters + 2) * sizeof *t);
    if (!x || !mask || !t) {
        fprintf(stderr, "iteration_time: out of memory\n");
        return 1;
    }
    cp_rng r;
    cp_rng_seed(&r, 1, 9);
    for (size_t i = 0; i < nx; i++) x[i] = 2 * cp_rng_uniform(&r) - 1;
    for (size_t i = 0; i < nm; i++) {
        size_t row = (i / cfg.size) % cfg.size, col = i % cfg.size;
        mask[i] = row >= (size_t)cfg.size / 4 && row < 3 * (size_t)cfg.size / 4 &&
                  col >= (size_t)cfg.size / 4 && col < 3 * (size_t)cfg.size / 4;
    }
    cp_train_step_options so = {.on_gradients = no_op};
    for (int i = 0; i < iters + 2; i++) { /* the first two are warm-up */
        double t0 = cp_seconds();
        cp_train_scalars s;
        if (cp_train_step(m, &tg, x, mask, split ? &so : NULL, &s)) {
            fprintf(stderr, "iteration_time: %s\n", cp_last_error());
            return 1;
        }
        t[i] = cp_seconds() - t0;
    }
    qsort(t + 2, (size_t)iters, sizeof *t, cmp);
    double med = t[2 + iters / 2];
    printf("clinpaint %s batch %d%s: %.1f ms/iteration (median of %d; min %.1f, max %.1f), "
           "%.2f images/s\n",
           preset, batch, split ? " (split step)" : "", med * 1e3, iters, t[2] * 1e3, t[1 + iters] * 1e3, batch / med);
    free(t);
    free(x);
    free(mask);
    cp_train_graph_free(&tg);
    cp_model_free(m);
    cp_context_free(ctx);
    return 0;
}
