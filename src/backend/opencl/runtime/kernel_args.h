/* Internal: setting kernel arguments with checks, in one line per kernel:
 *   CP_ARGS(k, CP_ARG(cl_mem, buf), CP_ARG(cl_uint, n));            */
#ifndef CP_RUNTIME_KERNEL_ARGS_H
#define CP_RUNTIME_KERNEL_ARGS_H
#include "backend/opencl/runtime/check.h"

typedef struct cp_kernel_arg {
    size_t size;
    const void *value;
} cp_kernel_arg;

#define CP_ARG(type, v) ((cp_kernel_arg){sizeof(type), &(type){v}})
#define CP_LOCAL(bytes) ((cp_kernel_arg){(bytes), NULL})

cp_status cp_set_args(cl_kernel k, const char *where, int count, const cp_kernel_arg *args);

#define CP_ARGS(k, ...)                                                          \
    CP_TRY(cp_set_args((k), __func__,                                            \
                       (int)(sizeof((cp_kernel_arg[]){__VA_ARGS__}) / sizeof(cp_kernel_arg)), \
                       (cp_kernel_arg[]){__VA_ARGS__}))
#endif
