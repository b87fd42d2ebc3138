/* Adam in PyTorch's form on flat ranges (cl/adam.cl); the bias corrections
 * are computed here from t in double, so nothing is read back. */
#include "backend/opencl/ops/ops_internal.h"

#include <math.h>

cp_status cp_adam_step(cp_context *ctx, const cp_adam_params *p, int64_t t,
                       cp_tensor *param, const cp_tensor *grad, cp_tensor *m, cp_tensor *v)
{
    static const char *op = "cp_adam_step";
    if (!p || t < 1 || !(p->beta1 >= 0.0f && p->beta1 < 1.0f) ||
        !(p->beta2 >= 0.0f && p->beta2 < 1.0f) || !(p->eps >= 0.0f) || !isfinite(p->lr))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: needs t >= 1 (got %lld), beta1 and beta2 in [0, 1), eps >= 0 "
                            "and a finite lr",
                            op, (long long)t);
    cp_opsi_nchw s = {0};
    CP_TRY(cp_opsi_tensor(op, "param", param, &s));
    CP_TRY(cp_opsi_tensor(op, "grad", grad, NULL));
    CP_TRY(cp_opsi_tensor(op, "m", m, NULL));
    CP_TRY(cp_opsi_tensor(op, "v", v, NULL));
    CP_TRY(cp_opsi_same_numel(op, param, grad));
    CP_TRY(cp_opsi_same_numel(op, param, m));
    CP_TRY(cp_opsi_same_numel(op, param, v));
    float bc1 = (float)(1.0 - pow((double)p->beta1, (double)t));
    float bc2 = (float)(1.0 - pow((double)p->beta2, (double)t));
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "adam.cl", "", "adam_step", &k));
    CP_ARGS(k, CP_ARG(cl_mem, param->buf), CP_ARG(cl_ulong, param->offset),
            CP_ARG(cl_mem, grad->buf), CP_ARG(cl_ulong, grad->offset), CP_ARG(cl_mem, m->buf),
            CP_ARG(cl_ulong, m->offset), CP_ARG(cl_mem, v->buf), CP_ARG(cl_ulong, v->offset),
            CP_ARG(cl_float, p->lr), CP_ARG(cl_float, p->beta1), CP_ARG(cl_float, p->beta2),
            CP_ARG(cl_float, p->eps), CP_ARG(cl_float, bc1), CP_ARG(cl_float, bc2),
            CP_ARG(cl_uint, s.numel));
    return cp_opsi_launch_1d(ctx, k, s.numel);
}
