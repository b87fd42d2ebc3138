/* Start-up probe of `clinpaint bench` (include/clinpaint/bench.h): context
 * creation, then model, graph and the first training step, each timed. */
#include "clinpaint/bench.h"

#include <stdlib.h>
#include <string.h>

#include "bench/bench_internal.h"
#include "clinpaint/model.h"
#include "clinpaint/train_step.h"
#include "clinpaint/tune.h"
#include "backend/opencl/runtime/check.h"

cp_status cp_bench_startup_probe(const cp_context_options *options, bool apply_tuning,
                                 const char *preset, int batch, cp_bench_startup *out)
{
    memset(out, 0, sizeof *out);
    double t0 = cp_bench_now_s();
    cp_context *ctx;
    CP_TRY(cp_context_create_with(options, &ctx));
    /* a missing or corrupt tuning file only means the untuned defaults */
    if (apply_tuning) (void)cp_tune_apply(ctx);
    out->context_s = cp_bench_now_s() - t0;
    cp_model_config mc;
    cp_model *model = NULL;
    cp_train_graph tg;
    memset(&tg, 0, sizeof tg);
    float *hx = NULL, *hm = NULL;
    double t1 = cp_bench_now_s();
    cp_status st = cp_model_config_preset(preset, &mc);
    if (st == CP_OK) st = cp_model_create(ctx, &mc, &model);
    if (st == CP_OK) st = cp_model_init(model, 1);
    cp_train_options o = cp_train_defaults();
    if (st == CP_OK) st = cp_model_build_train(model, batch, &o, &tg);
    cp_plan_options po = cp_plan_defaults();
    if (st == CP_OK) st = cp_graph_plan(tg.graph, &po);
    if (st == CP_OK) {
        hx = malloc((size_t)batch * 3 * mc.size * mc.size * sizeof(float));
        hm = malloc((size_t)batch * mc.size * mc.size * sizeof(float));
        if (!hx || !hm) st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "batch");
    }
    if (st == CP_OK) {
        cp_bench_fill_batch(hx, hm, batch, mc.size);
        cp_train_scalars s; /* read back: the step ends as the trainer's does */
        st = cp_train_step(model, &tg, hx, hm, NULL, &s);
    }
    out->first_iter_s = cp_bench_now_s() - t1;
    out->total_s = cp_bench_now_s() - t0;
    out->programs = cp_context_program_stats(ctx);
    free(hx);
    free(hm);
    cp_train_graph_free(&tg);
    cp_model_free(model);
    cp_context_free(ctx);
    return st;
}
