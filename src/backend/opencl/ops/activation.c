/* ELU (alpha 1), tanh and sigmoid; backward from the output y
 * (cl/elementwise.cl). y may be x (in place). */
#include "backend/opencl/ops/ops_internal.h"

static cp_status act_forward(cp_context *ctx, const char *op, const char *kernel,
                             const cp_tensor *x, cp_tensor *y)
{
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "x", x, &s));
    CP_TRY(cp_opsi_tensor(op, "y", y, NULL));
    CP_TRY(cp_opsi_same_numel(op, x, y));
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "elementwise.cl", "", kernel, &k));
    CP_ARGS(k, CP_ARG(cl_mem, x->buf), CP_ARG(cl_ulong, x->offset), CP_ARG(cl_mem, y->buf),
            CP_ARG(cl_ulong, y->offset), CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}

static cp_status act_backward(cp_context *ctx, const char *op, const char *kernel,
                              const cp_tensor *y, const cp_tensor *dy, cp_tensor *dx,
                              bool accumulate)
{
    if (!dx) return CP_OK;
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "y", y, &s));
    CP_TRY(cp_opsi_tensor(op, "dy", dy, NULL));
    CP_TRY(cp_opsi_tensor(op, "dx", dx, NULL));
    CP_TRY(cp_opsi_same_numel(op, y, dy));
    CP_TRY(cp_opsi_same_numel(op, y, dx));
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "elementwise.cl", "", kernel, &k));
    CP_ARGS(k, CP_ARG(cl_mem, y->buf), CP_ARG(cl_ulong, y->offset), CP_ARG(cl_mem, dy->buf),
            CP_ARG(cl_ulong, dy->offset), CP_ARG(cl_mem, dx->buf),
            CP_ARG(cl_ulong, dx->offset), CP_ARG(cl_uint, accumulate ? 1u : 0u),
            CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}

cp_status cp_elu_forward(cp_context *ctx, const cp_tensor *x, cp_tensor *y)
{
    return act_forward(ctx, "cp_elu_forward", "elu_fwd", x, y);
}

cp_status cp_elu_backward(cp_context *ctx, const cp_tensor *y, const cp_tensor *dy,
                          cp_tensor *dx, bool accumulate)
{
    return act_backward(ctx, "cp_elu_backward", "elu_bwd", y, dy, dx, accumulate);
}

cp_status cp_tanh_forward(cp_context *ctx, const cp_tensor *x, cp_tensor *y)
{
    return act_forward(ctx, "cp_tanh_forward", "tanh_fwd", x, y);
}

cp_status cp_tanh_backward(cp_context *ctx, const cp_tensor *y, const cp_tensor *dy,
                           cp_tensor *dx, bool accumulate)
{
    return act_backward(ctx, "cp_tanh_backward", "tanh_bwd", y, dy, dx, accumulate);
}

cp_status cp_sigmoid_forward(cp_context *ctx, const cp_tensor *x, cp_tensor *y)
{
    return act_forward(ctx, "cp_sigmoid_forward", "sigmoid_fwd", x, y);
}

cp_status cp_sigmoid_backward(cp_context *ctx, const cp_tensor *y, const cp_tensor *dy,
                              cp_tensor *dx, bool accumulate)
{
    return act_backward(ctx, "cp_sigmoid_backward", "sigmoid_bwd", y, dy, dx, accumulate);
}
