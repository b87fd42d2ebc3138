/* The per-device context: OpenCL context, one in-order profiling queue,
 * device memory accounting and the settings it was created with. */
#include "clinpaint/runtime.h"
#include "backend/opencl/runtime/check.h"
#include "backend/opencl/runtime/context_internal.h"
#include "backend/opencl/runtime/profile.h"

#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

cp_context_options cp_context_options_default(void)
{
    return (cp_context_options){.conv_route = CP_CONV_AUTO, .gemm = CP_GEMM_PREFER_DEFAULT};
}

/* A copy of s (NULL stays NULL); false only when out of memory. */
static bool copy_setting(const char *s, char **copy)
{
    *copy = NULL;
    if (!s) return true;
    size_t n = strlen(s) + 1;
    *copy = malloc(n);
    if (!*copy) return false;
    memcpy(*copy, s, n);
    return true;
}

cp_status cp_context_create_with(const cp_context_options *options, cp_context **out)
{
    *out = NULL;
    cp_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "context");
    cp_context_options o = options ? *options : cp_context_options_default();
    if (!copy_setting(o.device, &ctx->device_copy) ||
        !copy_setting(o.kernel_dir, &ctx->kernel_dir_copy) ||
        !copy_setting(o.cache_dir, &ctx->cache_dir_copy)) {
        cp_context_free(ctx);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "context options");
    }
    o.device = ctx->device_copy;
    o.kernel_dir = ctx->kernel_dir_copy;
    o.cache_dir = ctx->cache_dir_copy;
    o.device_origin = NULL; /* only needed while selecting */
    ctx->options = o;
    cp_status st = cp_device_select_named(options ? options->device : NULL,
                                          options ? options->device_origin : NULL, &ctx->info);
    if (st != CP_OK) {
        cp_context_free(ctx);
        return st;
    }
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                     (cl_context_properties)ctx->info.platform, 0};
    ctx->cl = clCreateContext(props, 1, &ctx->info.device, NULL, NULL, &err);
    CP_CL_CHECK_GOTO(err, fail);
    /* clCreateCommandQueue is deprecated in 2.0 but is the 1.2 entry point,
     * which every driver (Apple's included) has. */
    ctx->queue = clCreateCommandQueue(ctx->cl, ctx->info.device,
                                      CL_QUEUE_PROFILING_ENABLE, &err);
    CP_CL_CHECK_GOTO(err, fail);
    *out = ctx;
    return CP_OK;
fail:
    cp_context_free(ctx);
    return st;
}

cp_status cp_context_create(const char *selector, cp_context **out)
{
    cp_context_options o = cp_context_options_default();
    o.device = selector;
    return cp_context_create_with(&o, out);
}

const cp_context_options *cp_context_options_of(const cp_context *ctx) { return &ctx->options; }
void cp_context_set_conv_route(cp_context *ctx, cp_conv_route route)
{
    ctx->options.conv_route = route;
}

void cp_context_free(cp_context *ctx)
{
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    cp_program_cache_free(ctx);
    cp_buffer_free(ctx, ctx->scratch);
    int n_events;
    cp_profile_event *events = cp_profile_end(ctx, &n_events);
    for (int i = 0; i < n_events; i++) clReleaseEvent(events[i].event);
    free(events);
    /* CLBlast keeps programs per context in a process-wide cache; drop them
     * so the context can really go (and leak checkers stay quiet). */
    CLBlastClearCache();
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->cl) clReleaseContext(ctx->cl);
    free(ctx->device_copy);
    free(ctx->kernel_dir_copy);
    free(ctx->cache_dir_copy);
    free(ctx);
}

const cp_device_info *cp_context_device(const cp_context *ctx) { return &ctx->info; }
cl_context cp_context_cl(const cp_context *ctx) { return ctx->cl; }
cl_command_queue cp_context_queue(const cp_context *ctx) { return ctx->queue; }
cl_command_queue *cp_context_queue_ptr(cp_context *ctx) { return &ctx->queue; }

cp_status cp_context_finish(cp_context *ctx)
{
    CP_CL_CHECK(clFinish(ctx->queue));
    return CP_OK;
}

cp_status cp_buffer_alloc(cp_context *ctx, size_t bytes, cl_mem *out)
{
    *out = NULL;
    if (bytes == 0) bytes = 4; /* OpenCL refuses empty buffers */
    if (bytes > ctx->info.max_alloc_bytes && ctx->info.max_alloc_bytes)
        return cp_set_error(CP_ERR_OUT_OF_DEVICE_MEMORY,
                            "a buffer of %zu bytes exceeds the device's largest "
                            "allocation (%llu bytes): try a smaller --batch",
                            bytes, (unsigned long long)ctx->info.max_alloc_bytes);
    cl_int err;
    cl_mem m = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
    CP_CL_CHECK(err);
    *out = m;
    ctx->bytes_in_use += bytes;
    if (ctx->bytes_in_use > ctx->peak_bytes) ctx->peak_bytes = ctx->bytes_in_use;
    return CP_OK;
}

