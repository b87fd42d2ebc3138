/* Debug runs: poison freed memory with NaN (a read after free shows up as
 * NaN) and the write checker (copies the arena to the host around every
 * node and names whoever a stray write hit). Slow; never on the normal
 * path. */
#include "graph/debug_checks.h"
#include "graph/planner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Which floats did node n change outside its own regions? */
static cp_status check_node_writes(cp_graph *g, const cp_node *n, const float *before,
                                   const float *after)
{
    size_t out_lo = n->offset, out_hi = n->offset + cp_node_alloc_floats(n);
    for (size_t k = 0; k < g->arena_floats; k++) {
        if (memcmp(&before[k], &after[k], sizeof(float)) == 0) continue;
        if (k >= out_lo && k < out_hi) continue;
        const char *victim = "free space";
        for (int i = 0; i < g->count; i++) {
            const cp_node *v = g->nodes[i];
            if (v->storage == v && k >= v->offset && k < v->offset + cp_node_alloc_floats(v) &&
                v->id <= n->id && v->last_use >= n->id)
                victim = v->name;
        }
        return cp_set_error(CP_ERR_INTERNAL,
                            "graph node %d %s (%s) wrote arena float %zu outside its output "
                            "[%zu, %zu): it belongs to %s",
                            n->id, n->name, cp_op_name(n->op), k, out_lo, out_hi, victim);
    }
    return CP_OK;
}

static cp_status read_arena(cp_graph *g, float *host)
{
    cp_backend *b = g->backend;
    for (int i = 0; i < g->arena_count; i++) {
        size_t first = (size_t)i * g->chunk_floats, left = g->arena_floats - first;
        size_t n = left < g->chunk_floats ? left : g->chunk_floats;
        CP_GRAPH_TRY(b->iface->buffer_read(b, g->arenas[i], 0, n * sizeof(float), host + first, true));
    }
    return CP_OK;
}

/* The message of a failure around node i, as compute words its own. */
static cp_status node_error(const cp_graph *g, int i, cp_status st)
{
    const cp_node *n = g->nodes[i];
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", cp_last_error());
    return cp_set_error(st, "graph node %d %s (%s): %s", i, n->name, cp_op_name(n->op), msg);
}

static cp_status run_node_checked(cp_graph *g, int i)
{
    size_t bytes = g->arena_floats * sizeof(float);
    float *before = malloc(bytes ? bytes : 1), *after = malloc(bytes ? bytes : 1);
    cp_status st = before && after ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "check");
    if (st == CP_OK) st = read_arena(g, before);
    cp_status ran = CP_OK; /* compute names the node in its own errors */
    if (st == CP_OK) ran = g->backend->iface->compute(g->backend, g, i, i + 1);
    if (st == CP_OK && ran == CP_OK) st = read_arena(g, after);
    if (st == CP_OK && ran == CP_OK) st = check_node_writes(g, g->nodes[i], before, after);
    free(before);
    free(after);
    return ran != CP_OK ? ran : st != CP_OK ? node_error(g, i, st) : CP_OK;
}

cp_status cp_graph_run_debug(cp_graph *g, int first, int end)
{
    cp_backend *b = g->backend;
    int p = 0;
    while (p < g->poison_count && g->poison[p].after_node < first) p++;
    for (int i = first; i < end; i++) {
        CP_GRAPH_TRY(g->opts.check_writes ? run_node_checked(g, i) : b->iface->compute(b, g, i, i + 1));
        while (p < g->poison_count && g->poison[p].after_node == i) {
            size_t local;
            cp_backend_buffer buf = cp_graph_arena_at(g, g->poison[p].off, &local);
            CP_GRAPH_TRY(b->iface->buffer_fill(b, buf, local, g->poison[p].size, NAN));
            p++;
        }
    }
    return CP_OK;
}
