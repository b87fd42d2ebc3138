/* clinpaint runtime: OpenCL devices, the per-device context (context, queue,
 * program cache, memory accounting) and kernel programs. */
#ifndef CLINPAINT_RUNTIME_H
#define CLINPAINT_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything `clinpaint devices` shows about one device. */
typedef struct cp_device_info {
    int platform_index, device_index; /* the "P:D" selector */
    char platform_name[128], platform_version[128];
    char name[256], vendor[128];
    char driver_version[128], device_version[128], opencl_c_version[128];
    cl_device_type type;
    const char *type_name; /* "GPU", "CPU", "accelerator", "other" */
    unsigned compute_units, clock_mhz;
    uint64_t global_mem_bytes, local_mem_bytes, max_alloc_bytes;
    size_t max_work_group_size;
    size_t max_work_item_sizes[3]; /* per-dimension limits of a work-group */
    bool fp16, fp64;
    /* Why clinpaint cannot use this device ("" if it can): below OpenCL 1.2. */
    char unsupported[96];
    bool is_default; /* chosen when no selector is given */
    cl_platform_id platform;
    cl_device_id device;
} cp_device_info;

/* Every device of every platform, in platform then device order. The caller
 * frees the array with free(). Zero devices is CP_ERR_NO_DEVICE with a hint. */
cp_status cp_device_list(cp_device_info **devices, int *count);

/* Picks a device. `selector` is "P:D", or a case-insensitive substring of the
 * device name; NULL or "" means the first GPU, else the first device
 * (unsupported devices are never the default). No match is
 * CP_ERR_NO_DEVICE, with the list of devices in the message; an unsupported
 * match is CP_ERR_UNSUPPORTED with the reason. */
cp_status cp_device_select(const char *selector, cp_device_info *out);
/* The same, naming where the selector came from in the message of a
 * selector that matches nothing ("--device", "CLINPAINT_DEVICE"). */
cp_status cp_device_select_named(const char *selector, const char *origin,
                                 cp_device_info *out);

/* Library version and the OpenCL platform / CLBlast versions in this process
 * (platform: of the default device; "none" when no platform). */
const char *cp_version(void);
void cp_runtime_versions(char *platform, size_t platform_size,
                         char *clblast, size_t clblast_size);

/* One device in use: an OpenCL context, one in-order queue with profiling,
 * the program cache and device memory accounting. Not thread-safe: use one
 * cp_context per thread that enqueues work. */
typedef struct cp_context cp_context;

/* Routes every convolution pass takes (include/clinpaint/tune.h). */
typedef enum cp_conv_route {
    CP_CONV_AUTO = 0, /* measured / default */
    CP_CONV_GEMM = 1,
    CP_CONV_DIRECT = 2,
    CP_CONV_IGEMM = 3,
} cp_conv_route;
#define CP_CONV_ROUTES 4

/* Which GEMM route a context takes where nothing is tuned or forced. */
typedef enum cp_gemm_preference {
    CP_GEMM_PREFER_DEFAULT = 0, /* own kernels on CPUs, CLBlast elsewhere */
    CP_GEMM_PREFER_OWN = 1,     /* own kernels on every device (simulators) */
    CP_GEMM_PREFER_CLBLAST = 2, /* every GEMM through CLBlast, tuned routes too */
} cp_gemm_preference;

/* The settings of a context. The library reads no environment: the
 * clinpaint command maps its environment variables (README) onto these.
 * Strings are copied by cp_context_create_with. */
typedef struct cp_context_options {
    const char *device;        /* selector as cp_device_select; NULL or "": default */
    const char *device_origin; /* named when the selector matches nothing (NULL: "--device") */
    const char *kernel_dir;    /* kernel sources from this folder; NULL or "": built in */
    const char *cache_dir;     /* kernel binaries and tuning files; NULL or "": no disk cache */
    cp_conv_route conv_route;  /* forced for every convolution; CP_CONV_AUTO: measured */
    cp_gemm_preference gemm;
} cp_context_options;

/* Every field zero: the default device, built-in kernels, no disk cache,
 * nothing forced. */
cp_context_options cp_context_options_default(void);

/* Creates a context. The device's tuning file is not applied here: that is
 * a separate step (cp_tune_apply, include/clinpaint/tune.h). */
cp_status cp_context_create_with(const cp_context_options *options, cp_context **out);
/* cp_context_create_with the defaults and this device selector. */
cp_status cp_context_create(const char *selector, cp_context **out);
/* The options the context was created with (its own copies). */
const cp_context_options *cp_context_options_of(const cp_context *ctx);
/* Changes the forced convolution route of a live context (tests run each
 * case on every route; CP_CONV_AUTO: measured again). */
void cp_context_set_conv_route(cp_context *ctx, cp_conv_route route);
void cp_context_free(cp_context *ctx);

