/* Kernel programs: sources (embedded, or the context's kernel folder), builds with
 * -D options, an in-memory cache per (file, options) and the disk cache. */
#include "clinpaint/runtime.h"
#include "backend/opencl/runtime/check.h"
#include "backend/opencl/runtime/context_internal.h"
#include "backend/opencl/runtime/kernels_embedded.h"
#include "backend/opencl/runtime/program_disk_cache.h"
#include "clinpaint/files.h"
#include "util/warning_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* The text of one kernel file, without #include expansion. */
static cp_status raw_source(const char *dir, const char *file, char **source, size_t *size)
{
    *source = NULL;
    *size = 0;
    if (dir && *dir) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        /* A kernel file is a few kB; 16 MiB is a generous cap. */
        cp_status st = cp_read_file(path, 16u << 20, source, size);
        if (st == CP_ERR_IO) {
            char why[512];
            snprintf(why, sizeof why, "%s", cp_last_error());
            return cp_set_error(CP_ERR_IO, "kernel folder %s: %s", dir, why);
        }
        return st;
    }
    for (const cp_embedded_kernel *k = cp_embedded_kernels; k->name; k++) {
        if (strcmp(k->name, file) == 0) {
            char *buf = malloc(k->size + 1);
            if (!buf) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "kernel %s", file);
            memcpy(buf, k->source, k->size + 1);
            *source = buf;
            *size = k->size;
            return CP_OK;
        }
    }
    return cp_set_error(CP_ERR_INTERNAL, "no kernel file cl/%s is embedded in this build",
                        file);
}

/* Replaces each line `#include "name.cl"` with that file's text (from the
 * same place: embedded or the kernel folder), so that kernel files share
 * helpers although the driver never sees a file system. */
static cp_status expand_includes(const char *dir, const char *file, char **text, size_t *size,
                                 int depth)
{
    static const char directive[] = "#include \"";
    char *src = *text;
    char *hit = strstr(src, directive);
    while (hit && hit != src && hit[-1] != '\n') hit = strstr(hit + 1, directive);
    if (!hit) return CP_OK;
    if (depth > 4)
        return cp_set_error(CP_ERR_INTERNAL, "cl/%s: #include nested too deeply", file);
    char *name = hit + sizeof directive - 1, *end = strchr(name, '"');
    char *eol = strchr(name, '\n');
    if (!end || (eol && end > eol) || end - name >= 128)
        return cp_set_error(CP_ERR_INTERNAL, "cl/%s: malformed #include", file);
    char inc_name[128];
    memcpy(inc_name, name, (size_t)(end - name));
    inc_name[end - name] = '\0';
    char *inc;
    size_t inc_size;
    CP_TRY(raw_source(dir, inc_name, &inc, &inc_size));
    cp_status st = expand_includes(dir, inc_name, &inc, &inc_size, depth + 1);
    size_t head = (size_t)(hit - src);
    const char *rest = eol ? eol + 1 : src + *size;
    size_t tail = (size_t)(src + *size - rest);
    char *out = st == CP_OK ? malloc(head + inc_size + 1 + tail + 1) : NULL;
    if (st == CP_OK && !out) st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "kernel %s", file);
    if (st == CP_OK) {
        memcpy(out, src, head);
        memcpy(out + head, inc, inc_size);
        out[head + inc_size] = '\n';
        memcpy(out + head + inc_size + 1, rest, tail);
        out[head + inc_size + 1 + tail] = '\0';
        free(src);
        *text = out;
        *size = head + inc_size + 1 + tail;
    }
    free(inc);
    /* further #include lines of this file */
    return st == CP_OK ? expand_includes(dir, file, text, size, depth) : st;
}

cp_status cp_kernel_source(const char *file, char **source, size_t *size)
{
    return cp_kernel_source_from(NULL, file, source, size);
}

cp_status cp_kernel_source_from(const char *kernel_dir, const char *file, char **source,
                                size_t *size)
{
    CP_TRY(raw_source(kernel_dir, file, source, size));
    cp_status st = expand_includes(kernel_dir, file, source, size, 0);
    if (st != CP_OK) {
        free(*source);
        *source = NULL;
    }
    return st;
}

