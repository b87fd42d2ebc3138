/* Internal: the cl/ sources (*.cl) compiled into the library by CMake. */
#ifndef CP_RUNTIME_KERNELS_EMBEDDED_H
#define CP_RUNTIME_KERNELS_EMBEDDED_H
#include <stddef.h>

typedef struct cp_embedded_kernel {
    const char *name;   /* file name, e.g. "pool.cl"; NULL ends the table */
    const char *source; /* NUL-terminated */
    size_t size;        /* bytes, without the NUL */
} cp_embedded_kernel;

extern const cp_embedded_kernel cp_embedded_kernels[];
#endif
