/* One full training iteration (G forward, D step, G step, Adam on both)
 * against PyTorch: test/fixtures/golden_s32*.safetensors, written by
 * tools/torch_reference.py (docs/golden.md gives the tolerances used here). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/model.h"
#include "clinpaint/safetensors.h"
#include "util/test_util.h"

typedef struct fixture {
    cp_st_file *f;
    cp_model *model;
    cp_train_graph tg;
    const char *zero_grad;
} fixture;

static float *fixture_floats(const cp_st_file *f, const char *name, size_t *n)
{
    const cp_st_tensor *t = cp_st_find(f, name);
    ck_assert_msg(t != NULL, "fixture has no tensor %s", name);
    float *h = malloc(t->numel * sizeof *h);
    TU_OK(cp_st_get_f32(f, name, t->ndim, t->shape, h));
    *n = t->numel;
    return h;
}

/* max|got - want| / max|want| (relative to the tensor's scale). */
static double scaled_err(const float *got, const float *want, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (isnan(got[i])) d = INFINITY;
        if (d > e) e = d;
        if (fabs(want[i]) > m) m = fabs(want[i]);
    }
    return m > 0 ? e / m : e;
}

static double abs_err(const float *got, const float *want, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        double d = isnan(got[i]) ? INFINITY : fabs((double)got[i] - want[i]);
        if (d > e) e = d;
    }
    return e;
}

static void compare(fixture *fx, const cp_tensor *dev, const char *name, double tol, bool absolute)
{
    size_t n;
    float *want = fixture_floats(fx->f, name, &n);
    ck_assert_msg(n == cp_tensor_numel(dev), "%s: %zu elements in fixture, %zu on device", name, n,
                  cp_tensor_numel(dev));
    float *got = tu_download(dev);
    double e = absolute ? abs_err(got, want, n) : scaled_err(got, want, n);
    ck_assert_msg(e <= tol, "%s: error %.3g > %.3g (%s)", name, e, tol,
                  absolute ? "absolute" : "relative to max |value|");
    free(got);
    free(want);
}

static void compare_node(fixture *fx, cp_node *node, const char *name, double tol)
{
    cp_tensor t;
    TU_OK(cp_graph_tensor(fx->tg.graph, node, &t));
    compare(fx, &t, name, tol, false);
}

static bool is_zero_grad(const fixture *fx, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = fx->zero_grad; p && *p;) {
        const char *end = strchr(p, ',');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l == len && strncmp(p, name, l) == 0) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static int meta_int(const cp_st_file *f, const char *key)
{
    const char *v = cp_st_meta(f, key);
    ck_assert_msg(v != NULL, "fixture metadata has no %s", key);
    return atoi(v);
}

static void load_and_run(fixture *fx, const char *file, const cp_plan_options *plan)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/test/fixtures/%s", getenv("CLINPAINT_TEST_SOURCE_DIR"), file);
    TU_OK(cp_st_open(path, &fx->f));
    cp_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.preset, sizeof cfg.preset, "custom");
    cfg.size = meta_int(fx->f, "S");
    ck_assert_int_eq(sscanf(cp_st_meta(fx->f, "widths"), "%d,%d,%d,%d,%d,%d", &cfg.widths[0],
                            &cfg.widths[1], &cfg.widths[2], &cfg.widths[3], &cfg.widths[4],
                            &cfg.widths[5]),
                     6);
    cfg.latent = meta_int(fx->f, "latent");
    cfg.batchnorm = meta_int(fx->f, "batchnorm") != 0;
    fx->zero_grad = cp_st_meta(fx->f, "zero_grad");
    cp_context *ctx = tu_ctx();
    TU_OK(cp_model_create(ctx, &cfg, &fx->model));
    /* Start values from the fixture; moments zero. */
    for (int i = 0; i < fx->model->count; i++) {
        cp_model_tensor *t = &fx->model->tensors[i];
        size_t n;
        float *h = fixture_floats(fx->f, t->name, &n);
        ck_assert_uint_eq(n, cp_tensor_numel(&t->value));
        TU_OK(cp_tensor_upload(ctx, &t->value, h));
        free(h);
        if (t->trainable) {
            TU_OK(cp_tensor_fill(ctx, &t->m, 0));
            TU_OK(cp_tensor_fill(ctx, &t->v, 0));
        }
    }
    cp_train_options o = cp_train_defaults();
    o.rec_weight = (float)atof(cp_st_meta(fx->f, "lambda_rec"));
    o.adv_weight = (float)atof(cp_st_meta(fx->f, "lambda_adv"));
    o.ctx_weight = (float)atof(cp_st_meta(fx->f, "lambda_ctx"));
    o.keep_grads = true;
    TU_OK(cp_model_build_train(fx->model, meta_int(fx->f, "batch"), &o, &fx->tg));
    TU_OK(cp_graph_plan(fx->tg.graph, plan));
    cp_tensor x, m;
    TU_OK(cp_graph_tensor(fx->tg.graph, fx->tg.x, &x));
    TU_OK(cp_graph_tensor(fx->tg.graph, fx->tg.mask, &m));
    size_t n;
    float *hx = fixture_floats(fx->f, "input.x", &n);
    TU_OK(cp_tensor_upload(ctx, &x, hx));
    free(hx);
    float *hm = fixture_floats(fx->f, "input.mask", &n);
    TU_OK(cp_tensor_upload(ctx, &m, hm));
    free(hm);
    fx->model->step_d = fx->model->step_g = 1;
    TU_OK(cp_graph_run(fx->tg.graph));
    TU_OK(cp_context_finish(ctx));
}

