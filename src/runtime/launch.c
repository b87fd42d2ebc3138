/* Kernel launches with global sizes rounded up to the work-group size. */
#include "clinpaint/runtime.h"
#include "runtime/check.h"
#include "runtime/profile.h"

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
    size_t local = cp_context_wg_size(ctx, wg ? wg : 64);
    size_t global = (n + local - 1) / local * local;
    CP_CL_CHECK(clEnqueueNDRangeKernel(cp_context_queue(ctx), k, 1, NULL, &global,
                                       &local, 0, NULL, event ? event : cp_profile_slot(ctx)));
    return CP_OK;
}

cp_status cp_enqueue_nd(cp_context *ctx, cl_kernel k, int dims, const size_t *global,
                        const size_t *local, cl_event *event)
{
    size_t g[3];
    for (int i = 0; i < dims; i++) {
        if (global[i] == 0) return CP_OK;
        size_t l = local ? local[i] : 1;
        g[i] = (global[i] + l - 1) / l * l;
    }
    CP_CL_CHECK(clEnqueueNDRangeKernel(cp_context_queue(ctx), k, (cl_uint)dims, NULL, g,
                                       local, 0, NULL, event ? event : cp_profile_slot(ctx)));
    return CP_OK;
}
