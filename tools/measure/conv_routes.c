/* Every route of every pass of every conv / up2 layer of a preset at a
 * batch, as first use measures them (cp_conv_measure: a run that builds the
 * kernels, then the fastest of 4; results checked against im2col + GEMM),
 * in GFLOP/s, with the route measurement picks and the device type's
 * default. --save stores the choices in the routes file (as tune does).
 * Usage: conv_routes [preset] [batch] [--save]   (notes/ops.md) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/clinpaint.h"
#include "env_options.h"
#include "clinpaint/tune.h"

int main(int argc, char **argv)
{
    const char *preset = argc > 1 ? argv[1] : "tiny";
    int batch = argc > 2 ? atoi(argv[2]) : 8;
    bool save = argc > 3 && strcmp(argv[3], "--save") == 0;
    setenv("CLINPAINT_NO_TUNE", "1", 1); /* defaults, not an earlier file */
    cp_context *ctx;
    if (env_context_create(NULL, &ctx) != CP_OK) {
        fprintf(stderr, "conv_routes: %s\n", cp_last_error());
        return 1;
    }
    cp_conv_layer *layers;
    int n;
    if (cp_tune_conv_layers(preset, batch, &layers, &n) != CP_OK) {
        fprintf(stderr, "conv_routes: %s\n", cp_last_error());
        cp_context_free(ctx);
        return 2;
    }
    printf("device: %s (%s), %s batch %d; GFLOP/s gemm / direct / igemm, "
           "picked (default)\n",
           cp_context_device(ctx)->name, cp_context_device(ctx)->driver_version, preset, batch);
    static const char *pn[3] = {"fwd", "dx", "dw"};
    double total_best = 0, total_default = 0;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const cp_conv_layer *l = &layers[i];
        cp_conv_choice def = cp_conv_route_default(ctx, l), ch;
        double s[3][CP_CONV_ROUTES];
        if (cp_conv_measure(ctx, l, 3, &ch, s) != CP_OK) {
            fprintf(stderr, "conv_routes: %s\n", cp_last_error());
            rc = 1;
            break;
        }
        double pix = l->transposed ? (double)(l->h * l->w) : 0;
        if (!l->transposed) {
            int64_t ho, wo;
            cp_conv_out_size(&l->p, l->h, l->w, &ho, &wo);
            pix = (double)(ho * wo);
        }
        double flops = 2.0 * (double)l->n * pix * (double)l->c_in * (double)l->c_out *
                       (double)(l->p.kh * l->p.kw);
        printf("%s %dx%d %3lldx%-3lld %3lld->%-3lld", l->transposed ? "up2 " : "conv",
               l->p.kh, l->p.kw, (long long)l->h, (long long)l->w, (long long)l->c_in,
               (long long)l->c_out);
        for (int p = 0; p < 3; p++) {
            printf(" | %s", pn[p]);
            for (int r = 1; r < CP_CONV_ROUTES; r++)
                if (s[p][r] > 0) printf(" %6.1f", flops / s[p][r] * 1e-9);
                else printf("      -");
            printf(" %s (%s)", cp_conv_route_name(ch.pass[p]), cp_conv_route_name(def.pass[p]));
            total_best += s[p][ch.pass[p]];
            total_default += s[p][def.pass[p]] > 0 ? s[p][def.pass[p]] : s[p][ch.pass[p]];
        }
        printf("\n");
        if (save) {
            double ms[3];
            for (int p = 0; p < 3; p++) ms[p] = 1e3 * s[p][ch.pass[p]];
            if (cp_tune_conv_save(ctx, l, &ch, ms) != CP_OK) {
                fprintf(stderr, "conv_routes: %s\n", cp_last_error());
                rc = 1;
            }
        }
    }
    printf("sum over the layers' passes: picked %.1f ms, default %.1f ms\n", 1e3 * total_best,
           1e3 * total_default);
    free(layers);
    cp_context_free(ctx);
    return rc;
}
