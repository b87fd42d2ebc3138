/* Shared helpers of the non-GEMM operators (see ops_internal.h), the bounded
 * multi-pass reductions and the whole-tensor and per-channel sums.
 * Reductions are deterministic: each work item keeps a compensated (Neumaier)
 * sum of at most CP_RED_MAX_ITEMS elements, each group adds its items' sums
 * pairwise in local memory, and further passes add the groups' partial sums
 * the same way (cl/sum_helpers.cl); no float atomics. The partial sums live
 * in the context's scratch buffer (cp_context_scratch), sized at first use. */
#include "backend/opencl/ops/ops_internal.h"
#include "backend/opencl/runtime/context_internal.h"

#include <stdio.h>

size_t cp_opsi_reduce_wg_cap = 0;

cp_status cp_opsi_tensor(const char *op, const char *what, const cp_tensor *t,
                         cp_opsi_nchw *s)
{
    if (!t || !t->buf)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: tensor %s is missing", op, what);
    size_t n = cp_tensor_numel(t);
    char d[160];
    if (n == 0 || n > UINT32_MAX)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: %s %s has %zu elements (1 .. 2^32-1 supported)", op, what,
                            cp_tensor_describe(t, d, sizeof d), n);
    /* A view past the end of its buffer would write out of bounds on the
     * device, where nothing catches it. */
    size_t bytes = 0;
    CP_CL_CHECK(clGetMemObjectInfo(t->buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (t->offset > bytes / sizeof(float) || n > bytes / sizeof(float) - t->offset)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: %s %s at offset %zu runs past the end of its buffer (%zu "
                            "floats)",
                            op, what, cp_tensor_describe(t, d, sizeof d), t->offset,
                            bytes / sizeof(float));
    if (s) {
        s->n = (uint32_t)t->shape[0];
        s->c = (uint32_t)t->shape[1];
        s->h = (uint32_t)t->shape[2];
        s->w = (uint32_t)t->shape[3];
        s->hw = s->h * s->w;
        s->numel = (uint32_t)n;
    }
    return CP_OK;
}

cp_status cp_opsi_same_numel(const char *op, const cp_tensor *a, const cp_tensor *b)
{
    if (cp_tensor_numel(a) != cp_tensor_numel(b)) {
        char da[160], db[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: %s and %s differ in size", op,
                            cp_tensor_describe(a, da, sizeof da),
                            cp_tensor_describe(b, db, sizeof db));
    }
    return CP_OK;
}

cp_status cp_opsi_same_shape(const char *op, const cp_tensor *a, const cp_tensor *b)
{
    for (int i = 0; i < CP_MAX_DIMS; i++) {
        if (a->shape[i] != b->shape[i]) {
            char da[160], db[160];
            return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: shapes of %s and %s differ",
                                op, cp_tensor_describe(a, da, sizeof da),
                                cp_tensor_describe(b, db, sizeof db));
        }
    }
    return CP_OK;
}

cp_status cp_opsi_numel_is(const char *op, const cp_tensor *t, size_t n, const char *why)
{
    if (cp_tensor_numel(t) != n) {
        char d[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: %s must have %zu elements (%s)",
                            op, cp_tensor_describe(t, d, sizeof d), n, why);
    }
    return CP_OK;
}

cp_status cp_opsi_mask_for(const char *op, const cp_tensor *m, const cp_tensor *x)
{
    if (m->shape[0] != x->shape[0] || m->shape[1] != 1 || m->shape[2] != x->shape[2] ||
        m->shape[3] != x->shape[3]) {
        char dm[160], dx[160];
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: mask %s must be [N, 1, H, W] for %s", op,
                            cp_tensor_describe(m, dm, sizeof dm),
                            cp_tensor_describe(x, dx, sizeof dx));
    }
    return CP_OK;
}

cp_status cp_opsi_launch_1d(cp_context *ctx, cl_kernel k, size_t n)
{
    return cp_enqueue_1d(ctx, k, n, CP_OPSI_WG, NULL);
}

cp_status cp_opsi_reduce_wg(cp_context *ctx, cl_kernel k, size_t want, size_t *wg)
{
    size_t limit;
    uint64_t local_free;
    CP_TRY(cp_kernel_wg_limit(ctx, k, &limit));
    CP_TRY(cp_kernel_local_mem_free(ctx, k, &local_free));
    size_t m = cp_context_wg_size(ctx, want);
    if (limit < m) m = limit;
    /* The tree's __local argument: one float per item. */
    if (local_free / sizeof(float) < m) m = (size_t)(local_free / sizeof(float));
    if (cp_opsi_reduce_wg_cap && cp_opsi_reduce_wg_cap < m) m = cp_opsi_reduce_wg_cap;
    size_t p = 1;
    while (p * 2 <= m) p *= 2;
    *wg = p;
    return CP_OK;
}

/* Items per work item for groups of wg: about CP_RED_SPAN per group. */
static uint32_t items_for(size_t wg)
{
    size_t it = CP_RED_SPAN / wg;
    if (it < 1) it = 1;
    return (uint32_t)(it < CP_RED_MAX_ITEMS ? it : CP_RED_MAX_ITEMS);
}

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* Work-group size and items for `count` elements per segment: no wider than
 * the elements (idle items cost time on CPUs). */
