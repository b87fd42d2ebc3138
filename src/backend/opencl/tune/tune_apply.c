/* Applying a device's tuning at start-up (a step of its own after the
 * context is created: cp_tune_apply): CLBlast parameter overrides, the GEMM
 * routing table and the measured convolution routes. */
#include <stdlib.h>

#include <clblast_c.h>

#include "backend/opencl/tune/tune_internal.h"
#include "util/try.h"

bool cp_tune_clblast_overridden;

cp_status cp_tune_file_apply(cp_context *ctx, const tune_file *f)
{
    if (f->has_clblast) {
        const char *names[16];
        for (int i = 0; i < f->clblast.count; i++) names[i] = f->clblast.names[i];
        int e = CLBlastOverrideParameters(cp_context_device(ctx)->device, f->clblast.kernel,
                                          CLBlastPrecisionSingle, (size_t)f->clblast.count,
                                          names, f->clblast.values);
        if (e != 0)
            return cp_set_error(CP_ERR_CLBLAST, "tuning file: CLBlast refused the %s parameters (%d)",
                                f->clblast.kernel, e);
        cp_tune_clblast_overridden = true;
    }
    cp_gemm_class cls[MAX_CLASSES];
    cp_gemm_route routes[MAX_CLASSES];
    for (int i = 0; i < f->count; i++) {
        cls[i] = f->entries[i].cls;
        routes[i] = f->entries[i].route;
    }
    return cp_gemm_set_routes(ctx, cls, routes, f->count);
}

cp_status cp_tune_apply_file(cp_context *ctx, const char *path)
{
    tune_file *f = malloc(sizeof *f);
    if (!f) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "tuning file");
    bool missing;
    cp_status st = cp_tune_file_load(ctx, path, f, &missing);
    if (st == CP_OK && !missing) st = cp_tune_file_apply(ctx, f);
    free(f);
    return st;
}

cp_status cp_tune_apply(cp_context *ctx)
{
    char path[1100];
    if (!cp_tune_file_path(ctx, path, sizeof path)) return CP_OK;
    cp_status st = cp_tune_apply_file(ctx, path);
    /* Convolution routes: the measured ones, and measurement on first use. */
    cp_status cst = cp_tune_conv_apply(ctx);
    return st != CP_OK ? st : cst;
}
