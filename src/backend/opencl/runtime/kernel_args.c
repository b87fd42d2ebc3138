#include "backend/opencl/runtime/kernel_args.h"

cp_status cp_set_args(cl_kernel k, const char *where, int count, const cp_kernel_arg *args)
{
    for (int i = 0; i < count; i++) {
        cl_int err = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].value);
        if (err != CL_SUCCESS)
            return cp_set_error(CP_ERR_INTERNAL, "clSetKernelArg(%d) in %s failed with %s",
                                i, where, cp_cl_error_name(err));
    }
    return CP_OK;
}
