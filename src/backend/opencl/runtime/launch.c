/* Kernel launches with global sizes rounded up to the work-group size, and
 * work-groups within the kernel's and the device's limits. */
#include "clinpaint/runtime.h"
#include "backend/opencl/runtime/check.h"
#include "backend/opencl/runtime/context_internal.h"
#include "backend/opencl/runtime/profile.h"

#include <time.h>

double cp_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

cp_status cp_enqueue_1d(cp_context *ctx, cl_kernel k, size_t n, size_t wg, cl_event *event)
{
    if (n == 0) return CP_OK;
    size_t limit;
    CP_TRY(cp_kernel_wg_limit(ctx, k, &limit));
    size_t local = cp_context_wg_size(ctx, wg ? wg : 64);
    if (local > limit) local = limit;
    size_t global = (n + local - 1) / local * local;
    CP_CL_CHECK(clEnqueueNDRangeKernel(cp_context_queue(ctx), k, 1, NULL, &global,
                                       &local, 0, NULL, event ? event : cp_profile_slot(ctx)));
    return CP_OK;
}

cp_status cp_enqueue_nd(cp_context *ctx, cl_kernel k, int dims, const size_t *global,
                        const size_t *local, cl_event *event)
{
    size_t g[3], group = 1;
    if (dims < 1 || dims > 3)
        return cp_set_error(CP_ERR_INTERNAL, "cp_enqueue_nd: %d dimensions", dims);
    for (int i = 0; i < dims; i++) {
        if (global[i] == 0) return CP_OK;
        size_t l = local ? local[i] : 1;
        if (l == 0 || l > ctx->info.max_work_item_sizes[i])
            return cp_set_error(CP_ERR_UNSUPPORTED,
                                "work-group size %zu in dimension %d is beyond the device's "
                                "limit %zu",
                                l, i, ctx->info.max_work_item_sizes[i]);
        group *= l;
        g[i] = (global[i] + l - 1) / l * l;
    }
    size_t limit;
    if (local) CP_TRY(cp_kernel_wg_limit(ctx, k, &limit));
    if (local && group > limit) {
        char name[96] = "?";
        (void)clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
        name[sizeof name - 1] = '\0';
        return cp_set_error(CP_ERR_UNSUPPORTED,
                            "kernel %s: work-group of %zu items is beyond its limit of %zu on "
                            "this device",
                            name, group, limit);
    }
    CP_CL_CHECK(clEnqueueNDRangeKernel(cp_context_queue(ctx), k, (cl_uint)dims, NULL, g,
                                       local, 0, NULL, event ? event : cp_profile_slot(ctx)));
    return CP_OK;
}
