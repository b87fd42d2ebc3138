/* Memory planning: every value of the graph gets an offset in one compute
 * arena. Walks the execution order, frees a value after its last reader,
 * reuses freed space best-fit (adjacent free blocks merge), lets element-wise
 * ops overwrite a dying input. Workspaces, needed only while their op runs,
 * share one separate buffer as large as the largest (the backend says how
 * large each is). Kept apart from execution, as ggml keeps its allocator. */
#include "graph/graph_internal.h"
#include "graph/planner.h"

#include <stdlib.h>
#include <string.h>

/* 16 floats = 64 bytes: whole cache lines, vector loads stay aligned. */
#define ALIGN_FLOATS 16

static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

typedef struct block {
    size_t off, size;
} block;

typedef struct allocator {
    block *free_list; /* sorted by offset; no block spans a chunk boundary */
    int n, cap;
    size_t top;       /* high-water mark */
    size_t chunk;     /* the arena is cut into buffers of this many floats */
    bool ok;
} allocator;

static void alloc_give(allocator *a, size_t off, size_t size);

static bool crosses(const allocator *a, size_t off, size_t size)
{
    return off / a->chunk != (off + size - 1) / a->chunk;
}

static size_t alloc_take(allocator *a, size_t size)
{
    int best = -1;
    for (int i = 0; i < a->n; i++)
        if (a->free_list[i].size >= size &&
            (best < 0 || a->free_list[i].size < a->free_list[best].size))
            best = i;
    if (best >= 0) {
        size_t off = a->free_list[best].off;
        a->free_list[best].off += size;
        a->free_list[best].size -= size;
        if (a->free_list[best].size == 0) {
            memmove(&a->free_list[best], &a->free_list[best + 1],
                    (size_t)(a->n - best - 1) * sizeof(block));
            a->n--;
        }
        return off;
    }
    /* Grow the arena, starting inside a free block that ends at the top. */
    size_t off = a->top;
    if (a->n > 0 && a->free_list[a->n - 1].off + a->free_list[a->n - 1].size == a->top) {
        off = a->free_list[a->n - 1].off;
        a->n--;
    }
    if (crosses(a, off, size)) {
        /* A value never straddles two buffers: leave the chunk's tail free
         * and start at the next chunk. */
        size_t next = (off / a->chunk + 1) * a->chunk;
        a->top = next;
        alloc_give(a, off, next - off);
        off = next;
    }
    a->top = off + size;
    return off;
}

static void alloc_give(allocator *a, size_t off, size_t size)
{
    if (size == 0) return;
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        block *grown = realloc(a->free_list, (size_t)cap * sizeof *grown);
        if (!grown) {
            a->ok = false;
            return;
        }
        a->free_list = grown;
        a->cap = cap;
    }
    int i = 0;
    while (i < a->n && a->free_list[i].off < off) i++;
    memmove(&a->free_list[i + 1], &a->free_list[i], (size_t)(a->n - i) * sizeof(block));
    a->free_list[i] = (block){off, size};
    a->n++;
    /* merge with the next, then with the previous, never across a chunk
     * boundary */
    if (i + 1 < a->n && a->free_list[i].off + a->free_list[i].size == a->free_list[i + 1].off &&
        a->free_list[i + 1].off % a->chunk != 0) {
        a->free_list[i].size += a->free_list[i + 1].size;
        memmove(&a->free_list[i + 1], &a->free_list[i + 2], (size_t)(a->n - i - 2) * sizeof(block));
        a->n--;
    }
    if (i > 0 && a->free_list[i - 1].off + a->free_list[i - 1].size == a->free_list[i].off &&
        a->free_list[i].off % a->chunk != 0) {
        a->free_list[i - 1].size += a->free_list[i].size;
        memmove(&a->free_list[i], &a->free_list[i + 1], (size_t)(a->n - i - 1) * sizeof(block));
        a->n--;
    }
}

static cp_node *root_of(cp_node *n)
{
    while (cp_node_is_alias(n)) n = n->src[0];
    return n;
}

static bool elementwise(cp_op op)
{
    switch (op) {
    case CP_OP_ELU: case CP_OP_TANH: case CP_OP_SIGMOID: case CP_OP_SCALE:
    case CP_OP_ADD: case CP_OP_MUL: case CP_OP_MASK_KNOWN:
        return true;
    default:
        return false;
    }
}

static void add_poison(cp_plan_result *r, int after, size_t off, size_t size)
{
    if (r->poison_count == r->poison_cap) {
        int cap = r->poison_cap ? r->poison_cap * 2 : 64;
        cp_poison_region *grown = realloc(r->poison, (size_t)cap * sizeof *grown);
        if (!grown) return;
        r->poison = grown;
        r->poison_cap = cap;
    }
    r->poison[r->poison_count++] = (cp_poison_region){after, off, size};
}

