/* Status strings and the per-thread error message (clinpaint/status.h):
 * below every layer, so that each can report errors. */
#include "clinpaint/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[4096];

const char *cp_status_str(cp_status status)
{
    switch (status) {
    case CP_OK: return "ok";
    case CP_ERR_INVALID_ARGUMENT: return "invalid argument";
    case CP_ERR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case CP_ERR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case CP_ERR_OPENCL: return "OpenCL error";
    case CP_ERR_CLBLAST: return "CLBlast error";
    case CP_ERR_NO_DEVICE: return "no matching OpenCL device";
    case CP_ERR_BUILD: return "OpenCL program build failed";
    case CP_ERR_IO: return "input/output error";
    case CP_ERR_FORMAT: return "bad file format";
    case CP_ERR_UNSUPPORTED: return "unsupported";
    case CP_ERR_NUMERIC: return "non-finite value";
    case CP_ERR_INTERRUPTED: return "interrupted";
    case CP_ERR_INTERNAL: return "internal error";
    case CP_STATUS_COUNT: break;
    }
    return "unknown status";
}

const char *cp_last_error(void) { return last_error; }

void cp_clear_error(void) { last_error[0] = '\0'; }

cp_status cp_set_error(cp_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