static cp_status build_failed(cp_context *ctx, cl_program prog, const char *file,
                              const char *options, cl_int err)
{
    size_t log_size = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, ctx->info.device, CL_PROGRAM_BUILD_LOG, 0, NULL,
                              &log_size) == CL_SUCCESS &&
        log_size > 0 && (log = malloc(log_size + 1)) != NULL) {
        if (clGetProgramBuildInfo(prog, ctx->info.device, CL_PROGRAM_BUILD_LOG, log_size,
                                  log, NULL) != CL_SUCCESS)
            log[0] = '\0';
        log[log_size] = '\0';
    }
    cp_status st = cp_set_error(CP_ERR_BUILD,
                                "building cl/%s with options \"%s\" on %s failed (%s):\n%.3000s",
                                file, options, ctx->info.name, cp_cl_error_name(err),
                                log && log[0] ? log : "(the driver gave no build log)");
    free(log);
    return st;
}

/* Tries the cached binary; true when `*out` holds a built program. */
static bool load_from_disk(cp_context *ctx, const char *path, cp_cache_key key,
                           const char *options, cl_program *out)
{
    unsigned char *bin;
    size_t size;
    cp_cache_result r = cp_cache_load(path, key, &bin, &size);
    if (r == CP_CACHE_MISS) return false;
    if (r == CP_CACHE_HIT) {
        cl_int err, bin_status = CL_SUCCESS;
        const unsigned char *bins[1] = {bin};
        cl_program prog = clCreateProgramWithBinary(ctx->cl, 1, &ctx->info.device, &size,
                                                    bins, &bin_status, &err);
        free(bin);
        if (err == CL_SUCCESS && bin_status == CL_SUCCESS &&
            clBuildProgram(prog, 1, &ctx->info.device, options, NULL, NULL) == CL_SUCCESS) {
            *out = prog;
            return true;
        }
        if (prog) clReleaseProgram(prog);
        cp_warn("the driver refused the cached kernel binary %s; rebuilding it from source", path);
    } else {
        cp_warn("the kernel cache entry %s is damaged (magic, key, size or checksum); rebuilding "
                "it from source", path);
    }
    ctx->stats.disk_rejects++; /* rebuilt and replaced by the caller */
    return false;
}

static void store_to_disk(cp_context *ctx, cl_program prog, const char *path,
                          cp_cache_key key)
{
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) !=
            CL_SUCCESS ||
        size == 0)
        return;
    unsigned char *bin = malloc(size);
    if (!bin) return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS)
        cp_cache_store(path, key, bin, size);
    free(bin);
    (void)ctx;
}

/* `from_disk` (>= 1100 bytes): the cache entry's path when the program
 * came from the disk cache, else "". */
static cp_status build_program(cp_context *ctx, const char *file, const char *options,
                               cl_program *out, char *from_disk)
{
    from_disk[0] = '\0';
    char *source;
    size_t size;
    CP_TRY(cp_kernel_source_from(ctx->options.kernel_dir, file, &source, &size));
    double t0 = cp_seconds();
    char dir[900], path[1100];
    bool use_disk = cp_cache_dir(ctx, dir, sizeof dir);
    cp_cache_key key = cp_cache_key_make(&ctx->info, source, size, options);
    if (use_disk) {
        cp_cache_entry_path(dir, key, path, sizeof path);
        if (load_from_disk(ctx, path, key, options, out)) {
            snprintf(from_disk, 1100, "%s", path);
            free(source);
            ctx->stats.disk_hits++;
            ctx->stats.build_seconds += cp_seconds() - t0;
            return CP_OK;
        }
    }
    cl_int err;
    const char *srcs[1] = {source};
    cl_program prog = clCreateProgramWithSource(ctx->cl, 1, srcs, &size, &err);
    free(source);
    CP_CL_CHECK(err);
    err = clBuildProgram(prog, 1, &ctx->info.device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        cp_status st = build_failed(ctx, prog, file, options, err);
        clReleaseProgram(prog);
        return st;
    }
    if (use_disk) store_to_disk(ctx, prog, path, key);
    ctx->stats.builds++;
    ctx->stats.build_seconds += cp_seconds() - t0;
    *out = prog;
    return CP_OK;
}

