/* Timing one GEMM route, and the GEMM shapes of a model preset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/layers.h"
#include "clinpaint/model.h"
#include "clinpaint/tune.h"
#include "backend/opencl/runtime/check.h"

cp_status cp_gemm_time(cp_context *ctx, const cp_gemm_args *g, const cp_gemm_route *r,
                       int reps, double *seconds)
{
    if (reps < 1) reps = 1;
    CP_TRY(cp_gemm_with_route(ctx, g, r, NULL, 0)); /* warm-up, builds the kernel */
    CP_TRY(cp_context_finish(ctx));
    double t0 = cp_seconds();
    for (int i = 0; i < reps; i++) CP_TRY(cp_gemm_with_route(ctx, g, r, NULL, 0));
    CP_TRY(cp_context_finish(ctx));
    *seconds = (cp_seconds() - t0) / reps;
    return CP_OK;
}

typedef struct shape_list {
    cp_gemm_shape *v;
    int n, cap;
} shape_list;

static cp_status add(shape_list *l, bool ta, bool tb, size_t m, size_t n, size_t k,
                     const char *label)
{
    for (int i = 0; i < l->n; i++)
        if (l->v[i].ta == ta && l->v[i].tb == tb && l->v[i].m == m && l->v[i].n == n &&
            l->v[i].k == k)
            return CP_OK;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 32;
        cp_gemm_shape *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "tune shapes");
        l->v = v;
        l->cap = cap;
    }
    cp_gemm_shape *s = &l->v[l->n++];
    *s = (cp_gemm_shape){.ta = ta, .tb = tb, .m = m, .n = n, .k = k};
    snprintf(s->label, sizeof s->label, "%s", label);
    return CP_OK;
}

/* Which passes of a layer run through GEMM: all without a context; with
 * one, those its route table gives to im2col + GEMM. */
static void gemm_passes(cp_context *ctx, const cp_conv_layer *l, bool g[3])
{
    cp_conv_choice ch = {{CP_CONV_GEMM, CP_CONV_GEMM, CP_CONV_GEMM}, false};
    if (ctx) ch = cp_conv_route_for(ctx, l);
    for (int i = 0; i < 3; i++) g[i] = ch.pass[i] == CP_CONV_GEMM;
}

/* conv k×k, stride 1, size kept: see src/backend/opencl/ops/conv.c. With a context, the
 * passes that its device runs without GEMM are left out. */
static cp_status conv(shape_list *l, cp_context *ctx, const char *name, int batch, int cin,
                      int cout, int ks, int hw)
{
    size_t p = (size_t)batch * (size_t)hw * (size_t)hw, kk = (size_t)cin * (size_t)(ks * ks);
    cp_conv_params prm = ks == 3 ? cp_conv3_params() : cp_conv2_params();
    cp_conv_layer ly = {.transposed = false, .p = prm, .n = batch, .c_in = cin, .h = hw,
                        .w = hw, .c_out = cout};
    bool g[3];
    gemm_passes(ctx, &ly, g);
    char lb[64];
    if (g[CP_CONV_FWD]) {
        snprintf(lb, sizeof lb, "%s fwd", name);
        CP_TRY(add(l, false, false, (size_t)cout, p, kk, lb));
    }
    if (g[CP_CONV_DX]) {
        snprintf(lb, sizeof lb, "%s dx", name);
        CP_TRY(add(l, true, false, kk, p, (size_t)cout, lb));
    }
    if (!g[CP_CONV_DW]) return CP_OK;
    snprintf(lb, sizeof lb, "%s dw", name);
    return add(l, false, true, (size_t)cout, kk, p, lb);
}

/* up2 (transposed conv 2×2 stride 2) on an input of hw×hw: see conv_transpose.c. */
static cp_status up2(shape_list *l, cp_context *ctx, const char *name, int batch, int cin,
                     int cout, int hw)
{
    cp_conv_layer ly = {.transposed = true, .p = cp_up2_params(), .n = batch, .c_in = cin,
                        .h = hw, .w = hw, .c_out = cout};
    bool g[3];
    gemm_passes(ctx, &ly, g);
    size_t p = (size_t)batch * (size_t)hw * (size_t)hw, kk = (size_t)cout * 4;
    char lb[64];
    if (g[CP_CONV_FWD]) {
        snprintf(lb, sizeof lb, "%s fwd", name);
        CP_TRY(add(l, true, false, kk, p, (size_t)cin, lb));
    }
    if (g[CP_CONV_DX]) {
        snprintf(lb, sizeof lb, "%s dx", name);
        CP_TRY(add(l, false, false, (size_t)cin, p, kk, lb));
    }
    if (!g[CP_CONV_DW]) return CP_OK;
    snprintf(lb, sizeof lb, "%s dw", name);
    return add(l, false, true, (size_t)cin, kk, p, lb);
}

/* dense F -> O on a batch: see dense.c. */
static cp_status dense(shape_list *l, const char *name, int batch, size_t f, size_t o)
{
    char lb[64];
    snprintf(lb, sizeof lb, "%s fwd", name);
    CP_TRY(add(l, false, true, (size_t)batch, o, f, lb));
    snprintf(lb, sizeof lb, "%s dx", name);
    CP_TRY(add(l, false, false, (size_t)batch, f, o, lb));
    snprintf(lb, sizeof lb, "%s dw", name);
    return add(l, true, false, o, f, (size_t)batch, lb);
}

/* Every GEMM the model's layers run (the layer table of clinpaint/layers.h),
 * labelled with the layer's checkpoint name. */
static cp_status model_shapes(cp_context *ctx, const cp_model_config *c, int batch,
                              shape_list *l)
{
    cp_layer_table t;
    CP_TRY(cp_model_layers(c, &t));
    for (int i = 0; i < t.count; i++) {
        const cp_layer *y = &t.layers[i];
        switch (y->kind) {
        case CP_LAYER_CONV3:
        case CP_LAYER_CONV2:
            CP_TRY(conv(l, ctx, y->name, batch, (int)y->c_in, (int)y->c_out, cp_layer_kernel(y),
                        (int)y->hw));
            break;
        case CP_LAYER_UP2:
            CP_TRY(up2(l, ctx, y->name, batch, (int)y->c_in, (int)y->c_out, (int)y->hw));
            break;
        case CP_LAYER_DENSE:
            CP_TRY(dense(l, y->name, batch, (size_t)y->c_in, (size_t)y->c_out));
            break;
        }
    }
    return CP_OK;
}

cp_status cp_tune_model_shapes(cp_context *ctx, const char *preset, int batch,
                               cp_gemm_shape **shapes, int *count)
{
    *shapes = NULL;
    *count = 0;
    if (batch < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "tune: batch must be >= 1");
    cp_model_config c;
    CP_TRY(cp_model_config_preset(preset, &c));
    shape_list l = {0};
    cp_status st = model_shapes(ctx, &c, batch, &l);
    if (st != CP_OK) {
        free(l.v);
        return st;
    }
    *shapes = l.v;
    *count = l.n;
    return CP_OK;
}