cp_status cp_plan_compute(cp_graph *g, const cp_plan_options *o, cp_plan_result *r)
{
    memset(r, 0, sizeof *r);
    cp_graph_fuse(g, !o->no_fusion); /* before anything reads the graph's shape */
    int count = g->count;
    cp_backend *b = g->backend;
    if (!b)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "graph: built without a backend, so it cannot be planned");
    /* The backend runs every op and sizes its workspace now, not when the
     * node was made: a graph is built without a device. */
    for (int i = 0; i < count; i++) {
        cp_node *n = g->nodes[i];
        if (!b->iface->supports_op(b, n))
            return cp_set_error(CP_ERR_UNSUPPORTED, "graph: the %s backend (%s) cannot run %s (%s)",
                                b->iface->name(b), b->iface->device_name(b), n->name,
                                cp_op_name(n->op));
        n->workspace_floats = b->iface->workspace_floats(b, n);
    }
    /* Buffers no larger than the backend allows (OpenCL:
     * CL_DEVICE_MAX_MEM_ALLOC_SIZE), or than the caller asks for. */
    uint64_t chunk_bytes = b->iface->max_alloc_bytes(b);
    if (o->chunk_bytes && (o->chunk_bytes < chunk_bytes || !chunk_bytes)) chunk_bytes = o->chunk_bytes;
    size_t chunk = chunk_bytes ? (size_t)(chunk_bytes / sizeof(float)) / ALIGN_FLOATS * ALIGN_FLOATS
                               : SIZE_MAX / 2;
    if (chunk < ALIGN_FLOATS) chunk = ALIGN_FLOATS;
    for (int i = 0; i < count; i++) {
        size_t need = round_up(cp_node_alloc_floats(g->nodes[i]));
        if (need > chunk)
            return cp_set_error(CP_ERR_OUT_OF_DEVICE_MEMORY,
                                "%s needs %.1f MiB in one buffer, more than the device's largest "
                                "buffer (%.1f MiB): try a smaller --batch",
                                g->nodes[i]->name, (double)need * 4 / (1 << 20),
                                (double)chunk * 4 / (1 << 20));
    }
    r->chunk_floats = chunk;
    /* Last reader of every storage root; kept values live to the end. */
    for (int i = 0; i < count; i++) {
        cp_node *n = g->nodes[i];
        n->storage = root_of(n);
        n->last_use = i;
    }
    for (int i = 0; i < count; i++) {
        cp_node *n = g->nodes[i];
        for (int j = 0; j < n->nsrc; j++) {
            cp_node *s = n->src[j]->storage;
            if (s->last_use < i) s->last_use = i;
        }
        if (n->keep) n->storage->last_use = count;
    }
    /* Inputs hold what the host wrote: a replay without a new upload must
     * see them again, so they live for the whole run. */
    for (int i = 0; i < count; i++)
        if (g->nodes[i]->op == CP_OP_INPUT) g->nodes[i]->last_use = count;
    /* Inputs are written by the host before the run: alive from the start. */
    allocator a = {.ok = true, .chunk = chunk};
    int *owner_of = NULL; /* storage owner after in-place hand-overs */
    cp_node **live = calloc((size_t)count + 1, sizeof *live);
    int nlive = 0;
    if (!live) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "planner");
    (void)owner_of;
    for (int i = 0; i < count; i++) {
        cp_node *n = g->nodes[i];
        if (n->op != CP_OP_INPUT) continue;
        size_t size = round_up(cp_node_alloc_floats(n));
        n->offset = alloc_take(&a, size);
        r->unplanned_floats += size;
        live[nlive++] = n;
    }
    for (int i = 0; i < count; i++) {
        cp_node *n = g->nodes[i];
        size_t need = cp_node_alloc_floats(n);
        if (n->op != CP_OP_INPUT && need > 0) {
            size_t size = round_up(need);
            r->unplanned_floats += size;
            cp_node *victim = NULL;
            if (o->reuse && o->in_place && elementwise(n->op)) {
                cp_node *s = n->src[0]->storage;
                if (s->op != CP_OP_INPUT && !cp_node_is_external(s) && s->last_use == i &&
                    !s->keep && cp_node_alloc_floats(s) == need)
                    victim = s;
            }
            if (victim) {
                /* Take over the dying input's block: same offset, its
                 * lifetime now ends with this node's. */
                n->offset = victim->offset;
                for (int k = 0; k < nlive; k++)
                    if (live[k] == victim) live[k] = n;
            } else {
                n->offset = alloc_take(&a, size); /* without reuse nothing is ever freed */
                live[nlive++] = n;
            }
        }
        /* Workspaces share one buffer of their own at offset 0 (CLBlast's
         * temporary buffer takes no offset); nodes run one after another. */
        if (n->workspace_floats > r->workspace_floats) r->workspace_floats = n->workspace_floats;
        r->unplanned_floats += round_up(n->workspace_floats);
        /* Free what this node was the last to read. */
        for (int k = 0; k < nlive; k++) {
            cp_node *v = live[k];
            if (v->last_use > i) continue;
            if (o->reuse) {
                size_t size = round_up(cp_node_alloc_floats(v));
                alloc_give(&a, v->offset, size);
                if (o->poison_freed) add_poison(r, i, v->offset, size);
            }
            live[k--] = live[--nlive];
        }
    }
    free(live);
    /* Aliases share their root's memory. */
    for (int i = 0; i < count; i++) {
        cp_node *n = g->nodes[i];
        if (cp_node_is_alias(n)) n->offset = n->storage->offset;
    }
    free(a.free_list);
    if (!a.ok) {
        free(r->poison);
        r->poison = NULL;
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "planner");
    }
    r->arena_floats = a.top;
    return CP_OK;
}
