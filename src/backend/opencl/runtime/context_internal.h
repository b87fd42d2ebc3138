/* Internal: the cp_context struct, shared by the runtime's files. */
#ifndef CP_RUNTIME_CONTEXT_INTERNAL_H
#define CP_RUNTIME_CONTEXT_INTERNAL_H

#include "clinpaint/runtime.h"

#define CP_KERNEL_LIMIT_SLOTS 512

typedef struct cp_kernel_entry {
    char *name;
    cl_kernel kernel;
} cp_kernel_entry;

typedef struct cp_program_entry {
    char *file;
    char *options;
    cl_program program;
    char *disk_path; /* the disk cache entry it was loaded from, or NULL */
    cp_kernel_entry *kernels;
    int kernel_count, kernel_cap;
} cp_program_entry;

struct cp_context {
    cp_device_info info;
    /* the settings it was created with; the strings point at owned copies */
    cp_context_options options;
    char *device_copy, *kernel_dir_copy, *cache_dir_copy;
    cl_context cl;
    cl_command_queue queue;
    cp_program_entry *programs;
    int program_count, program_cap;
    cp_program_stats stats;
    uint64_t bytes_in_use, peak_bytes;
    /* launch limits: the test cap (0: none) and each kernel's limits, asked
     * once (open addressing on the kernel pointer; kernels live as long as
     * the context) */
    size_t wg_cap;
    uint64_t local_cap;
    struct cp_kernel_limits {
        cl_kernel kernel;
        size_t wg;
        uint64_t local_mem;
    } limits[CP_KERNEL_LIMIT_SLOTS];
    /* scratch for the partial sums of reductions (cp_context_scratch) */
    cl_mem scratch;
    size_t scratch_bytes;
    /* profiling (runtime/profile.h) */
    bool profiling;
    int profile_tag;
    struct cp_profile_event *events;
    int event_count, event_cap;
};

void cp_program_cache_free(cp_context *ctx);

/* A device buffer of at least `bytes` owned by the context, shared by every
 * op that needs a little temporary room (the reductions' partial sums): it
 * grows on demand and lives until the context is freed. Its content is
 * undefined between ops. In-order queue: an op may reuse it right after the
 * previous one enqueued its last use. */
cp_status cp_context_scratch(cp_context *ctx, size_t bytes, cl_mem *out);

/* Whether a CL_DEVICE_VERSION string ("OpenCL 1.2 ...") is one clinpaint
 * runs on (1.2 or later); if not, why (in `why`). For device.c and tests. */
bool cp_device_version_supported(const char *device_version, char *why, size_t size);

#endif
