/* One training iteration profiled by op type, and the device idle share
 * (notes/graph.md). Usage: iteration_profile [preset] [batch]
 * (built by CMake: build/iteration_profile) */
#include <stdio.h>
#include <stdlib.h>

#include "clinpaint/clinpaint.h"
#include "env_options.h"

static int fail(void)
{
    fprintf(stderr, "iteration_profile: %s\n", cp_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    const char *preset = argc > 1 ? argv[1] : "tiny";
    int batch = argc > 2 ? atoi(argv[2]) : 8;
    cp_context *ctx;
    cp_model_config cfg;
    cp_model *m;
    cp_train_graph tg;
    cp_train_options o = cp_train_defaults();
    cp_plan_options po = cp_plan_defaults();
    if (env_context_create(NULL, &ctx) || cp_model_config_preset(preset, &cfg) ||
        cp_model_create(ctx, &cfg, &m) || cp_model_init(m, 1) ||
        cp_model_build_train(m, batch, &o, &tg))
        return fail();
    uint64_t a, u;
    if (cp_graph_plan_size(tg.graph, &po, &a, &u)) return fail();
    printf("arena %.1f MiB planned, %.1f MiB unplanned, nodes %d\n", a / 1048576.0, u / 1048576.0,
           cp_graph_node_count(tg.graph));
    if (cp_graph_plan(tg.graph, &po)) return fail();
    /* A warm-up step (kernel builds), then the profiled one; the inputs
     * are whatever the arena holds: only the times matter. */
    cp_graph_profile p;
    cp_train_step_options so = {.profile = &p};
    if (cp_train_step(m, &tg, NULL, NULL, NULL, NULL) || cp_context_finish(ctx) ||
        cp_train_step(m, &tg, NULL, NULL, &so, NULL))
        return fail();
    printf("wall %.1f ms busy %.1f ms idle %.1f%%\n", p.wall_ms, p.busy_ms, 100 * p.idle_share);
    for (int i = 0; i < p.op_count; i++)
        printf("%-22s %4d %9.2f ms %5.1f%% %8.3f GFLOP %7.2f GFLOP/s\n", p.ops[i].op,
               p.ops[i].count, p.ops[i].ms, 100 * p.ops[i].ms / p.busy_ms, p.ops[i].gflop,
               p.ops[i].gflop / (p.ops[i].ms / 1e3));
    cp_train_graph_free(&tg);
    cp_model_free(m);
    cp_context_free(ctx);
    return 0;
}
