/* clinpaint: status codes and error messages.
 *
 * Every library function that can fail returns a cp_status. On failure a
 * human-readable message (what failed, the OpenCL/CLBlast code name, file:line
 * and a hint for the user) is kept per thread and read with cp_last_error().
 */
#ifndef CLINPAINT_STATUS_H
#define CLINPAINT_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cp_status {
    CP_OK = 0,
    CP_ERR_INVALID_ARGUMENT,  /* bad value from the caller or the user */
    CP_ERR_OUT_OF_HOST_MEMORY,
    CP_ERR_OUT_OF_DEVICE_MEMORY,
    CP_ERR_OPENCL,            /* an OpenCL call failed */
    CP_ERR_CLBLAST,           /* a CLBlast call failed */
    CP_ERR_NO_DEVICE,         /* no OpenCL device, or the selector matched none */
    CP_ERR_BUILD,             /* an OpenCL program failed to build */
    CP_ERR_IO,                /* a file could not be read or written */
    CP_ERR_FORMAT,            /* a file is corrupt, truncated or of the wrong kind */
    CP_ERR_UNSUPPORTED,       /* the device or build lacks a needed feature */
    CP_ERR_NUMERIC,           /* NaN or Inf where a finite value is required */
    CP_ERR_INTERRUPTED,       /* stopped by the user (Ctrl-C) */
    CP_ERR_INTERNAL,          /* a broken internal invariant: a bug */
    CP_STATUS_COUNT
} cp_status;

/* Short fixed name of a status, e.g. "out of device memory". Never NULL. */
const char *cp_status_str(cp_status status);

/* Detailed message of the last failure on this thread ("" if none). */
const char *cp_last_error(void);

/* Records a failure message for this thread and returns `status`.
 * printf-style; used by library code and usable by tools. */
cp_status cp_set_error(cp_status status, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clears the message of this thread. */
void cp_clear_error(void);

/* Name of an OpenCL error code, e.g. -5 -> "CL_OUT_OF_RESOURCES". */
const char *cp_cl_error_name(int cl_error);

/* Name of a CLBlast status code, e.g. -2048 -> "CLBlastNotImplemented". */
const char *cp_clblast_error_name(int clblast_status);

#ifdef __cplusplus
}
#endif
#endif
