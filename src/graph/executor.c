/* Running a planned graph: each node becomes one operator call on the
 * in-order queue. No clFinish and no host read inside a run. */
#include "graph/graph_internal.h"
#include "graph/planner.h"
#include "backend/opencl/ops/conv_fused.h"
#include "backend/opencl/runtime/check.h"
#include "backend/opencl/runtime/profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

cp_plan_options cp_plan_defaults(void)
{
    return (cp_plan_options){.reuse = true, .in_place = true, .poison_freed = false};
}

static cp_status graph_error(const cp_graph *g)
{
    return cp_set_error(g->error, "%s", g->error_msg);
}

cp_status cp_graph_plan_size(cp_graph *g, const cp_plan_options *o, uint64_t *arena_bytes,
                             uint64_t *unplanned_bytes)
{
    if (g->error) return graph_error(g);
    cp_plan_result r;
    CP_TRY(cp_plan_compute(g, o, &r));
    free(r.poison);
    if (arena_bytes) *arena_bytes = (uint64_t)(r.arena_floats + r.workspace_floats) * sizeof(float);
    if (unplanned_bytes) *unplanned_bytes = (uint64_t)r.unplanned_floats * sizeof(float);
    if (g->planned) {
        /* The planner writes offsets into the nodes: put back the graph's
         * own plan (planning is deterministic). */
        CP_TRY(cp_plan_compute(g, &g->opts, &r));
        free(r.poison);
    }
    return CP_OK;
}

cp_status cp_graph_plan(cp_graph *g, const cp_plan_options *o)
{
    if (g->error) return graph_error(g);
    cp_plan_result r;
    CP_TRY(cp_plan_compute(g, o, &r));
    for (int i = 0; i < g->arena_count; i++) cp_buffer_free(g->ctx, g->arenas[i]);
    free(g->arenas);
    g->arenas = NULL;
    g->arena_count = 0;
    if (g->workspace) {
        cp_buffer_free(g->ctx, g->workspace);
        g->workspace = NULL;
    }
    uint64_t bytes = (uint64_t)(r.arena_floats + r.workspace_floats) * sizeof(float);
    int chunks = (int)((r.arena_floats + r.chunk_floats - 1) / r.chunk_floats);
    if (chunks < 1) chunks = 1;
    g->arenas = calloc((size_t)chunks, sizeof *g->arenas);
    cp_status st = g->arenas ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "graph arena");
    for (int i = 0; i < chunks && st == CP_OK; i++) {
        size_t left = r.arena_floats - (size_t)i * r.chunk_floats;
        size_t n = left < r.chunk_floats ? left : r.chunk_floats;
        st = cp_buffer_alloc(g->ctx, (n ? n : 1) * sizeof(float), &g->arenas[i]);
        if (st == CP_OK) g->arena_count = i + 1;
    }
    g->chunk_floats = r.chunk_floats;
    if (st == CP_OK && r.workspace_floats)
        st = cp_buffer_alloc(g->ctx, r.workspace_floats * sizeof(float), &g->workspace);
    if (st == CP_OK && !g->scratch_scalar) st = cp_buffer_alloc(g->ctx, 64, &g->scratch_scalar);
    if (st != CP_OK) {
        free(r.poison);
        if (st == CP_ERR_OUT_OF_DEVICE_MEMORY) {
            char why[1024]; /* copied: the message is rewritten in place */
            snprintf(why, sizeof why, "%s", cp_last_error());
            return cp_set_error(st, "the graph needs %.1f MiB of device memory for its "
                                    "activations (%s): %s",
                                (double)bytes / (1 << 20), cp_context_device(g->ctx)->name, why);
        }
        return st;
    }
    /* Touch the whole arena once so that a device that allocates lazily
     * fails here, not in the middle of an iteration. */
    for (int i = 0; i < g->arena_count && st == CP_OK; i++) {
        size_t left = r.arena_floats - (size_t)i * r.chunk_floats;
        st = cp_buffer_fill(g->ctx, g->arenas[i], 0, left < r.chunk_floats ? left : r.chunk_floats,
                            0.0f);
    }
    if (st == CP_OK) st = cp_context_finish(g->ctx);
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

