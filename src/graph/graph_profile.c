/* Profiling a run: the backend times every device command and tags it with
 * the node that enqueued it; here the times become a table per op, with
 * node counts and floating-point work from the graph itself. */
#include "graph/graph_internal.h"

#include <stdlib.h>
#include <string.h>

static double gflop_of(const cp_node *n)
{
    const cp_node *x = n->src[0];
    switch (n->op) {
    case CP_OP_CONV2D: case CP_OP_CONV2D_DX: case CP_OP_CONV2D_DW: {
        /* 2 * N * Ho * Wo * C_out * C_in * kh * kw, the same for all three. */
        const cp_node *out = n->op == CP_OP_CONV2D ? n : n->src[2];
        const cp_conv_params *p = &n->params.conv;
        return 2e-9 * (double)cp_node_numel(out) * (double)x->shape[1] * p->kh * p->kw;
    }
    case CP_OP_CONV_T2D: case CP_OP_CONV_T2D_DX: case CP_OP_CONV_T2D_DW: {
        const cp_node *w = n->src[1];
        const cp_conv_params *p = &n->params.conv;
        return 2e-9 * (double)cp_node_numel(x) * (double)w->shape[1] * p->kh * p->kw;
    }
    case CP_OP_DENSE: case CP_OP_DENSE_DX: case CP_OP_DENSE_DW:
        return 2e-9 * (double)x->shape[0] * (double)cp_node_numel(n->src[1]);
    default:
        return 0;
    }
}

static cp_status no_backend(void)
{
    return cp_set_error(CP_ERR_INVALID_ARGUMENT, "graph: built without a backend, so it cannot run");
}

cp_status cp_graph_profile_begin(cp_graph *g)
{
    cp_backend *b = g->backend;
    if (!b) return no_backend();
    CP_GRAPH_TRY(b->iface->synchronize(b));
    return b->iface->profile_begin(b);
}

cp_status cp_graph_run_profiled(cp_graph *g, cp_graph_profile *out)
{
    CP_GRAPH_TRY(cp_graph_profile_begin(g));
    return cp_graph_profile_end(g, cp_graph_run(g), out);
}

/* Adds one command's time to its op's row. */
static void add_time(const cp_graph *g, const cp_backend_timing *t, double ms, cp_graph_profile *out)
{
    if (t->node < 0 || t->node >= g->count) return;
    const char *op = cp_op_name(g->nodes[t->node]->op);
    int k = 0;
    while (k < out->op_count && strcmp(out->ops[k].op, op) != 0) k++;
    if (k == out->op_count) {
        if (k == (int)(sizeof out->ops / sizeof out->ops[0])) return;
        out->ops[k].op = op;
        out->op_count++;
    }
    out->ops[k].ms += ms;
}

cp_status cp_graph_profile_end(cp_graph *g, cp_status st, cp_graph_profile *out)
{
    cp_backend *b = g->backend;
    memset(out, 0, sizeof *out);
    if (!b) return no_backend();
    if (st == CP_OK) st = b->iface->synchronize(b);
    int count = 0;
    cp_backend_timing *t = NULL;
    cp_status got = b->iface->profile_end(b, &t, &count); /* always ends recording */
    if (st == CP_OK) st = got;
    uint64_t first = 0, last = 0;
    for (int i = 0; i < count && st == CP_OK; i++) {
        if (!t[i].timed) continue;
        if (i == 0 || t[i].start_ns < first) first = t[i].start_ns;
        if (t[i].end_ns > last) last = t[i].end_ns;
        double ms = (double)(t[i].end_ns - t[i].start_ns) * 1e-6;
        out->busy_ms += ms;
        add_time(g, &t[i], ms, out);
    }
    /* Node counts and work per op, from the graph itself. */
    for (int i = 0; i < g->count; i++) {
        const char *op = cp_op_name(g->nodes[i]->op);
        for (int k = 0; k < out->op_count; k++)
            if (strcmp(out->ops[k].op, op) == 0) {
                out->ops[k].count++;
                out->ops[k].gflop += gflop_of(g->nodes[i]);
            }
    }
    free(t);
    out->wall_ms = (double)(last - first) * 1e-6;
    out->idle_share = out->wall_ms > 0 ? 1.0 - out->busy_ms / out->wall_ms : 0;
    if (out->idle_share < 0) out->idle_share = 0; /* overlapping commands */
    return st;
}
