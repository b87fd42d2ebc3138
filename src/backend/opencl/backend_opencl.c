/* The OpenCL backend's table (backend/backend.h): buffers, workspace sizes
 * and profiling over a cp_context; the op switch is compute.c. */
#include "backend/opencl/backend_opencl.h"
#include "backend/opencl/runtime/check.h"
#include "backend/opencl/runtime/profile.h"
#include "graph/graph_internal.h"

#include <stdlib.h>

static cp_context *ctx_of(const cp_backend *b) { return b->context; }
static cl_mem mem(cp_backend_buffer buf) { return (cl_mem)buf; }

static const char *opencl_name(const cp_backend *b) { return "OpenCL"; }

static const char *opencl_device_name(const cp_backend *b)
{
    return cp_context_device(ctx_of(b))->name;
}

static void opencl_free(cp_backend *b) { free(b); }

static cp_status opencl_buffer_alloc(cp_backend *b, size_t bytes, cp_backend_buffer *out)
{
    cl_mem m = NULL;
    CP_TRY(cp_buffer_alloc(ctx_of(b), bytes, &m));
    *out = (cp_backend_buffer)m;
    return CP_OK;
}

static void opencl_buffer_free(cp_backend *b, cp_backend_buffer buf)
{
    cp_buffer_free(ctx_of(b), mem(buf));
}

static cp_status opencl_buffer_fill(cp_backend *b, cp_backend_buffer buf, size_t offset,
                                    size_t count, float value)
{
    return cp_buffer_fill(ctx_of(b), mem(buf), offset, count, value);
}

static cp_status opencl_buffer_write(cp_backend *b, cp_backend_buffer buf, size_t offset_bytes,
                                     size_t bytes, const void *src)
{
    /* Blocking: the caller may reuse src at once. */
    CP_CL_CHECK(clEnqueueWriteBuffer(cp_context_queue(ctx_of(b)), mem(buf), CL_TRUE, offset_bytes,
                                     bytes, src, 0, NULL, NULL));
    return CP_OK;
}

static cp_status opencl_buffer_read(cp_backend *b, cp_backend_buffer buf, size_t offset_bytes,
                                    size_t bytes, void *dst, bool blocking)
{
    CP_CL_CHECK(clEnqueueReadBuffer(cp_context_queue(ctx_of(b)), mem(buf),
                                    blocking ? CL_TRUE : CL_FALSE, offset_bytes, bytes, dst, 0,
                                    NULL, NULL));
    return CP_OK;
}

static cp_status opencl_buffer_copy(cp_backend *b, cp_backend_buffer src, size_t src_offset,
                                    cp_backend_buffer dst, size_t dst_offset, size_t count)
{
    return cp_buffer_copy(ctx_of(b), mem(src), src_offset, mem(dst), dst_offset, count);
}

static uint64_t opencl_max_alloc_bytes(const cp_backend *b)
{
    return cp_context_device(ctx_of(b))->max_alloc_bytes;
}

/* Every op of the graph runs here, in float32. */
static bool opencl_supports_op(const cp_backend *b, const cp_node *n)
{
    return n->op >= 0 && n->op < CP_OP_COUNT && n->dtype == CP_DTYPE_F32;
}

/* The routes (direct, im2col + GEMM, CLBlast) decide the scratch a GEMM
 * op needs; the backward nodes are sized like their forward, from x and w
 * (sources 0 and 1). */
static size_t opencl_workspace_floats(cp_backend *b, const cp_node *n)
{
    cp_context *ctx = ctx_of(b);
    const cp_node *x = n->src[0], *w = n->src[1];
    switch (n->op) {
    case CP_OP_CONV2D: case CP_OP_CONV2D_DX: case CP_OP_CONV2D_DW:
        return cp_conv2d_workspace_floats(ctx, &n->params.conv, x->shape[0], w->shape[1],
                                          x->shape[2], x->shape[3], w->shape[0]);
    case CP_OP_CONV_T2D: case CP_OP_CONV_T2D_DX: case CP_OP_CONV_T2D_DW:
        return cp_conv_transpose2d_workspace_floats(ctx, &n->params.conv, x->shape[0],
                                                    w->shape[0], x->shape[2], x->shape[3],
                                                    w->shape[1]);
    case CP_OP_DENSE: case CP_OP_DENSE_DX: case CP_OP_DENSE_DW: {
        int64_t batch = x->shape[0];
        return cp_dense_workspace_floats(ctx, batch, (int64_t)(cp_node_numel(x) / (size_t)batch),
                                         w->shape[0]);
    }
    default:
        return 0;
    }
}

static cp_status opencl_synchronize(cp_backend *b) { return cp_context_finish(ctx_of(b)); }

static cp_status opencl_profile_begin(cp_backend *b)
{
    cp_profile_begin(ctx_of(b));
    return CP_OK;
}

static cp_status opencl_profile_end(cp_backend *b, cp_backend_timing **out, int *count)
{
    int n = 0;
    cp_profile_event *ev = cp_profile_end(ctx_of(b), &n);
    cp_backend_timing *t = calloc(n > 0 ? (size_t)n : 1, sizeof *t);
    for (int i = 0; i < n && t; i++) {
        cl_ulong t0 = 0, t1 = 0;
        t[i].node = ev[i].tag;
        t[i].timed = clGetEventProfilingInfo(ev[i].event, CL_PROFILING_COMMAND_START, sizeof t0,
                                             &t0, NULL) == CL_SUCCESS &&
                     clGetEventProfilingInfo(ev[i].event, CL_PROFILING_COMMAND_END, sizeof t1,
                                             &t1, NULL) == CL_SUCCESS;
        t[i].start_ns = t0;
        t[i].end_ns = t1;
    }
    for (int i = 0; i < n; i++) clReleaseEvent(ev[i].event);
    free(ev);
    *out = t;
    *count = t ? n : 0;
    return t ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "profile timings");
}

static const cp_backend_i opencl_iface = {
    .name = opencl_name,
    .device_name = opencl_device_name,
    .free = opencl_free,
    .buffer_alloc = opencl_buffer_alloc,
    .buffer_free = opencl_buffer_free,
    .buffer_fill = opencl_buffer_fill,
    .buffer_write = opencl_buffer_write,
    .buffer_read = opencl_buffer_read,
    .buffer_copy = opencl_buffer_copy,
    .max_alloc_bytes = opencl_max_alloc_bytes,
    .supports_op = opencl_supports_op,
    .workspace_floats = opencl_workspace_floats,
    .compute = cp_opencl_compute,
    .synchronize = opencl_synchronize,
    .profile_begin = opencl_profile_begin,
    .profile_end = opencl_profile_end,
};

cp_status cp_backend_opencl_create(cp_context *ctx, cp_backend **out)
{
    if (!ctx) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "OpenCL backend: no context");
    cp_backend *b = calloc(1, sizeof *b);
    if (!b) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "OpenCL backend");
    b->iface = &opencl_iface;
    b->context = ctx;
    *out = b;
    return CP_OK;
}

/* The public cp_graph_create: a graph made from a context runs on the
 * context's OpenCL backend; one made without is built and differentiated
 * only. Here rather than in src/graph/, which knows no backend. */
cp_status cp_graph_create(cp_context *ctx, cp_graph **out)
{
    cp_backend *b = NULL;
    cp_status st = ctx ? cp_backend_opencl_create(ctx, &b) : CP_OK;
    return st != CP_OK ? st : cp_graph_create_on(b, out);
}
