/* Peak device memory of one training iteration, planned against unplanned
 * (notes/graph.md). Plans only, runs nothing. Built by CMake: build/graph_memory */
#include <stdio.h>
#include <stdlib.h>

#include "clinpaint/clinpaint.h"
#include "env_options.h"

int main(void)
{
    cp_context *ctx;
    if (env_context_create(NULL, &ctx)) {
        fprintf(stderr, "graph_memory: %s\n", cp_last_error());
        return 1;
    }
    const char *presets[] = {"tiny", "small", "base"};
    const int batches[] = {8, 64};
    for (int p = 0; p < 3; p++)
        for (int b = 0; b < 2; b++)
            for (int bn = 0; bn < 2; bn++) {
                cp_model_config cfg;
                cp_model *m;
                cp_train_graph tg;
                cp_train_options o = cp_train_defaults();
                cp_plan_options po = cp_plan_defaults(), noip = po;
                noip.in_place = false;
                uint64_t a, a2, u;
                cp_model_config_preset(presets[p], &cfg);
                cfg.batchnorm = bn;
                if (cp_model_create(ctx, &cfg, &m)) {
                    fprintf(stderr, "graph_memory: %s\n", cp_last_error());
                    return 1;
                }
                if (cp_model_build_train(m, batches[b], &o, &tg) ||
                    cp_graph_plan_size(tg.graph, &po, &a, &u) ||
                    cp_graph_plan_size(tg.graph, &noip, &a2, NULL)) {
                    fprintf(stderr, "graph_memory: %s\n", cp_last_error());
                    return 1;
                }
                printf("| %s%s | %d | %d | %.1f | %.1f | %.1f | %.1f | %.1fx |\n", presets[p],
                       bn ? " +bn" : "", batches[b], cp_graph_node_count(tg.graph),
                       cp_model_bytes(m) / 1048576.0, a / 1048576.0, a2 / 1048576.0,
                       u / 1048576.0, (double)u / (double)a);
                cp_train_graph_free(&tg);
                cp_model_free(m);
            }
    cp_context_free(ctx);
    return 0;
}