/* The buffer holding arena offset `off`, and the offset inside it. */
static cl_mem arena_at(const cp_graph *g, size_t off, size_t *local)
{
    size_t k = off / g->chunk_floats;
    *local = off - k * g->chunk_floats;
    return k < (size_t)g->arena_count ? g->arenas[k] : NULL;
}

static cp_tensor view(const cp_graph *g, const cp_node *n)
{
    if (cp_node_is_external(n)) {
        cp_tensor t = *n->bound;
        t.owns_buffer = false;
        return t;
    }
    size_t local;
    cl_mem buf = arena_at(g, n->offset, &local);
    return cp_tensor_view(buf, local, n->ndim, n->shape, n->name);
}

/* floats of the arena at a global offset (inside one node's allocation) */
static cp_tensor arena_flat(const cp_graph *g, size_t off, size_t n, const char *name)
{
    size_t local;
    cl_mem buf = arena_at(g, off, &local);
    int64_t s = (int64_t)(n ? n : 1);
    return cp_tensor_view(buf, local, 1, &s, name);
}

static cp_tensor view_shape(const cp_graph *g, const cp_node *n, int64_t a, int64_t b,
                            int64_t c, int64_t d)
{
    cp_tensor t = view(g, n);
    int64_t s[4] = {a, b, c, d};
    cp_tensor r = cp_tensor_view(t.buf, t.offset, 4, s, n->name);
    return r;
}

static cp_tensor flat(cl_mem buf, size_t off, size_t n, const char *name)
{
    int64_t s = (int64_t)(n ? n : 1);
    return cp_tensor_view(buf, off, 1, &s, name);
}

cp_status cp_graph_tensor(cp_graph *g, const cp_node *n, cp_tensor *out)
{
    if (!g->planned)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "graph: plan the graph before using its tensors");
    if (n->op == CP_OP_ADAM)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "graph: %s has no value", n->name);
    *out = view(g, n);
    return CP_OK;
}