static cp_status find_program(cp_context *ctx, const char *file, const char *options,
                              cp_program_entry **out)
{
    for (int i = 0; i < ctx->program_count; i++) {
        cp_program_entry *e = &ctx->programs[i];
        if (strcmp(e->file, file) == 0 && strcmp(e->options, options) == 0) {
            ctx->stats.memory_hits++;
            *out = e;
            return CP_OK;
        }
    }
    if (ctx->program_count == ctx->program_cap) {
        int cap = ctx->program_cap ? ctx->program_cap * 2 : 32;
        cp_program_entry *grown = realloc(ctx->programs, (size_t)cap * sizeof *grown);
        if (!grown) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "program cache");
        ctx->programs = grown;
        ctx->program_cap = cap;
    }
    cl_program prog;
    char from_disk[1100];
    CP_TRY(build_program(ctx, file, options, &prog, from_disk));
    cp_program_entry *e = &ctx->programs[ctx->program_count];
    memset(e, 0, sizeof *e);
    e->file = dup_str(file);
    e->options = dup_str(options);
    e->program = prog;
    e->disk_path = from_disk[0] ? dup_str(from_disk) : NULL;
    if (!e->file || !e->options || (from_disk[0] && !e->disk_path)) {
        free(e->file);
        free(e->options);
        free(e->disk_path);
        clReleaseProgram(prog);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "program cache");
    }
    ctx->program_count++;
    *out = e;
    return CP_OK;
}

cp_status cp_kernel_get(cp_context *ctx, const char *file, const char *options,
                        const char *kernel_name, cl_kernel *out)
{
    *out = NULL;
    if (!options) options = "";
    cp_program_entry *e = NULL;
    CP_TRY(find_program(ctx, file, options, &e));
    for (int i = 0; i < e->kernel_count; i++) {
        if (strcmp(e->kernels[i].name, kernel_name) == 0) {
            *out = e->kernels[i].kernel;
            return CP_OK;
        }
    }
    if (e->kernel_count == e->kernel_cap) {
        int cap = e->kernel_cap ? e->kernel_cap * 2 : 4;
        cp_kernel_entry *grown = realloc(e->kernels, (size_t)cap * sizeof *grown);
        if (!grown) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "kernel cache");
        e->kernels = grown;
        e->kernel_cap = cap;
    }
    cl_int err;
    cl_kernel k = clCreateKernel(e->program, kernel_name, &err);
    if (err != CL_SUCCESS && e->disk_path) {
        /* A cache entry that passed its checks but lacks a kernel of its
         * source was not written by us: delete it, build from source. */
        if (unlink(e->disk_path) != 0)
            return cp_set_error(CP_ERR_IO,
                                "the kernel cache entry %s (cl/%s) has no kernel %s, and it cannot "
                                "be deleted: %s; delete it by hand",
                                e->disk_path, file, kernel_name, strerror(errno));
        cp_warn("the kernel cache entry %s (cl/%s) has no kernel %s: not written by clinpaint; "
                "deleted and rebuilt from source", e->disk_path, file, kernel_name);
        ctx->stats.disk_rejects++;
        cl_program fresh;
        char from_disk[1100];
        CP_TRY(build_program(ctx, file, options, &fresh, from_disk));
        clReleaseProgram(e->program); /* kernels made from it keep it alive */
        e->program = fresh;
        free(e->disk_path);
        e->disk_path = NULL;
        k = clCreateKernel(e->program, kernel_name, &err);
    }
    if (err != CL_SUCCESS)
        return cp_set_error(err == CL_INVALID_KERNEL_NAME ? CP_ERR_INTERNAL : CP_ERR_OPENCL,
                            "clCreateKernel(%s) in cl/%s failed with %s", kernel_name,
                            file, cp_cl_error_name(err));
    char *name = dup_str(kernel_name);
    if (!name) {
        clReleaseKernel(k);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "kernel cache");
    }
    e->kernels[e->kernel_count].name = name;
    e->kernels[e->kernel_count].kernel = k;
    e->kernel_count++;
    *out = k;
    return CP_OK;
}

void cp_program_cache_free(cp_context *ctx)
{
    for (int i = 0; i < ctx->program_count; i++) {
        cp_program_entry *e = &ctx->programs[i];
        for (int j = 0; j < e->kernel_count; j++) {
            clReleaseKernel(e->kernels[j].kernel);
            free(e->kernels[j].name);
        }
        free(e->kernels);
        clReleaseProgram(e->program);
        free(e->disk_path);
        free(e->file);
        free(e->options);
    }
    free(ctx->programs);
    ctx->programs = NULL;
    ctx->program_count = ctx->program_cap = 0;
}
