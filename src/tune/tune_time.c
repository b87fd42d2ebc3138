/* Timing one GEMM route, and the GEMM shapes of a model preset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/model.h"
#include "clinpaint/tune.h"
#include "runtime/check.h"

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

/* conv k×k, stride 1, size kept: see src/ops/conv.c. With a context, the
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

static cp_status model_shapes(cp_context *ctx, const cp_model_config *c, int batch,
                              shape_list *l)
{
    char nm[48];
    int s = c->size;
    /* G encoder (c0 = 4) and D (c0 = 3): conv3 -> conv2 -> pool. */
    for (int net = 0; net < 2; net++) {
        int cin = net == 0 ? 4 : 3, hw = s;
        for (int i = 0; i < 6; i++) {
            snprintf(nm, sizeof nm, "%s%d.conv3", net == 0 ? "G.enc" : "D.", i + 1);
            CP_TRY(conv(l, ctx, nm, batch, cin, c->widths[i], 3, hw));
            snprintf(nm, sizeof nm, "%s%d.conv2", net == 0 ? "G.enc" : "D.", i + 1);
            CP_TRY(conv(l, ctx, nm, batch, c->widths[i], c->widths[i], 2, hw));
            cin = c->widths[i];
            if (i < 5) hw /= 2;
        }
        size_t f = (size_t)c->widths[5] * (size_t)hw * (size_t)hw;
        if (net == 0) {
            CP_TRY(dense(l, "G.dense1", batch, f, (size_t)c->latent));
            CP_TRY(dense(l, "G.dense2", batch, (size_t)c->latent, f));
        } else {
            CP_TRY(dense(l, "D.head", batch, f, 1));
        }
    }
    /* G decoder. */
    int d = c->widths[5], hw = s / 32;
    for (int j = 1; j <= 6; j++) {
        int dj = c->widths[6 - j];
        snprintf(nm, sizeof nm, "G.dec%d.conv3", j);
        CP_TRY(conv(l, ctx, nm, batch, d, dj, 3, hw));
        if (j < 6) {
            snprintf(nm, sizeof nm, "G.dec%d.up2", j);
            CP_TRY(up2(l, ctx, nm, batch, dj, dj, hw));
            hw *= 2;
        } else {
            CP_TRY(conv(l, ctx, "G.dec6.conv2", batch, dj, 3, 2, hw));
        }
        d = dj;
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