static cp_status run_node(cp_graph *g, cp_node *n)
{
    cp_context *ctx = g->ctx;
    cp_tensor y = view(g, n), s[CP_MAX_SRC];
    for (int i = 0; i < n->nsrc; i++) s[i] = view(g, n->src[i]);
    cp_tensor ws = flat(g->workspace, 0, n->workspace_floats, "workspace");
    const cp_tensor *wsp = n->workspace_floats ? &ws : NULL;
    const cp_tensor *bias = n->nsrc > 2 ? &s[2] : NULL;
    switch (n->op) {
    case CP_OP_INPUT:
    case CP_OP_PARAM:
    case CP_OP_BUFFER:
    case CP_OP_RESHAPE:
    case CP_OP_STOP_GRAD:
    case CP_OP_ELU_FUSED:    /* computed by its source's node */
    case CP_OP_ELU_DX_FUSED: /* likewise */
        return CP_OK;
    case CP_OP_CONV2D:
        return cp_conv2d_forward_act(ctx, &n->conv, &s[0], &s[1], bias,
                                     n->fused_elu ? CP_FUSED_ELU : CP_FUSED_NONE, &y, wsp);
    case CP_OP_CONV_T2D:
        return cp_conv_transpose2d_forward_act(ctx, &n->conv, &s[0], &s[1], bias,
                                               n->fused_elu ? CP_FUSED_ELU : CP_FUSED_NONE, &y,
                                               wsp);
    case CP_OP_DENSE:
        return cp_dense_forward(ctx, &s[0], &s[1], bias, &y, wsp);
    case CP_OP_MAXPOOL2:
        return cp_maxpool2_forward(ctx, &s[0], &y);
    case CP_OP_ELU:
        return cp_elu_forward(ctx, &s[0], &y);
    case CP_OP_TANH:
        return cp_tanh_forward(ctx, &s[0], &y);
    case CP_OP_SIGMOID:
        return cp_sigmoid_forward(ctx, &s[0], &y);
    case CP_OP_ADD:
        return cp_add(ctx, n->alpha, &s[0], n->beta, &s[1], &y);
    case CP_OP_MUL:
        return cp_mul(ctx, &s[0], &s[1], &y);
    case CP_OP_SCALE:
        return cp_scale(ctx, n->alpha, &s[0], &y, false);
    case CP_OP_CONCAT:
        return cp_concat_channels(ctx, &s[0], &s[1], &y);
    case CP_OP_MASK_KNOWN:
        return cp_mask_known(ctx, &s[0], &s[1], &y);
    case CP_OP_COMPOSITE:
        return cp_composite(ctx, &s[0], &s[1], &s[2], &y);
    case CP_OP_BATCHNORM: {
        size_t c = (size_t)n->shape[1];
        if (n->bn_mode == CP_BN_EVAL)
            return cp_batchnorm_forward_eval(ctx, &n->bn, &s[0], &s[1], &s[2], &s[3], &s[4], &y);
        cp_tensor mean = arena_flat(g, n->offset + cp_node_numel(n), c, "bn_mean");
        cp_tensor invstd = arena_flat(g, n->offset + cp_node_numel(n) + c, c, "bn_invstd");
        return cp_batchnorm_forward_train(ctx, &n->bn, &s[0], &s[1], &s[2], &s[3], &s[4],
                                          n->bn_mode == CP_BN_TRAIN, &y, &mean, &invstd);
    }
    case CP_OP_LOSS_REC:
        return cp_loss_rec(ctx, &s[0], &s[1], &s[2], n->ctx_weight, &y, NULL, 0.0f, false);
    case CP_OP_LOSS_BCE:
        return cp_loss_bce_logits(ctx, &s[0], n->label, &y, NULL, 0.0f, false);
    case CP_OP_MEAN:
        return cp_reduce_sum(ctx, &s[0], 1.0f / (float)cp_node_numel(n->src[0]), &y);
    case CP_OP_CONV2D_DX:
        return cp_conv2d_backward_act(ctx, &n->conv, &s[0], &s[1], &s[2], &y, NULL, NULL, false,
                                      n->fused_elu_grad ? CP_FUSED_ELU : CP_FUSED_NONE, wsp);
    case CP_OP_CONV2D_DW:
        return cp_conv2d_backward(ctx, &n->conv, &s[0], &s[1], &s[2], NULL, &y, NULL, false, wsp);
    case CP_OP_CONV_T2D_DX:
        return cp_conv_transpose2d_backward_act(ctx, &n->conv, &s[0], &s[1], &s[2], &y, NULL,
                                                NULL, false,
                                                n->fused_elu_grad ? CP_FUSED_ELU : CP_FUSED_NONE,
                                                wsp);
    case CP_OP_CONV_T2D_DW:
        return cp_conv_transpose2d_backward(ctx, &n->conv, &s[0], &s[1], &s[2], NULL, &y, NULL,
                                            false, wsp);
    case CP_OP_DENSE_DX:
        return cp_dense_backward(ctx, &s[0], &s[1], &s[2], &y, NULL, NULL, false, wsp);
    case CP_OP_DENSE_DW:
        return cp_dense_backward(ctx, &s[0], &s[1], &s[2], NULL, &y, NULL, false, wsp);
    case CP_OP_BIAS_GRAD: {
        /* dy of a dense layer is [N, out]: the same as [N, out, 1, 1]. */
        const cp_node *dy = n->src[0];
        cp_tensor d = dy->ndim == 4 ? s[0]
                                    : view_shape(g, dy, dy->shape[0],
                                                 (int64_t)(cp_node_numel(dy) / (size_t)dy->shape[0]),
                                                 1, 1);
        return cp_bias_backward(ctx, &d, &y, false);
    }
    case CP_OP_MAXPOOL2_DX:
        return cp_maxpool2_backward_act(ctx, &s[0], &s[1], &y, false,
                                        n->fused_elu_grad ? CP_FUSED_ELU : CP_FUSED_NONE);
    case CP_OP_ELU_DX:
        return cp_elu_backward(ctx, &s[0], &s[1], &y, false);
    case CP_OP_TANH_DX:
        return cp_tanh_backward(ctx, &s[0], &s[1], &y, false);
    case CP_OP_SIGMOID_DX:
        return cp_sigmoid_backward(ctx, &s[0], &s[1], &y, false);
    case CP_OP_CONCAT_DX:
        return cp_concat_channels_backward(ctx, &s[0], n->part == 0 ? &y : NULL,
                                           n->part == 1 ? &y : NULL, false);
    case CP_OP_COMPOSITE_DG:
        return cp_composite_backward(ctx, &s[0], &s[1], &y, false);
    case CP_OP_BN_DX:
    case CP_OP_BN_DGAMMA: {
        const cp_node *f = n->fwd;
        size_t c = (size_t)f->shape[1];
        cp_tensor mean = arena_flat(g, f->offset + cp_node_numel(f), c, "bn_mean");
        cp_tensor invstd = arena_flat(g, f->offset + cp_node_numel(f) + c, c, "bn_invstd");
        return cp_batchnorm_backward(ctx, &s[0], &s[1], &mean, &invstd, &s[2],
                                     n->op == CP_OP_BN_DX ? &y : NULL,
                                     n->op == CP_OP_BN_DGAMMA ? &y : NULL, NULL, false);
    }
    case CP_OP_LOSS_REC_DG: {
        cp_tensor loss = flat(g->scratch_scalar, 0, 1, "scratch");
        return cp_loss_rec(ctx, &s[0], &s[1], &s[2], n->ctx_weight, &loss, &y, n->alpha, false);
    }
    case CP_OP_LOSS_BCE_DT: {
        cp_tensor loss = flat(g->scratch_scalar, 0, 1, "scratch");
        return cp_loss_bce_logits(ctx, &s[0], n->label, &loss, &y, n->alpha, false);
    }
    case CP_OP_ADAM:
        return cp_adam_step(ctx, &n->adam, *n->step, n->src[0]->bound, &s[1], n->adam_m,
                            n->adam_v);
    case CP_OP_COUNT:
        break;
    }
    return cp_set_error(CP_ERR_INTERNAL, "graph: no executor for %s", cp_op_name(n->op));
}

