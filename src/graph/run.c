/* Running a planned graph: node ranges go to the backend's compute, which
 * enqueues them on its in-order queue. No synchronisation and no host read
 * inside a run; the debug options run node by node (debug_checks.c). */
#include "graph/graph_internal.h"
#include "graph/debug_checks.h"

#include <stdio.h>

/* Runs nodes [first, end) in order. */
static cp_status run_range(cp_graph *g, int first, int end)
{
    if (g->error) return cp_set_error(g->error, "%s", g->error_msg);
    if (!g->planned)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "graph: plan the graph before running it");
    if (g->opts.check_writes || g->poison_count > 0) return cp_graph_run_debug(g, first, end);
    return g->backend->iface->compute(g->backend, g, first, end);
}

cp_status cp_graph_run(cp_graph *g) { return run_range(g, 0, g->count); }

cp_status cp_graph_run_segments(cp_graph *g, int first, int end)
{
    if (first < 0 || end > g->segment_count || first >= end)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "graph: segments %d..%d of %d", first, end,
                            g->segment_count);
    /* Nodes before the first segment belong to it (leaves, inputs). */
    int from = first == 0 ? 0 : g->segment_start[first];
    int to = end == g->segment_count ? g->count : g->segment_start[end];
    return run_range(g, from, to);
}

int cp_graph_segment_count(const cp_graph *g) { return g->segment_count; }

cp_status cp_graph_read_scalars(cp_graph *g, cp_node *const *nodes, int count, float *out)
{
    cp_backend *b = g->backend;
    for (int i = 0; i < count; i++) {
        cp_tensor t = {0};
        CP_GRAPH_TRY(cp_graph_tensor(g, nodes[i], &t));
        if (!nodes[i]->storage->keep && !cp_node_is_external(nodes[i]))
            return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                                "graph: %s is not kept (cp_g_keep) and may be overwritten",
                                nodes[i]->name);
        size_t offset;
        cp_backend_buffer buf = cp_graph_node_buffer(g, nodes[i], &offset);
        /* Only the last read blocks: the queue is in order. */
        CP_GRAPH_TRY(b->iface->buffer_read(b, buf, offset * sizeof(float), sizeof(float), &out[i],
                                           i == count - 1));
    }
    return CP_OK;
}