static void check_all(fixture *fx)
{
    compare_node(fx, fx->tg.g_out, "out.G", 1e-4);
    compare_node(fx, fx->tg.y, "out.y", 1e-4);
    compare_node(fx, fx->tg.d_real, "out.D_real", 1e-4);
    compare_node(fx, fx->tg.d_fake, "out.D_fake", 1e-4);
    compare_node(fx, fx->tg.d_fake_g, "out.D_fake_gstep", 1e-4);
    compare_node(fx, fx->tg.loss_rec, "loss.rec", 1e-4);
    compare_node(fx, fx->tg.loss_adv, "loss.adv", 1e-4);
    compare_node(fx, fx->tg.loss_g, "loss.G", 1e-4);
    compare_node(fx, fx->tg.loss_d, "loss.D", 1e-4);
    cp_model *model = fx->model;
    char name[256];
    for (int i = 0; i < model->count; i++) {
        cp_model_tensor *t = &model->tensors[i];
        snprintf(name, sizeof name, "after.%s", t->name);
        if (!t->trainable) { /* running statistics */
            compare(fx, &t->value, name, 1e-4, false);
            continue;
        }
        bool zero = is_zero_grad(fx, t->name);
        ck_assert_msg(fx->tg.grad[i] != NULL, "%s has no gradient", t->name);
        cp_tensor gt;
        TU_OK(cp_graph_tensor(fx->tg.graph, fx->tg.grad[i], &gt));
        if (zero) {
            /* Exactly zero in exact arithmetic: only rounding noise. */
            float *g = tu_download(&gt);
            for (size_t k = 0; k < cp_tensor_numel(&gt); k++)
                ck_assert_msg(fabsf(g[k]) <= 1e-6f, "%s: zero gradient is %g", t->name, g[k]);
            free(g);
            continue;
        }
        snprintf(name, sizeof name, "grad.%s", t->name);
        compare(fx, &gt, name, 1e-3, false);
        snprintf(name, sizeof name, "after.%s", t->name);
        compare(fx, &t->value, name, 2e-6, true);
        const char *net = t->group == CP_GROUP_G ? "G" : "D";
        snprintf(name, sizeof name, "opt.%s.m.%s", net, t->name);
        compare(fx, &t->m, name, 1e-3, false);
        snprintf(name, sizeof name, "opt.%s.v.%s", net, t->name);
        compare(fx, &t->v, name, 2e-3, false);
    }
}

static void fixture_free(fixture *fx)
{
    cp_train_graph_free(&fx->tg);
    cp_model_free(fx->model);
    cp_st_close(fx->f);
}

static void run_fixture(const char *file)
{
    fixture fx = {0};
    cp_plan_options plan = cp_plan_defaults();
    plan.poison_freed = true; /* an aliasing bug shows as NaN */
    load_and_run(&fx, file, &plan);
    check_all(&fx);
    fixture_free(&fx);
}

START_TEST(golden_plain) { run_fixture("golden_s32.safetensors"); }
END_TEST

START_TEST(golden_adversarial_weights) { run_fixture("golden_s32_w11.safetensors"); }
END_TEST

START_TEST(golden_batchnorm) { run_fixture("golden_s32_bn.safetensors"); }
END_TEST

/* The same iteration with every tensor in its own memory, or with the
 * arena cut into 256 KiB buffers, gives the same bits as the planned one. */
START_TEST(planning_changes_nothing)
{
    fixture a = {0}, b = {0};
    cp_plan_options planned = cp_plan_defaults(), unplanned = {.reuse = false};
    planned.poison_freed = true;
    if (_i == 1) planned.chunk_bytes = 256 << 10;
    load_and_run(&a, "golden_s32_bn.safetensors", &planned);
    load_and_run(&b, "golden_s32_bn.safetensors", &unplanned);
    uint64_t pa = cp_graph_arena_bytes(a.tg.graph), pb = cp_graph_arena_bytes(b.tg.graph);
    ck_assert_msg(pa < pb, "planned arena %llu not smaller than unplanned %llu",
                  (unsigned long long)pa, (unsigned long long)pb);
    for (int i = 0; i < a.model->count; i++) {
        float *va = tu_download(&a.model->tensors[i].value);
        float *vb = tu_download(&b.model->tensors[i].value);
        ck_assert_msg(memcmp(va, vb, cp_tensor_numel(&a.model->tensors[i].value) * sizeof(float)) == 0,
                      "%s differs between planned and unplanned runs", a.model->tensors[i].name);
        free(va);
        free(vb);
    }
    fixture_free(&a);
    fixture_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, golden_plain);
    tcase_add_test(tc, golden_adversarial_weights);
    tcase_add_test(tc, golden_batchnorm);
    tcase_add_loop_test(tc, planning_changes_nothing, 0, 2);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