/* Debug: which bytes did node n change outside its own regions? */
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
    cl_command_queue q = cp_context_queue(g->ctx);
    for (int i = 0; i < g->arena_count; i++) {
        size_t first = (size_t)i * g->chunk_floats, left = g->arena_floats - first;
        size_t n = left < g->chunk_floats ? left : g->chunk_floats;
        CP_CL_CHECK(clEnqueueReadBuffer(q, g->arenas[i], CL_TRUE, 0, n * sizeof(float),
                                        host + first, 0, NULL, NULL));
    }
    return CP_OK;
}

static cp_status run_node_checked(cp_graph *g, cp_node *n)
{
    size_t bytes = g->arena_floats * sizeof(float);
    float *before = malloc(bytes ? bytes : 1), *after = malloc(bytes ? bytes : 1);
    cp_status st = before && after ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "check");
    if (st == CP_OK) st = read_arena(g, before);
    if (st == CP_OK) st = run_node(g, n);
    if (st == CP_OK) st = read_arena(g, after);
    if (st == CP_OK) st = check_node_writes(g, n, before, after);
    free(before);
    free(after);
    return st;
}

/* Runs nodes [first, end) in order. */
static cp_status run_range(cp_graph *g, int first, int end)
{
    if (g->error) return graph_error(g);
    if (!g->planned)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "graph: plan the graph before running it");
    int p = 0;
    while (p < g->poison_count && g->poison[p].after_node < first) p++;
    for (int i = first; i < end; i++) {
        cp_node *n = g->nodes[i];
        cp_profile_set_tag(g->ctx, i);
        cp_status st = g->opts.check_writes ? run_node_checked(g, n) : run_node(g, n);
        if (st != CP_OK) {
            char msg[2048];
            snprintf(msg, sizeof msg, "%s", cp_last_error());
            return cp_set_error(st, "graph node %d %s (%s): %s", i, n->name, cp_op_name(n->op), msg);
        }
        while (p < g->poison_count && g->poison[p].after_node == i) {
            size_t local;
            cl_mem buf = arena_at(g, g->poison[p].off, &local);
            CP_TRY(cp_buffer_fill(g->ctx, buf, local, g->poison[p].size, NAN));
            p++;
        }
    }
    return CP_OK;
}

