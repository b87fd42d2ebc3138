/* Peak device memory of one training iteration, planned against unplanned
 * (notes/graph.md). Build: tools/measure/build.sh */
#include <stdio.h>
#include <stdlib.h>
#include "clinpaint/model.h"
int main(int argc, char **argv) {
    cp_context *ctx; if (cp_context_create(NULL, &ctx)) return 1;
    const char *presets[] = {"tiny", "small", "base"}; int batches[] = {8, 64};
    for (int p = 0; p < 3; p++) for (int b = 0; b < 2; b++) {
        cp_model_config cfg; cp_model_config_preset(presets[p], &cfg);
        for (int bn = 0; bn < 2; bn++) { cfg.batchnorm = bn;
        cp_model *m; cp_model_create(ctx, &cfg, &m);
        cp_train_options o = cp_train_defaults(); cp_train_graph tg;
        if (cp_model_build_train(m, batches[b], &o, &tg)) { fprintf(stderr, "%s\n", cp_last_error()); return 1; }
        cp_plan_options po = cp_plan_defaults(), noip = po, none = {false,false,false,false}; noip.in_place = false;
        uint64_t a, a2, u; cp_graph_plan_size(tg.graph, &po, &a, &u); cp_graph_plan_size(tg.graph, &noip, &a2, NULL);
        uint64_t model = cp_model_bytes(m);
        printf("| %s%s | %d | %d | %.1f | %.1f | %.1f | %.1f | %.1fx |\n", presets[p], bn ? " +bn" : "", batches[b], cp_graph_node_count(tg.graph), model/1048576.0, a/1048576.0, a2/1048576.0, u/1048576.0, (double)u/a);
        cp_train_graph_free(&tg); cp_model_free(m); }
    }
    (void)argc; (void)argv; cp_context_free(ctx); return 0; }
