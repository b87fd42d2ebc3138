/* One training step of the mask detector (forward, BCE + soft Dice,
 * backward, Adam) against PyTorch: test/fixtures/golden_detector_s16.safetensors,
 * written by tools/torch_reference.py --golden-detector (tools/torch_segmenter.py;
 * docs/golden.md). Tolerances as test_golden's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/detector.h"
#include "clinpaint/safetensors.h"
#include "util/test_util.h"

static float *fixture_floats(const cp_st_file *f, const char *name, size_t *n)
{
    const cp_st_tensor *t = cp_st_find(f, name);
    ck_assert_msg(t != NULL, "fixture has no tensor %s", name);
    float *h = malloc(t->numel * sizeof *h);
    TU_OK(cp_st_get_f32(f, name, t->ndim, t->shape, h));
    *n = t->numel;
    return h;
}

static void compare(const cp_st_file *f, const cp_tensor *dev, const char *name, double tol,
                    bool absolute)
{
    size_t n;
    float *want = fixture_floats(f, name, &n);
    ck_assert_msg(n == cp_tensor_numel(dev), "%s: %zu elements in fixture, %zu on device", name,
                  n, cp_tensor_numel(dev));
    float *got = tu_download(dev);
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = isnan(got[i]) ? INFINITY : fabs((double)got[i] - want[i]);
        if (d > e) e = d;
        if (fabs(want[i]) > m) m = fabs(want[i]);
    }
    if (!absolute && m > 0) e /= m;
    ck_assert_msg(e <= tol, "%s: error %.3g > %.3g (%s)", name, e, tol,
                  absolute ? "absolute" : "relative to max |value|");
    free(got);
    free(want);
}

START_TEST(one_step_matches_pytorch)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/test/fixtures/golden_detector_s16.safetensors",
             getenv("CLINPAINT_TEST_SOURCE_DIR"));
    cp_st_file *f;
    TU_OK(cp_st_open(path, &f));
    cp_detector_config cfg = {.preset = "custom"};
    cfg.size = atoi(cp_st_meta(f, "size"));
    cfg.levels = atoi(cp_st_meta(f, "levels"));
    ck_assert_int_eq(sscanf(cp_st_meta(f, "widths"), "%d,%d,%d", &cfg.widths[0], &cfg.widths[1],
                            &cfg.widths[2]),
                     3);
    cp_context *ctx = tu_ctx();
    cp_detector *d;
    TU_OK(cp_detector_create(ctx, &cfg, &d));
    cp_model *net = d->net;
    for (int i = 0; i < net->count; i++) {
        size_t n;
        float *h = fixture_floats(f, net->tensors[i].name, &n);
        ck_assert_uint_eq(n, cp_tensor_numel(&net->tensors[i].value));
        TU_OK(cp_tensor_upload(ctx, &net->tensors[i].value, h));
        TU_OK(cp_tensor_fill(ctx, &net->tensors[i].m, 0));
        TU_OK(cp_tensor_fill(ctx, &net->tensors[i].v, 0));
        free(h);
    }
    /* Every tensor of the fixture's network is one of ours, and back. */
    int params = 0;
    for (size_t i = 0; i < cp_st_count(f); i++)
        params += strncmp(cp_st_at(f, i)->name, "detector.", 9) == 0;
    ck_assert_int_eq(params, net->count);
    cp_detector_train_options o = cp_detector_train_defaults();
    o.adam.lr = (float)atof(cp_st_meta(f, "lr"));
    o.adam.beta1 = (float)atof(cp_st_meta(f, "beta1"));
    o.adam.beta2 = (float)atof(cp_st_meta(f, "beta2"));
    o.adam.eps = (float)atof(cp_st_meta(f, "eps"));
    o.dice_weight = (float)atof(cp_st_meta(f, "dice_weight"));
    o.keep_grads = true;
    cp_detector_graph t;
    TU_OK(cp_detector_build_train(d, atoi(cp_st_meta(f, "batch")), &o, &t));
    cp_plan_options plan = cp_plan_defaults();
    plan.poison_freed = true;
    TU_OK(cp_graph_plan(t.graph, &plan));
    size_t n;
    float *x = fixture_floats(f, "input.x", &n), *m = fixture_floats(f, "input.mask", &n);
    float loss;
    TU_OK(cp_detector_train_step(d, &t, x, m, &loss));
    free(x);
    free(m);
    ck_assert_int_eq(net->step_g, 1);
    cp_tensor v;
    TU_OK(cp_graph_tensor(t.graph, t.logits, &v));
    compare(f, &v, "out.logits", 1e-4, false);
    TU_OK(cp_graph_tensor(t.graph, t.loss, &v));
    compare(f, &v, "loss", 1e-5, false);
    char name[256];
    for (int i = 0; i < net->count; i++) {
        cp_model_tensor *mt = &net->tensors[i];
        ck_assert_msg(t.grad[i] != NULL, "%s has no gradient", mt->name);
        TU_OK(cp_graph_tensor(t.graph, t.grad[i], &v));
        snprintf(name, sizeof name, "grad.%s", mt->name);
        compare(f, &v, name, 1e-3, false);
        snprintf(name, sizeof name, "after.%s", mt->name);
        compare(f, &mt->value, name, 2e-6, true);
        snprintf(name, sizeof name, "opt.detector.m.%s", mt->name);
        compare(f, &mt->m, name, 1e-3, false);
        snprintf(name, sizeof name, "opt.detector.v.%s", mt->name);
        compare(f, &mt->v, name, 2e-3, false);
    }
    cp_detector_graph_free(&t);
    cp_detector_free(d);
    cp_st_close(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("detector_golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, one_step_matches_pytorch);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