static cp_status run_all(cp_graph *g) { return run_range(g, 0, g->count); }

cp_status cp_graph_run(cp_graph *g) { return run_all(g); }

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
    cl_command_queue q = cp_context_queue(g->ctx);
    for (int i = 0; i < count; i++) {
        cp_tensor t = {0};
        CP_TRY(cp_graph_tensor(g, nodes[i], &t));
        if (!nodes[i]->storage->keep && !cp_node_is_external(nodes[i]))
            return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                                "graph: %s is not kept (cp_g_keep) and may be overwritten",
                                nodes[i]->name);
        /* Only the last read blocks: the queue is in order. */
        CP_CL_CHECK(clEnqueueReadBuffer(q, t.buf, i == count - 1 ? CL_TRUE : CL_FALSE,
                                        t.offset * sizeof(float), sizeof(float), &out[i], 0, NULL,
                                        NULL));
    }
    return CP_OK;
}

static double gflop_of(const cp_node *n)
{
    const cp_node *x = n->src[0];
    switch (n->op) {
    case CP_OP_CONV2D: case CP_OP_CONV2D_DX: case CP_OP_CONV2D_DW: {
        /* 2 * N * Ho * Wo * C_out * C_in * kh * kw, the same for all three. */
        const cp_node *out = n->op == CP_OP_CONV2D ? n : n->src[2];
        return 2e-9 * (double)cp_node_numel(out) * (double)x->shape[1] * n->conv.kh * n->conv.kw;
    }
    case CP_OP_CONV_T2D: case CP_OP_CONV_T2D_DX: case CP_OP_CONV_T2D_DW: {
        const cp_node *w = n->src[1];
        return 2e-9 * (double)cp_node_numel(x) * (double)w->shape[1] * n->conv.kh * n->conv.kw;
    }
    case CP_OP_DENSE: case CP_OP_DENSE_DX: case CP_OP_DENSE_DW:
        return 2e-9 * (double)x->shape[0] * (double)cp_node_numel(n->src[1]);
    default:
        return 0;
    }
}

cp_status cp_graph_profile_begin(cp_graph *g)
{
    CP_TRY(cp_context_finish(g->ctx));
    cp_profile_begin(g->ctx);
    return CP_OK;
}

cp_status cp_graph_run_profiled(cp_graph *g, cp_graph_profile *out)
{
    CP_TRY(cp_graph_profile_begin(g));
    return cp_graph_profile_end(g, run_all(g), out);
}

cp_status cp_graph_profile_end(cp_graph *g, cp_status st, cp_graph_profile *out)
{
    memset(out, 0, sizeof *out);
    if (st == CP_OK) st = cp_context_finish(g->ctx);
    int count;
    cp_profile_event *ev = cp_profile_end(g->ctx, &count);
    cl_ulong first = 0, last = 0;
    for (int i = 0; i < count && st == CP_OK; i++) {
        cl_ulong t0 = 0, t1 = 0;
        if (clGetEventProfilingInfo(ev[i].event, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) !=
                CL_SUCCESS ||
            clGetEventProfilingInfo(ev[i].event, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) !=
                CL_SUCCESS)
            continue;
        if (i == 0 || t0 < first) first = t0;
        if (t1 > last) last = t1;
        double ms = (double)(t1 - t0) * 1e-6;
        out->busy_ms += ms;
        if (ev[i].tag < 0 || ev[i].tag >= g->count) continue;
        const char *op = cp_op_name(g->nodes[ev[i].tag]->op);
        int k = 0;
        while (k < out->op_count && strcmp(out->ops[k].op, op) != 0) k++;
        if (k == out->op_count) {
            if (k == (int)(sizeof out->ops / sizeof out->ops[0])) continue;
            out->ops[k].op = op;
            out->op_count++;
        }
        out->ops[k].ms += ms;
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
    for (int i = 0; i < count; i++) clReleaseEvent(ev[i].event);
    free(ev);
    out->wall_ms = (double)(last - first) * 1e-6;
    out->idle_share = out->wall_ms > 0 ? 1.0 - out->busy_ms / out->wall_ms : 0;
    if (out->idle_share < 0) out->idle_share = 0; /* overlapping commands */
    return st;
}
