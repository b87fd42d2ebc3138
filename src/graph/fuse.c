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
 * write of every such layer's output per forward.
 *
 * ELU's backward dx = dy · ELU'(y): when dy is the input gradient of the
 * next layer (conv, up2 or max pool) and nothing else reads it, that node
 * reads y anyway (it is its input x) and multiplies by ELU'(y) where it
 * writes dx, and the ELU backward becomes an alias of it. Saves one read
 * of y and of dy and one write per such layer per backward. */
#include "graph/graph_internal.h"

#include <stdlib.h>

static bool fusable_conv(const cp_node *c)
{
    return (c->op == CP_OP_CONV2D || c->op == CP_OP_CONV_T2D) && !c->keep;
}

/* The input gradient of a layer fed by an ELU's output y: it reads y
 * already (its source 0), so it can apply ELU'(y) itself. */
static bool fusable_dx(const cp_node *p, const cp_node *y)
{
    return (p->op == CP_OP_CONV2D_DX || p->op == CP_OP_CONV_T2D_DX ||
            p->op == CP_OP_MAXPOOL2_DX) &&
           p->src[0] == y && !p->keep;
}

/* ELU_DX(y, dy) whose dy comes only from such a node p: p multiplies by
 * ELU'(y) and the ELU_DX becomes an alias of p (sources swapped to (p, y):
 * an alias's value is its source 0; y stays a source, so the planner keeps
 * it alive as before). Returns 1 when fused. */
static int fuse_elu_backward(cp_node *e, const int *readers, bool enable)
{
    if (e->op != CP_OP_ELU_DX && e->op != CP_OP_ELU_DX_FUSED) return 0;
    bool was = e->op == CP_OP_ELU_DX_FUSED;
    cp_node *y = was ? e->src[1] : e->src[0], *p = was ? e->src[0] : e->src[1];
    bool ok = enable && readers && readers[p->id] == 1 && fusable_dx(p, y);
    if (ok == was) return ok ? 1 : 0;
    e->src[0] = ok ? p : y;
    e->src[1] = ok ? y : p;
    e->op = ok ? CP_OP_ELU_DX_FUSED : CP_OP_ELU_DX;
    p->fused_elu_grad = ok;
    return ok ? 1 : 0;
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
        bool ok = enable && readers && fusable_conv(c) && readers[c->id] == 1;
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
    for (int i = 0; i < g->count; i++)
        fused += fuse_elu_backward(g->nodes[i], readers, enable);
    free(readers);
    return fused;
}