const cp_device_info *cp_context_device(const cp_context *ctx);
cl_context cp_context_cl(const cp_context *ctx);
cl_command_queue cp_context_queue(const cp_context *ctx);
/* Pointer to the queue, as CLBlast's C API wants it. */
cl_command_queue *cp_context_queue_ptr(cp_context *ctx);

/* Blocks until every enqueued command has finished (clFinish). */
cp_status cp_context_finish(cp_context *ctx);

/* Device buffers, counted in the context's memory accounting. */
cp_status cp_buffer_alloc(cp_context *ctx, size_t bytes, cl_mem *out);
void cp_buffer_free(cp_context *ctx, cl_mem buf);
uint64_t cp_context_bytes_in_use(const cp_context *ctx);
uint64_t cp_context_peak_bytes(const cp_context *ctx);
void cp_context_reset_peak(cp_context *ctx);

/* A kernel of cl/<file> built with `options` (e.g. "-DK=3 -DWG=64"). The
 * program is built once per (source, options) and kept in memory, and its
 * binary is cached on disk (see README: kernel cache). The returned kernel
 * is owned by the context: do not release it. Set its arguments and enqueue
 * it before asking for the same kernel again. */
cp_status cp_kernel_get(cp_context *ctx, const char *file, const char *options,
                        const char *kernel_name, cl_kernel *out);

/* Statistics of the program cache of this context. */
typedef struct cp_program_stats {
    unsigned memory_hits;  /* found already built in this context */
    unsigned disk_hits;    /* loaded from a cached binary */
    unsigned builds;       /* compiled from source */
    unsigned disk_rejects; /* cached entries found corrupt or stale */
    double build_seconds;  /* wall time spent in builds and loads */
} cp_program_stats;
cp_program_stats cp_context_program_stats(const cp_context *ctx);

/* Source text of a kernel file: from the folder `kernel_dir` (NULL or "":
 * the copy embedded at build time), #include lines expanded. Caller frees
 * with free(). */
cp_status cp_kernel_source_from(const char *kernel_dir, const char *file, char **source,
                                size_t *size);
/* The embedded copy (cp_kernel_source_from(NULL, ...)). */
cp_status cp_kernel_source(const char *file, char **source, size_t *size);

/* Largest work-group size to use for a 1-D kernel on this device:
 * min(device max, dimension-0 max, the context's cap, `want`), at least 1. */
size_t cp_context_wg_size(const cp_context *ctx, size_t want);

/* An extra cap on every work-group this context launches (0: none), below
 * the device's own limits: tests use it to run as a device whose limit is 1
 * (Apple's CPU device) or whose kernels allow less than the device maximum. */
void cp_context_set_max_work_group_size(cp_context *ctx, size_t cap);
size_t cp_context_max_work_group_size(const cp_context *ctx); /* the cap, 0: none */
/* Likewise a cap on local memory per work-group (bytes, 0: none), and the
 * local memory kernels may use: min(CL_DEVICE_LOCAL_MEM_SIZE, the cap). */
void cp_context_set_max_local_mem_size(cp_context *ctx, uint64_t cap);
uint64_t cp_context_local_mem_size(const cp_context *ctx);

/* Largest work-group `k` may run with on this context: min(the kernel's
 * CL_KERNEL_WORK_GROUP_SIZE, the device maximum, the context's cap), at
 * least 1. Queried once per kernel and cached. */
cp_status cp_kernel_wg_limit(cp_context *ctx, cl_kernel k, size_t *limit);

/* Local memory (bytes) still free for `k`'s __local arguments:
 * cp_context_local_mem_size minus what the kernel itself declares
 * (CL_KERNEL_LOCAL_MEM_SIZE). */
cp_status cp_kernel_local_mem_free(cp_context *ctx, cl_kernel k, uint64_t *bytes);

/* Seconds on a monotonic clock (for timing; the origin is arbitrary). */
double cp_seconds(void);

/* Enqueues a kernel over `n` work items in 1-D, in groups of `wg` clamped to
 * cp_kernel_wg_limit and the device's dimension-0 maximum (global size
 * rounded up: kernels check their bound). n == 0 enqueues nothing.
 * Optionally returns an event. */
cp_status cp_enqueue_1d(cp_context *ctx, cl_kernel k, size_t n, size_t wg,
                        cl_event *event);

/* 2-D/3-D launch with explicit local sizes (each global size is rounded up
 * to a multiple of its local size). `local` may be NULL (driver's choice).
 * Explicit local sizes beyond the kernel's limit (cp_kernel_wg_limit) or a
 * dimension's maximum are CP_ERR_UNSUPPORTED, named, before the driver sees
 * them: callers with a fixed shape choose one that fits first. */
cp_status cp_enqueue_nd(cp_context *ctx, cl_kernel k, int dims, const size_t *global,
                        const size_t *local, cl_event *event);

/* Device self-check: runs a small kernel and a small CLBlast SGEMM and
 * compares them with the host. */
cp_status cp_context_self_check(cp_context *ctx);

#ifdef __cplusplus
}
#endif
#endif