static void shape_pass(size_t wg_max, uint64_t count, size_t *wg, uint32_t *items)
{
    size_t w = wg_max;
    while (w > 1 && w / 2 >= count) w /= 2;
    *wg = w;
    *items = items_for(w);
}

cp_status cp_opsi_red_plan(cp_context *ctx, cl_kernel map, uint32_t segs, uint64_t count,
                           size_t aux_floats, cp_opsi_red *r)
{
    size_t wg_max;
    CP_TRY(cp_opsi_reduce_wg(ctx, map, CP_OPSI_WG, &wg_max));
    *r = (cp_opsi_red){.segs = segs};
    shape_pass(wg_max, count, &r->wg, &r->items);
    uint64_t chunks = ceil_div(count ? count : 1, (uint64_t)r->wg * r->items);
    if (chunks > UINT32_MAX || (uint64_t)segs * chunks > (SIZE_MAX / sizeof(float)) / 4)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "reduction of %u x %llu elements is too large",
                            segs, (unsigned long long)count);
    r->chunks = (uint32_t)chunks;
    r->aux_off = 0;
    r->part_off = aux_floats;
    r->spare_off = aux_floats + (size_t)segs * r->chunks;
    size_t floats = r->spare_off + (size_t)segs * r->chunks;
    return cp_context_scratch(ctx, floats * sizeof(float), &r->buf);
}

cp_status cp_opsi_red_map(cp_context *ctx, cl_kernel map, const cp_opsi_red *r)
{
    size_t global[2] = {(size_t)r->chunks * r->wg, r->segs}, local[2] = {r->wg, 1};
    return cp_enqueue_nd(ctx, map, 2, global, local, NULL);
}

cp_status cp_opsi_red_finish(cp_context *ctx, const cp_opsi_red *r, cl_mem out,
                             size_t out_off, float scale, float div, bool acc)
{
    size_t in_off = r->part_off, next_off = r->spare_off;
    uint32_t chunks = r->chunks;
    for (;;) {
        cl_kernel k;
        size_t wg_max, wg;
        uint32_t items;
        CP_TRY(cp_kernel_get(ctx, "reduce.cl", "", "sum_pass", &k));
        CP_TRY(cp_opsi_reduce_wg(ctx, k, CP_OPSI_WG, &wg_max));
        shape_pass(wg_max, chunks, &wg, &items);
        uint32_t groups = (uint32_t)ceil_div(chunks, (uint64_t)wg * items);
        bool last = groups == 1;
        CP_ARGS(k, CP_ARG(cl_mem, r->buf), CP_ARG(cl_ulong, in_off), CP_ARG(cl_uint, chunks),
                CP_ARG(cl_uint, items), CP_ARG(cl_mem, last ? out : r->buf),
                CP_ARG(cl_ulong, last ? out_off : next_off),
                CP_ARG(cl_float, last ? scale : 1.0f), CP_ARG(cl_float, last ? div : 1.0f),
                CP_ARG(cl_uint, last && acc ? 1u : 0u), CP_LOCAL(wg * sizeof(cl_float)));
        size_t global[2] = {(size_t)groups * wg, r->segs}, local[2] = {wg, 1};
        CP_TRY(cp_enqueue_nd(ctx, k, 2, global, local, NULL));
        if (last) return CP_OK;
        /* The consumed level's room takes the next one (in-order queue). */
        size_t t = in_off;
        in_off = next_off;
        next_off = t;
        chunks = groups;
    }
}

cp_status cp_opsi_channel_sum(cp_context *ctx, const cp_tensor *dy, uint32_t rows,
                              uint32_t channels, uint32_t hw, cp_tensor *db, bool acc)
{
    cl_kernel k;
    cp_opsi_red r;
    CP_TRY(cp_kernel_get(ctx, "reduce.cl", "", "channel_sum_map", &k));
    CP_TRY(cp_opsi_red_plan(ctx, k, channels, (uint64_t)rows * hw, 0, &r));
    CP_ARGS(k, CP_ARG(cl_mem, dy->buf), CP_ARG(cl_ulong, dy->offset), CP_ARG(cl_uint, rows),
            CP_ARG(cl_uint, channels), CP_ARG(cl_uint, hw), CP_RED_MAP_ARGS(r));
    CP_TRY(cp_opsi_red_map(ctx, k, &r));
    return cp_opsi_red_finish(ctx, &r, db->buf, db->offset, 1.0f, 1.0f, acc);
}

cp_status cp_reduce_sum(cp_context *ctx, const cp_tensor *x, float scale, cp_tensor *out)
{
    static const char *op = "cp_reduce_sum";
    cp_opsi_nchw sx = {0};
    CP_TRY(cp_opsi_tensor(op, "x", x, &sx));
    CP_TRY(cp_opsi_tensor(op, "out", out, NULL));
    CP_TRY(cp_opsi_numel_is(op, out, 1, "a scalar"));
    cl_kernel k;
    cp_opsi_red r;
    CP_TRY(cp_kernel_get(ctx, "reduce.cl", "", "reduce_sum_map", &k));
    CP_TRY(cp_opsi_red_plan(ctx, k, 1, sx.numel, 0, &r));
    CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_uint, sx.numel),
            CP_RED_MAP_ARGS(r));
    CP_TRY(cp_opsi_red_map(ctx, k, &r));
    return cp_opsi_red_finish(ctx, &r, out->buf, out->offset, scale, 1.0f, false);
}
