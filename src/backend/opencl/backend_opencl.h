/* Internal: the OpenCL backend, over one cp_context (its device, queue,
 * program cache and tuned routes). */
#ifndef CP_BACKEND_OPENCL_H
#define CP_BACKEND_OPENCL_H

#include "backend/backend.h"
#include "clinpaint/runtime.h"

/* A backend that uses ctx (not taken over: ctx must outlive it). */
cp_status cp_backend_opencl_create(cp_context *ctx, cp_backend **out);

/* The backend's compute (compute.c): one op call per node of [first, end)
 * on the context's in-order queue. */
cp_status cp_opencl_compute(cp_backend *b, cp_graph *g, int first, int end);
#endif
