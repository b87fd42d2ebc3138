/* clinpaint tune: times CLBlast and clinpaint's own GEMM kernels on the GEMM
 * shapes a preset trains with, keeps the fastest verified route per shape
 * class and saves it in the cache folder; every later context on the device
 * applies it (see clinpaint/tune.h). --bench only measures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "clinpaint/tune.h"
#include "commands.h"
#include "env_options.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint tune [--device SEL] [--preset P] [--batch B]\n"
            "                      [--budget-minutes M] [--no-clblast] [--reps R]\n"
            "       clinpaint tune --bench [--device SEL] [--preset P] [--batch B]\n"
            "                      [--square N] [--reps R]\n\n"
            "Tunes GEMM for the shapes of preset P (default tiny) at batch B (default 8):\n"
            "per shape class it times CLBlast (and, unless --no-clblast, a few CLBlast\n"
            "XgemmDirect parameter sets: 10-20 s of compilation each on PoCL) and\n"
            "clinpaint's own kernels, verifies each result against untuned CLBlast,\n"
            "and saves the fastest in the cache folder ($CLINPAINT_CACHE_DIR, else\n"
            "$XDG_CACHE_HOME/clinpaint, else ~/.cache/clinpaint). Progress is saved\n"
            "after every class: rerunning resumes. Budget default 30 minutes.\n"
            "Set CLINPAINT_NO_TUNE=1 to run without applying a tuning file.\n\n"
            "--bench prints GFLOP/s of CLBlast, of our default kernel and of the\n"
            "routed GEMM (what training uses) for every shape, or for N^3 with --square.\n");
}

static void progress(void *user, const char *line)
{
    (void)user;
    printf("%s\n", line);
    fflush(stdout);
}

static int bench(cp_context *ctx, const cp_gemm_shape *shapes, int n, int reps)
{
    size_t na = 0, nb = 0, nc = 0;
    for (int i = 0; i < n; i++) {
        const cp_gemm_shape *s = &shapes[i];
        if (s->m * s->k > na) na = s->m * s->k;
        if (s->k * s->n > nb) nb = s->k * s->n;
        if (s->m * s->n > nc) nc = s->m * s->n;
    }
    cl_mem a = NULL, b = NULL, c = NULL;
    cp_status st = cp_buffer_alloc(ctx, na * 4, &a);
    if (st == CP_OK) st = cp_buffer_alloc(ctx, nb * 4, &b);
    if (st == CP_OK) st = cp_buffer_alloc(ctx, nc * 4, &c);
    float zero = 0.0f;
    if (st == CP_OK &&
        (clEnqueueFillBuffer(cp_context_queue(ctx), a, &zero, 4, 0, na * 4, 0, NULL, NULL) ||
         clEnqueueFillBuffer(cp_context_queue(ctx), b, &zero, 4, 0, nb * 4, 0, NULL, NULL)))
        st = cp_set_error(CP_ERR_OPENCL, "clEnqueueFillBuffer failed");
    printf("%-22s %2s %2s %6s %7s %7s | %9s %9s %9s  GFLOP/s (ms routed)\n", "shape", "ta", "tb",
           "m", "n", "k", "clblast", "own-def", "routed");
    double tot[3] = {0, 0, 0};
    for (int i = 0; i < n && st == CP_OK; i++) {
        const cp_gemm_shape *s = &shapes[i];
        cp_gemm_args g = {.trans_a = s->ta, .trans_b = s->tb, .m = s->m, .n = s->n, .k = s->k,
                          .alpha = 1, .beta = 0, .a = a, .lda = s->ta ? s->m : s->k,
                          .b = b, .ldb = s->tb ? s->k : s->n, .c = c, .ldc = s->n};
        cp_gemm_route r[3] = {{.backend = CP_GEMM_CLBLAST}, cp_gemm_default_own(s->ta, s->tb, s->m),
                              cp_gemm_route_for(ctx, &g)};
        double sec[3];
        for (int j = 0; j < 3 && st == CP_OK; j++) {
            st = cp_gemm_time(ctx, &g, &r[j], reps, &sec[j]);
            tot[j] += sec[j];
        }
        if (st != CP_OK) break;
        double fl = 2.0 * (double)s->m * (double)s->n * (double)s->k * 1e-9;
        printf("%-22s %2d %2d %6zu %7zu %7zu | %9.2f %9.2f %9.2f  (%.3f ms, %s)\n", s->label,
               s->ta, s->tb, s->m, s->n, s->k, fl / sec[0], fl / sec[1], fl / sec[2],
               1e3 * sec[2], r[2].backend == CP_GEMM_OWN ? "own" : "clblast");
    }
    if (st == CP_OK)
        printf("total ms: clblast %.2f  own-default %.2f  routed %.2f\n", 1e3 * tot[0],
               1e3 * tot[1], 1e3 * tot[2]);
    if (a) cp_buffer_free(ctx, a);
    if (b) cp_buffer_free(ctx, b);
    if (c) cp_buffer_free(ctx, c);
    return st == CP_OK ? CLI_EXIT_OK : cli_fail("tune", st);
}

int cmd_tune(int argc, char **argv)
{
    const char *selector = NULL, *preset = "tiny";
    long batch = 8, reps = 3, square = 0;
    double budget = 30;
    bool do_bench = false, clblast = true;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        bool has = i + 1 < argc;
        if (cli_is_help(o)) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(o, "--device") == 0) {
            if (!has) return cli_usage_error("tune", "--device needs a value");
            selector = argv[++i];
        } else if (strcmp(o, "--preset") == 0) {
            if (!has) return cli_usage_error("tune", "--preset needs a value");
            preset = argv[++i];
        } else if (strcmp(o, "--batch") == 0) {
            if (!has || !cli_parse_int(argv[++i], 1, 4096, &batch))
                return cli_usage_error("tune", "--batch needs an integer in 1..4096");
        } else if (strcmp(o, "--reps") == 0) {
            if (!has || !cli_parse_int(argv[++i], 1, 1000, &reps))
                return cli_usage_error("tune", "--reps needs an integer in 1..1000");
        } else if (strcmp(o, "--square") == 0) {
            if (!has || !cli_parse_int(argv[++i], 1, 16384, &square))
                return cli_usage_error("tune", "--square needs an integer in 1..16384");
        } else if (strcmp(o, "--budget-minutes") == 0) {
            if (!has || !cli_parse_float(argv[++i], 0.001, 1e6, &budget))
                return cli_usage_error("tune", "--budget-minutes needs a positive number");
        } else if (strcmp(o, "--bench") == 0) {
            do_bench = true;
        } else if (strcmp(o, "--no-clblast") == 0) {
            clblast = false;
        } else {
            return cli_usage_error("tune", "unknown option '%s'", o);
        }
    }
    cp_gemm_shape *shapes = NULL;
    int n = 0;
    cp_status st;
    if (square) {
        shapes = calloc(1, sizeof *shapes);
        if (!shapes) return cli_fail("tune", cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "tune"));
        shapes[0] = (cp_gemm_shape){.m = (size_t)square, .n = (size_t)square,
                                    .k = (size_t)square};
        snprintf(shapes[0].label, sizeof shapes[0].label, "square %ld", square);
        n = 1;
    } else {
        st = cp_tune_model_shapes(NULL, preset, (int)batch, &shapes, &n); /* checks the preset */
        if (st != CP_OK) {
            free(shapes);
            return cli_usage_error("tune", "%s", cp_last_error());
        }
    }
    /* Tuning times untuned CLBlast as the reference: no tuning file applied. */
    if (!do_bench) setenv("CLINPAINT_NO_TUNE", "1", 1);
    cp_context *ctx;
    cli_warn_cache_dir("tune");
    st = env_context_create(selector, &ctx);
    if (st != CP_OK) {
        free(shapes);
        return cli_fail("tune", st);
    }
    double conv_seconds = 0;
    if (!square && !do_bench) {
        /* Convolution routes first (up to a third of the budget): which GEMMs
         * remain to tune depends on them. */
        printf("measuring convolution routes on %s for %s, batch %ld\n",
               cp_context_device(ctx)->name, preset, batch);
        double t0 = cp_seconds();
        st = cp_tune_conv_run(ctx, preset, (int)batch, budget * 60.0 / 3, false, progress, NULL);
        conv_seconds = cp_seconds() - t0;
        if (st != CP_OK) {
            cp_context_free(ctx);
            free(shapes);
            return cli_fail("tune", st);
        }
    }
    if (!square) {
        /* Only the GEMMs this device runs (not its direct convolutions). */
        free(shapes);
        shapes = NULL;
        st = cp_tune_model_shapes(ctx, preset, (int)batch, &shapes, &n);
        if (st == CP_OK && n == 0) {
            printf("tune: every layer of %s runs without GEMM on %s; nothing to tune\n",
                   preset, cp_context_device(ctx)->name);
            cp_context_free(ctx);
            free(shapes);
            return CLI_EXIT_OK;
        }
        if (st != CP_OK) {
            cp_context_free(ctx);
            free(shapes);
            return cli_fail("tune", st);
        }
    }
    int rc;
    if (do_bench) {
        printf("device: %s (%s)\n", cp_context_device(ctx)->name,
               cp_context_device(ctx)->driver_version);
        rc = bench(ctx, shapes, n, (int)reps);
    } else {
        printf("tuning GEMM on %s (%s) for %s, batch %ld, budget %.1f min\n",
               cp_context_device(ctx)->name, cp_context_device(ctx)->driver_version,
               square ? "a square shape" : preset, batch, budget);
        cp_tune_options o = {.shapes = shapes, .shape_count = n,
                             .budget_seconds = budget * 60.0 > conv_seconds + 1
                                                   ? budget * 60.0 - conv_seconds : 1,
                             .try_clblast_params = clblast,
                             .repetitions = (int)reps, .progress = progress};
        st = cp_tune_run(ctx, &o);
        rc = st == CP_OK ? CLI_EXIT_OK : cli_fail("tune", st);
    }
    cp_context_free(ctx);
    free(shapes);
    return rc;
}
