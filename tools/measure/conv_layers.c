/* One pass (forward, dx or dw) of every distinct conv / up2 layer of a
 * preset at a batch, each timed alone (best of 5 after a warm-up), on the
 * route the device takes; CLINPAINT_CONV=gemm|direct compares routes
 * (notes/ops.md). Usage: conv_layers [preset] [batch] [fwd|dx|dw]
 * Built by CMake: build/conv_layers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clinpaint/clinpaint.h"
#include "env_options.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* kind 3/2: conv3/conv2, 'u': up2 (input hw). */
static int time_layer(cp_context *ctx, int kind, int n, int ci, int co, int hw, const char *pass)
{
    bool up = kind == 'u';
    cp_conv_params p = up ? cp_up2_params() : kind == 3 ? cp_conv3_params() : cp_conv2_params();
    int k = up ? 2 : kind, ohw = up ? 2 * hw : hw;
    cp_tensor x, w, y, dx, dw, ws;
    size_t wsf = up ? cp_conv_transpose2d_workspace_floats(ctx, &p, n, ci, hw, hw, co)
                    : cp_conv2d_workspace_floats(ctx, &p, n, ci, hw, hw, co);
    int64_t wshape[1] = {(int64_t)(wsf ? wsf : 1)};
    if (cp_tensor_create4(ctx, n, ci, hw, hw, "x", &x) ||
        (up ? cp_tensor_create4(ctx, ci, co, k, k, "w", &w)
            : cp_tensor_create4(ctx, co, ci, k, k, "w", &w)) ||
        cp_tensor_create4(ctx, n, co, ohw, ohw, "y", &y) ||
        cp_tensor_create4(ctx, n, ci, hw, hw, "dx", &dx) ||
        cp_tensor_create4(ctx, w.shape[0], w.shape[1], k, k, "dw", &dw) ||
        cp_tensor_create(ctx, 1, wshape, "ws", &ws) || cp_tensor_fill(ctx, &x, 0.5f) ||
        cp_tensor_fill(ctx, &w, 0.01f) || cp_tensor_fill(ctx, &y, 0.5f)) {
        fprintf(stderr, "conv_layers: %s\n", cp_last_error());
        return 1;
    }
    double best = 1e30;
    for (int r = 0; r < 6; r++) {
        double t = now();
        cp_status st;
        bool fwd = strcmp(pass, "fwd") == 0, want_dx = strcmp(pass, "dx") == 0;
        if (up)
            st = fwd ? cp_conv_transpose2d_forward(ctx, &p, &x, &w, NULL, &y, &ws)
                     : cp_conv_transpose2d_backward(ctx, &p, &x, &w, &y, want_dx ? &dx : NULL,
                                                    want_dx ? NULL : &dw, NULL, false, &ws);
        else
            st = fwd ? cp_conv2d_forward(ctx, &p, &x, &w, NULL, &y, &ws)
                     : cp_conv2d_backward(ctx, &p, &x, &w, &y, want_dx ? &dx : NULL,
                                          want_dx ? NULL : &dw, NULL, false, &ws);
        if (st || cp_context_finish(ctx)) {
            fprintf(stderr, "conv_layers: %s\n", cp_last_error());
            return 1;
        }
        t = now() - t;
        if (r > 0 && t < best) best = t;
    }
    double gflop = 2e-9 * n * (double)ci * co * k * k * hw * hw;
    printf("%-5s %4d -> %4d at %3d px: %8.2f ms %7.1f GFLOP/s\n",
           up ? "up2" : kind == 3 ? "conv3" : "conv2", ci, co, hw, best * 1e3, gflop / best);
    cp_tensor *ts[] = {&x, &w, &y, &dx, &dw, &ws};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) cp_tensor_free(ctx, ts[i]);
    return 0;
}

int main(int argc, char **argv)
{
    const char *preset = argc > 1 ? argv[1] : "base", *pass = argc > 3 ? argv[3] : "fwd";
    int batch = argc > 2 ? atoi(argv[2]) : 8;
    cp_model_config c;
    cp_context *ctx;
    if (cp_model_config_preset(preset, &c) || batch < 1 ||
        (strcmp(pass, "fwd") && strcmp(pass, "dx") && strcmp(pass, "dw"))) {
        fprintf(stderr, "usage: conv_layers [tiny|small|base] [batch] [fwd|dx|dw]\n");
        return 2;
    }
    if (env_context_create(NULL, &ctx)) {
        fprintf(stderr, "conv_layers: %s\n", cp_last_error());
        return 1;
    }
    /* G's convolutions from the model's layer table (D's encoder is G's
     * but for 3 input channels). */
    cp_layer_table t;
    if (cp_model_layers(&c, &t)) {
        fprintf(stderr, "conv_layers: %s\n", cp_last_error());
        cp_context_free(ctx);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < t.count && !rc; i++) {
        const cp_layer *l = &t.layers[i];
        if (l->group != CP_GROUP_G || l->kind == CP_LAYER_DENSE) continue;
        int kind = l->kind == CP_LAYER_UP2 ? 'u' : cp_layer_kernel(l);
        rc = time_layer(ctx, kind, batch, (int)l->c_in, (int)l->c_out, (int)l->hw, pass);
    }
    cp_context_free(ctx);
    return rc;
}