void cp_buffer_free(cp_context *ctx, cl_mem buf)
{
    if (!buf) return;
    size_t bytes = 0;
    if (clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) == CL_SUCCESS &&
        bytes <= ctx->bytes_in_use)
        ctx->bytes_in_use -= bytes;
    clReleaseMemObject(buf);
}

uint64_t cp_context_bytes_in_use(const cp_context *ctx) { return ctx->bytes_in_use; }
uint64_t cp_context_peak_bytes(const cp_context *ctx) { return ctx->peak_bytes; }
void cp_context_reset_peak(cp_context *ctx) { ctx->peak_bytes = ctx->bytes_in_use; }

cp_program_stats cp_context_program_stats(const cp_context *ctx) { return ctx->stats; }

static size_t min_nonzero(size_t a, size_t b) { return b && b < a ? b : a; }

size_t cp_context_wg_size(const cp_context *ctx, size_t want)
{
    size_t m = min_nonzero(ctx->info.max_work_group_size, ctx->info.max_work_item_sizes[0]);
    m = min_nonzero(m, ctx->wg_cap);
    size_t w = want < m ? want : m;
    return w ? w : 1;
}

void cp_context_set_max_work_group_size(cp_context *ctx, size_t cap) { ctx->wg_cap = cap; }
size_t cp_context_max_work_group_size(const cp_context *ctx) { return ctx->wg_cap; }
void cp_context_set_max_local_mem_size(cp_context *ctx, uint64_t cap) { ctx->local_cap = cap; }

uint64_t cp_context_local_mem_size(const cp_context *ctx)
{
    uint64_t dev = ctx->info.local_mem_bytes;
    return ctx->local_cap && ctx->local_cap < dev ? ctx->local_cap : dev;
}

/* The cached limits of k (queried on first use). */
static cp_status kernel_limits(cp_context *ctx, cl_kernel k, struct cp_kernel_limits **out)
{
    size_t h = ((uintptr_t)k >> 4) % CP_KERNEL_LIMIT_SLOTS;
    for (size_t i = 0; i < CP_KERNEL_LIMIT_SLOTS; i++) {
        struct cp_kernel_limits *e = &ctx->limits[(h + i) % CP_KERNEL_LIMIT_SLOTS];
        if (e->kernel == k) {
            *out = e;
            return CP_OK;
        }
        if (e->kernel) continue;
        size_t wg = 0;
        cl_ulong local = 0;
        CP_CL_CHECK(clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_WORK_GROUP_SIZE,
                                             sizeof wg, &wg, NULL));
        CP_CL_CHECK(clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_LOCAL_MEM_SIZE,
                                             sizeof local, &local, NULL));
        *e = (struct cp_kernel_limits){.kernel = k, .wg = wg, .local_mem = local};
        *out = e;
        return CP_OK;
    }
    /* Table full (never with our few hundred kernels): ask every time. */
    static _Thread_local struct cp_kernel_limits spare;
    spare = (struct cp_kernel_limits){0};
    CP_CL_CHECK(clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_WORK_GROUP_SIZE,
                                         sizeof spare.wg, &spare.wg, NULL));
    cl_ulong local = 0;
    CP_CL_CHECK(clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_LOCAL_MEM_SIZE,
                                         sizeof local, &local, NULL));
    spare.local_mem = local;
    *out = &spare;
    return CP_OK;
}

cp_status cp_kernel_wg_limit(cp_context *ctx, cl_kernel k, size_t *limit)
{
    struct cp_kernel_limits *e = NULL;
    CP_TRY(kernel_limits(ctx, k, &e));
    size_t m = min_nonzero(ctx->info.max_work_group_size, e->wg);
    m = min_nonzero(m, ctx->wg_cap);
    *limit = m ? m : 1;
    return CP_OK;
}

cp_status cp_kernel_local_mem_free(cp_context *ctx, cl_kernel k, uint64_t *bytes)
{
    struct cp_kernel_limits *e = NULL;
    CP_TRY(kernel_limits(ctx, k, &e));
    uint64_t dev = cp_context_local_mem_size(ctx);
    *bytes = e->local_mem < dev ? dev - e->local_mem : 0;
    return CP_OK;
}

cp_status cp_context_scratch(cp_context *ctx, size_t bytes, cl_mem *out)
{
    if (bytes > ctx->scratch_bytes || !ctx->scratch) {
        /* Releasing the old buffer is safe with kernels still queued on it:
         * OpenCL deletes it when they are done. */
        size_t want = bytes > 4096 ? bytes : 4096;
        cl_mem grown;
        CP_TRY(cp_buffer_alloc(ctx, want, &grown));
        cp_buffer_free(ctx, ctx->scratch);
        ctx->scratch = grown;
        ctx->scratch_bytes = want;
    }
    *out = ctx->scratch;
    return CP_OK;
}
