/* Internal: checking macros for OpenCL and CLBlast calls.
 * CP_CL_CHECK(expr) evaluates an OpenCL call returning cl_int and, on failure,
 * records the call text, the CL_* name, file:line and a hint, and returns the
 * status from the enclosing function. CP_CL_CHECK_GOTO jumps to a cleanup
 * label instead, storing the status in `st`. */
#ifndef CP_RUNTIME_CHECK_H
#define CP_RUNTIME_CHECK_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "clinpaint/status.h"
#include "util/try.h" /* CP_TRY, CP_TRY_GOTO */

#define CL_PLATFORM_NOT_FOUND_KHR_CODE (-1001)

cp_status cp_cl_fail(int code, const char *call, const char *file, int line);
cp_status cp_clblast_fail(int code, const char *call, const char *file, int line);

#define CP_CL_CHECK(expr)                                                    \
    do {                                                                     \
        cl_int cp_err_ = (expr);                                             \
        if (cp_err_ != CL_SUCCESS)                                           \
            return cp_cl_fail(cp_err_, #expr, __FILE__, __LINE__);           \
    } while (0)

#define CP_CL_CHECK_GOTO(expr, label)                                        \
    do {                                                                     \
        cl_int cp_err_ = (expr);                                             \
        if (cp_err_ != CL_SUCCESS) {                                         \
            st = cp_cl_fail(cp_err_, #expr, __FILE__, __LINE__);             \
            goto label;                                                      \
        }                                                                    \
    } while (0)

#define CP_CLBLAST_CHECK(expr)                                               \
    do {                                                                     \
        int cp_err_ = (int)(expr);                                           \
        if (cp_err_ != 0)                                                    \
            return cp_clblast_fail(cp_err_, #expr, __FILE__, __LINE__);      \
    } while (0)

#endif
