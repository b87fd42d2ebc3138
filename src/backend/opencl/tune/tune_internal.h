/* Internal: the tuning file of a device (tune_file.c), applying it
 * (tune_apply.c) and the search that writes it (tune.c). */
#ifndef CP_TUNE_INTERNAL_H
#define CP_TUNE_INTERNAL_H

#include <stdbool.h>

#include "clinpaint/tune.h"

#define TUNE_FORMAT "clinpaint-gemm-tune-1"
#define MAX_CLASSES 128

/* Names of cp_gemm_kernel values in the file ("rowvec", "dot", "local"). */
extern const char *const cp_tune_kernel_names[3];

/* Set once this process has overridden CLBlast's parameters: CLBlast is then
 * no longer "untuned" and cannot serve as the reference. */
extern bool cp_tune_clblast_overridden;

typedef struct tune_entry {
    cp_gemm_class cls;
    cp_gemm_route route;
    double seconds, clblast_seconds;
    char label[64];
} tune_entry;

typedef struct clblast_set {
    const char *kernel; /* "Xgemm" / "XgemmDirect" */
    int count;
    const char *names[16];
    size_t values[16];
} clblast_set;

typedef struct tune_file {
    bool clblast_done;
    bool has_clblast;
    clblast_set clblast;
    tune_entry entries[MAX_CLASSES];
    int count;
} tune_file;

/* Loads `path` into f; missing: *missing true and f empty. A corrupt file
 * is CP_ERR_FORMAT with f empty. */
cp_status cp_tune_file_load(cp_context *ctx, const char *path, tune_file *f, bool *missing);
/* Writes f for ctx's device (atomically). */
cp_status cp_tune_file_write(cp_context *ctx, const char *path, const tune_file *f);
/* CLBlast parameter overrides and the routing table of f, on ctx's device. */
cp_status cp_tune_file_apply(cp_context *ctx, const tune_file *f);

#endif
