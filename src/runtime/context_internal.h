/* Internal: the cp_context struct, shared by the runtime's files. */
#ifndef CP_RUNTIME_CONTEXT_INTERNAL_H
#define CP_RUNTIME_CONTEXT_INTERNAL_H

#include "clinpaint/runtime.h"

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
    cl_context cl;
    cl_command_queue queue;
    cp_program_entry *programs;
    int program_count, program_cap;
    cp_program_stats stats;
    uint64_t bytes_in_use, peak_bytes;
    /* profiling (runtime/profile.h) */
    bool profiling;
    int profile_tag;
    struct cp_profile_event *events;
    int event_count, event_cap;
};

void cp_program_cache_free(cp_context *ctx);

#endif
