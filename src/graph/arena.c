/* The plan's device memory: one arena (cut into buffers no larger than the
 * backend allows), one workspace buffer, and where each node's value lives
 * in them. The offsets come from the planner (planner.c). */
#include "graph/graph_internal.h"
#include "graph/planner.h"

#include <stdio.h>
#include <stdlib.h>

cp_plan_options cp_plan_defaults(void)
{
    return (cp_plan_options){.reuse = true, .in_place = true, .poison_freed = false};
}

cp_status cp_graph_plan_size(cp_graph *g, const cp_plan_options *o, uint64_t *arena_bytes,
                             uint64_t *unplanned_bytes)
{
    if (g->error) return cp_set_error(g->error, "%s", g->error_msg);
    cp_plan_result r;
    CP_GRAPH_TRY(cp_plan_compute(g, o, &r));
    free(r.poison);
    if (arena_bytes) *arena_bytes = (uint64_t)(r.arena_floats + r.workspace_floats) * sizeof(float);
    if (unplanned_bytes) *unplanned_bytes = (uint64_t)r.unplanned_floats * sizeof(float);
    if (g->planned) {
        /* The planner writes offsets into the nodes: put back the graph's
         * own plan (planning is deterministic). */
        CP_GRAPH_TRY(cp_plan_compute(g, &g->opts, &r));
        free(r.poison);
    }
    return CP_OK;
}

void cp_graph_release_arena(cp_graph *g)
{
    for (int i = 0; i < g->arena_count; i++) g->backend->iface->buffer_free(g->backend, g->arenas[i]);
    free(g->arenas);
    g->arenas = NULL;
    g->arena_count = 0;
    if (g->workspace) {
        g->backend->iface->buffer_free(g->backend, g->workspace);
        g->workspace = NULL;
    }
}

static cp_status allocate(cp_graph *g, const cp_plan_result *r)
{
    cp_backend *b = g->backend;
    int chunks = (int)((r->arena_floats + r->chunk_floats - 1) / r->chunk_floats);
    if (chunks < 1) chunks = 1;
    g->arenas = calloc((size_t)chunks, sizeof *g->arenas);
    cp_status st = g->arenas ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "graph arena");
    for (int i = 0; i < chunks && st == CP_OK; i++) {
        size_t left = r->arena_floats - (size_t)i * r->chunk_floats;
        size_t n = left < r->chunk_floats ? left : r->chunk_floats;
        st = b->iface->buffer_alloc(b, (n ? n : 1) * sizeof(float), &g->arenas[i]);
        if (st == CP_OK) g->arena_count = i + 1;
    }
    g->chunk_floats = r->chunk_floats;
    if (st == CP_OK && r->workspace_floats)
        st = b->iface->buffer_alloc(b, r->workspace_floats * sizeof(float), &g->workspace);
    if (st == CP_OK && !g->scratch_scalar) st = b->iface->buffer_alloc(b, 64, &g->scratch_scalar);
    if (st == CP_ERR_OUT_OF_DEVICE_MEMORY) {
        char why[1024]; /* copied: the message is rewritten in place */
        snprintf(why, sizeof why, "%s", cp_last_error());
        uint64_t bytes = (uint64_t)(r->arena_floats + r->workspace_floats) * sizeof(float);
        return cp_set_error(st, "the graph needs %.1f MiB of device memory for its "
                                "activations (%s): %s",
                            (double)bytes / (1 << 20), b->iface->device_name(b), why);
    }
    if (st != CP_OK) return st;
    /* Touch the whole arena once so that a device that allocates lazily
     * fails here, not in the middle of an iteration. */
    for (int i = 0; i < g->arena_count && st == CP_OK; i++) {
        size_t left = r->arena_floats - (size_t)i * r->chunk_floats;
        st = b->iface->buffer_fill(b, g->arenas[i], 0,
                                   left < r->chunk_floats ? left : r->chunk_floats, 0.0f);
    }
    return st == CP_OK ? b->iface->synchronize(b) : st;
}

cp_status cp_graph_plan(cp_graph *g, const cp_plan_options *o)
{
    if (g->error) return cp_set_error(g->error, "%s", g->error_msg);
    cp_plan_result r;
    CP_GRAPH_TRY(cp_plan_compute(g, o, &r));
    cp_graph_release_arena(g);
    cp_status st = allocate(g, &r);
    if (st != CP_OK) {
        free(r.poison);
        return st;
    }
    g->arena_floats = r.arena_floats;
    g->workspace_floats = r.workspace_floats;
    g->opts = *o;
    g->planned = true;
    free(g->poison);
    g->poison = r.poison;
    g->poison_count = r.poison_count;
    return CP_OK;
}

uint64_t cp_graph_arena_bytes(const cp_graph *g)
{
    return (uint64_t)(g->arena_floats + g->workspace_floats) * sizeof(float);
}

cp_backend_buffer cp_graph_arena_at(const cp_graph *g, size_t off, size_t *local)
{
    size_t k = off / g->chunk_floats;
    *local = off - k * g->chunk_floats;
    return k < (size_t)g->arena_count ? g->arenas[k] : NULL;
}

cp_backend_buffer cp_graph_node_buffer(const cp_graph *g, const cp_node *n, size_t *offset)
{
    if (cp_node_is_external(n)) {
        *offset = n->bound->offset;
        return (cp_backend_buffer)n->bound->buf;
    }
    return cp_graph_arena_at(g, n->offset, offset);
}

cp_tensor cp_graph_node_tensor(const cp_graph *g, const cp_node *n)
{
    if (cp_node_is_external(n)) {
        cp_tensor t = *n->bound;
        t.owns_buffer = false;
        return t;
    }
    size_t local;
    cl_mem buf = (cl_mem)cp_graph_arena_at(g, n->offset, &local);
    return cp_tensor_view(buf, local, n->ndim, n->shape, n->name);
}

cp_status cp_graph_tensor(cp_graph *g, const cp_node *n, cp_tensor *out)
{
    if (!g->planned)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "graph: plan the graph before using its tensors");
    if (n->op == CP_OP_ADAM)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "graph: %s has no value", n->name);
    *out = cp_graph_node_tensor(g, n);
    return CP_OK;
}
