/* Operator fusion, run by the planner before every plan (planner.c).
 *
 * conv (+ bias) -> ELU: when the ELU is the only reader of the convolution's
 * value (and that value is not kept for the caller), the convolution
 * applies ELU in its epilogue (every route: the direct kernels, the implicit
 * GEMM, im2col + GEMM's permute / col2im pass) and the ELU node becomes an
 * alias of it (CP_OP_ELU_FUSED). The pre-activation is never stored: ELU's
 * backward reads only the output y (ELU'(x) = y > 0 ? 1 : y + 1), which the
 * alias still provides. A batch norm between conv and ELU stops the
 * fusion (the ELU's source is then the batch norm). Saves one read and one
 * write of every such layer's output per forward. */
#include "graph/graph_internal.h"

#include <stdlib.h>

static bool fusable_conv(const cp_node *c)
{
    return (c->op == CP_OP_CONV2D || c->op == CP_OP_CONV_T2D) && !c->keep;
}

int cp_graph_fuse(cp_graph *g, bool enable)
{
    if (g->error || g->count == 0) return 0;
    int *readers = calloc((size_t)g->count, sizeof *readers);
    if (!readers) {
        /* Without the counts nothing can be proven safe: undo every fusion. */
        enable = false;
    } else {
        for (int i = 0; i < g->count; i++)
            for (int j = 0; j < g->nodes[i]->nsrc; j++) readers[g->nodes[i]->src[j]->id]++;
    }
    int fused = 0;
    for (int i = 0; i < g->count; i++) {
        cp_node *e = g->nodes[i];
        if (e->op != CP_OP_ELU && e->op != CP_OP_ELU_FUSED) continue;
        cp_node *c = e->src[0];
        bool ok = enable && fusable_conv(c) && readers[c->id] == 1;
        if (ok) {
            c->fused_elu = true;
            e->op = CP_OP_ELU_FUSED;
            fused++;
        } else if (e->op == CP_OP_ELU_FUSED) {
            /* A reader was added or the value kept since: undo. */
            c->fused_elu = false;
            e->op = CP_OP_ELU;
        }
    }
    free(readers);
    return fused;
}
