/* OpenCL/CLBlast code names and their statuses (runtime/check.h); the
 * status strings and error messages are util/status.c. */
#include "clinpaint/status.h"
#include "backend/opencl/runtime/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cp_cl_error_name(int e)
{
    switch (e) {
#define N(x) case x: return #x;
    N(CL_SUCCESS) N(CL_DEVICE_NOT_FOUND) N(CL_DEVICE_NOT_AVAILABLE)
    N(CL_COMPILER_NOT_AVAILABLE) N(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    N(CL_OUT_OF_RESOURCES) N(CL_OUT_OF_HOST_MEMORY)
    N(CL_PROFILING_INFO_NOT_AVAILABLE) N(CL_MEM_COPY_OVERLAP)
    N(CL_IMAGE_FORMAT_MISMATCH) N(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    N(CL_BUILD_PROGRAM_FAILURE) N(CL_MAP_FAILURE)
    N(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    N(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    N(CL_COMPILE_PROGRAM_FAILURE) N(CL_LINKER_NOT_AVAILABLE)
    N(CL_LINK_PROGRAM_FAILURE) N(CL_DEVICE_PARTITION_FAILED)
    N(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) N(CL_INVALID_VALUE)
    N(CL_INVALID_DEVICE_TYPE) N(CL_INVALID_PLATFORM) N(CL_INVALID_DEVICE)
    N(CL_INVALID_CONTEXT) N(CL_INVALID_QUEUE_PROPERTIES)
    N(CL_INVALID_COMMAND_QUEUE) N(CL_INVALID_HOST_PTR)
    N(CL_INVALID_MEM_OBJECT) N(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    N(CL_INVALID_IMAGE_SIZE) N(CL_INVALID_SAMPLER) N(CL_INVALID_BINARY)
    N(CL_INVALID_BUILD_OPTIONS) N(CL_INVALID_PROGRAM)
    N(CL_INVALID_PROGRAM_EXECUTABLE) N(CL_INVALID_KERNEL_NAME)
    N(CL_INVALID_KERNEL_DEFINITION) N(CL_INVALID_KERNEL)
    N(CL_INVALID_ARG_INDEX) N(CL_INVALID_ARG_VALUE) N(CL_INVALID_ARG_SIZE)
    N(CL_INVALID_KERNEL_ARGS) N(CL_INVALID_WORK_DIMENSION)
    N(CL_INVALID_WORK_GROUP_SIZE) N(CL_INVALID_WORK_ITEM_SIZE)
    N(CL_INVALID_GLOBAL_OFFSET) N(CL_INVALID_EVENT_WAIT_LIST)
    N(CL_INVALID_EVENT) N(CL_INVALID_OPERATION) N(CL_INVALID_GL_OBJECT)
    N(CL_INVALID_BUFFER_SIZE) N(CL_INVALID_MIP_LEVEL)
    N(CL_INVALID_GLOBAL_WORK_SIZE) N(CL_INVALID_PROPERTY)
    N(CL_INVALID_IMAGE_DESCRIPTOR) N(CL_INVALID_COMPILER_OPTIONS)
    N(CL_INVALID_LINKER_OPTIONS) N(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef N
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "CL_UNKNOWN_ERROR";
    }
}

const char *cp_clblast_error_name(int s)
{
    switch (s) {
    case 0: return "CLBlastSuccess";
    case -2048: return "CLBlastNotImplemented";
    case -1024: return "CLBlastInvalidMatrixA";
    case -1022: return "CLBlastInvalidMatrixB";
    case -1020: return "CLBlastInvalidMatrixC";
    case -1019: return "CLBlastInvalidVectorX";
    case -1018: return "CLBlastInvalidVectorY";
    case -1017: return "CLBlastInvalidDimension";
    case -1016: return "CLBlastInvalidLeadDimA";
    case -1015: return "CLBlastInvalidLeadDimB";
    case -1014: return "CLBlastInvalidLeadDimC";
    case -1013: return "CLBlastInvalidIncrementX";
    case -1012: return "CLBlastInvalidIncrementY";
    case -1011: return "CLBlastInsufficientMemoryA";
    case -1010: return "CLBlastInsufficientMemoryB";
    case -1009: return "CLBlastInsufficientMemoryC";
    case -1008: return "CLBlastInsufficientMemoryX";
    case -1007: return "CLBlastInsufficientMemoryY";
    case -2050: return "CLBlastInsufficientMemoryTemp";
    case -2049: return "CLBlastInvalidBatchCount";
    case -2047: return "CLBlastInvalidOverrideKernel";
    case -2046: return "CLBlastMissingOverrideParameter";
    case -2045: return "CLBlastInvalidLocalMemUsage";
    case -2044: return "CLBlastNoHalfPrecision";
    case -2043: return "CLBlastNoDoublePrecision";
    case -2042: return "CLBlastInvalidVectorScalar";
    case -2041: return "CLBlastInsufficientMemoryScalar";
    case -2040: return "CLBlastDatabaseError";
    case -2039: return "CLBlastUnknownError";
    case -2038: return "CLBlastUnexpectedError";
    default: return cp_cl_error_name(s); /* CLBlast reuses OpenCL codes */
    }
}

/* Out-of-memory codes become CP_ERR_OUT_OF_DEVICE_MEMORY with a hint. */
static cp_status classify(int code, cp_status generic, const char **hint)
{
    switch (code) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_RESOURCES:
    case -2050: /* CLBlastInsufficientMemoryTemp */
        *hint = "the device ran out of memory or resources: try a smaller "
                "--batch, a smaller --preset, or close other programs using "
                "the device";
        return CP_ERR_OUT_OF_DEVICE_MEMORY;
    case CL_OUT_OF_HOST_MEMORY:
        *hint = "the host ran out of memory";
        return CP_ERR_OUT_OF_HOST_MEMORY;
    case CL_INVALID_WORK_GROUP_SIZE:
        *hint = "the device rejected a work-group size: please report this "
                "with the output of `clinpaint devices`";
        return generic;
    case CL_PLATFORM_NOT_FOUND_KHR_CODE:
        *hint = "no OpenCL platform is installed: install an OpenCL driver "
                "(pocl-opencl-icd for CPUs, or your GPU vendor's ICD)";
        return CP_ERR_NO_DEVICE;
    default:
        *hint = NULL;
        return generic;
    }
}

cp_status cp_cl_fail(int code, const char *call, const char *file, int line)
{
    const char *hint;
    cp_status st = classify(code, CP_ERR_OPENCL, &hint);
    return cp_set_error(st, "%s failed with %s (%d) at %s:%d%s%s", call,
                        cp_cl_error_name(code), code, file, line,
                        hint ? ": " : "", hint ? hint : "");
}

cp_status cp_clblast_fail(int code, const char *call, const char *file,
                          int line)
{
    const char *hint;
    cp_status st = classify(code, CP_ERR_CLBLAST, &hint);
    return cp_set_error(st, "%s failed with %s (%d) at %s:%d%s%s", call,
                        cp_clblast_error_name(code), code, file, line,
                        hint ? ": " : "", hint ? hint : "");
}
