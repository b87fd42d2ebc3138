/* The layer table and cp_train_step: the model's tensors come from the
 * table in checkpoint order, the gradient hook runs between each network's
 * gradients and its Adam update, and a step split for the hook computes
 * exactly what the one-piece run does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/test_util.h"

/* The tensors of each layer, in order: weight, bias, then the batch norm's
 * four when the layer has one; nothing else. */
static void check_table_against_model(const char *preset, bool bn)
{
    cp_model_config c;
    TU_OK(cp_model_config_preset(preset, &c));
    c.batchnorm = bn;
    cp_layer_table t;
    TU_OK(cp_model_layers(&c, &t));
    cp_model *m;
    TU_OK(cp_model_create(tu_ctx(), &c, &m));
    int k = 0;
    for (int i = 0; i < t.count; i++) {
        const cp_layer *l = &t.layers[i];
        char want[96];
        static const char *const sfx[6] = {"weight", "bias", "weight", "bias", "running_mean",
                                           "running_var"};
        for (int j = 0; j < (l->batchnorm ? 6 : 2); j++) {
            if (j < 2)
                snprintf(want, sizeof want, "%s.%s", l->name, sfx[j]);
            else
                snprintf(want, sizeof want, "%s.bn_%s.%s", l->prefix, l->part, sfx[j]);
            ck_assert_int_lt(k, m->count);
            ck_assert_str_eq(m->tensors[k].name, want);
            ck_assert_int_eq(m->tensors[k].group, l->group);
            k++;
        }
    }
    ck_assert_int_eq(k, m->count);
    cp_model_free(m);
}

START_TEST(model_tensors_follow_the_layer_table)
{
    static const char *const presets[3] = {"tiny", "small", "base"};
    check_table_against_model(presets[_i / 2], _i % 2);
}
END_TEST

/* Parameter and tensor counts of every preset, with and without batch
 * norm, as the architecture written out before the table had them. */
START_TEST(parameter_counts_unchanged)
{
    static const struct {
        const char *preset;
        bool bn;
        size_t g, d;
        int count;
    } want[6] = {
        {"tiny", false, 1311923, 451857, 78},   {"tiny", true, 1315347, 453553, 214},
        {"small", false, 7977139, 1598865, 78}, {"small", true, 7983123, 1601841, 214},
        {"base", false, 9668451, 2446113, 78},  {"base", true, 9676323, 2450017, 214},
    };
    cp_model_config c;
    TU_OK(cp_model_config_preset(want[_i].preset, &c));
    c.batchnorm = want[_i].bn;
    cp_model *m;
    TU_OK(cp_model_create(tu_ctx(), &c, &m));
    ck_assert_uint_eq(cp_model_param_count(m, CP_GROUP_G), want[_i].g);
    ck_assert_uint_eq(cp_model_param_count(m, CP_GROUP_D), want[_i].d);
    ck_assert_int_eq(m->count, want[_i].count);
    ck_assert_str_eq(m->tensors[0].name, "G.enc1.conv3.weight");
    ck_assert_str_eq(m->tensors[m->count - 1].name, "D.head.bias");
    cp_model_free(m);
}
END_TEST

/* A small model and one batch, seeded the same every time. */
typedef struct fixture {
    cp_model *m;
    cp_train_graph tg;
    float *x, *mask;
} fixture;

static void fixture_make(fixture *f)
{
    cp_model_config c = {.preset = "custom", .size = 32, .widths = {4, 4, 8, 8, 8, 8}, .latent = 8};
    TU_OK(cp_model_create(tu_ctx(), &c, &f->m));
    TU_OK(cp_model_init(f->m, 7));
    cp_train_options o = cp_train_defaults();
    TU_OK(cp_model_build_train(f->m, 2, &o, &f->tg));
    cp_plan_options po = cp_plan_defaults();
    TU_OK(cp_graph_plan(f->tg.graph, &po));
    f->x = malloc(sizeof(float) * 2 * 3 * 32 * 32);
    f->mask = malloc(sizeof(float) * 2 * 32 * 32);
    ck_assert(f->x && f->mask);
    cp_rng r;
    cp_rng_seed(&r, 3, 0);
    tu_fill_uniform(&r, f->x, 2 * 3 * 32 * 32, -1, 1);
    for (int i = 0; i < 2 * 32 * 32; i++) f->mask[i] = (i % 32) >= 8 && (i % 32) < 24;
}

static void fixture_free(fixture *f)
{
    free(f->x);
    free(f->mask);
    cp_train_graph_free(&f->tg);
    cp_model_free(f->m);
}

typedef struct hook_state {
    cp_model *m;
    int calls, groups[4];
    bool zero_d; /* zero every gradient of D */
} hook_state;

static cp_status on_gradients(void *user, cp_model *m, cp_train_graph *t, int group)
{
    hook_state *h = user;
    ck_assert_ptr_eq(m, h->m);
    if (h->calls < 4) h->groups[h->calls] = group;
    h->calls++;
    if (!h->zero_d || group != CP_GROUP_D) return CP_OK;
    for (int i = 0; i < m->count; i++) {
        if (m->tensors[i].group != group || !t->grad[i]) continue;
        cp_tensor g;
        cp_status st = cp_graph_tensor(t->graph, t->grad[i], &g);
        if (st == CP_OK) st = cp_tensor_fill(h->m->ctx, &g, 0.0f);
        if (st != CP_OK) return st;
    }
    return CP_OK;
}

/* Every value of a model tensor, downloaded. */
static float *values(cp_model *m, const char *name)
{
    cp_model_tensor *t = cp_model_find(m, name);
    ck_assert_ptr_nonnull(t);
    return tu_download(&t->value);
}

/* With D's gradients zeroed in the hook, Adam's first step leaves D as it
 * was (zero moments, zero update) while G moves: the hook ran after the
 * gradients and before the update, D first, once per network. */
START_TEST(hook_runs_between_gradients_and_update)
{
    fixture f;
    fixture_make(&f);
    size_t nd = cp_tensor_numel(&cp_model_find(f.m, "D.enc2.conv3.weight")->value),
           ng = cp_tensor_numel(&cp_model_find(f.m, "G.enc2.conv3.weight")->value);
    float *d0 = values(f.m, "D.enc2.conv3.weight"), *g0 = values(f.m, "G.enc2.conv3.weight");
    hook_state h = {.m = f.m, .zero_d = true};
    cp_train_step_options o = {.on_gradients = on_gradients, .user = &h};
    cp_train_scalars s;
    TU_OK(cp_train_step(f.m, &f.tg, f.x, f.mask, &o, &s));
    ck_assert_int_eq(h.calls, 2);
    ck_assert_int_eq(h.groups[0], CP_GROUP_D);
    ck_assert_int_eq(h.groups[1], CP_GROUP_G);
    ck_assert_int_eq(f.m->step_d, 1);
    ck_assert_int_eq(f.m->step_g, 1);
    float *d1 = values(f.m, "D.enc2.conv3.weight"), *g1 = values(f.m, "G.enc2.conv3.weight");
    ck_assert_mem_eq(d0, d1, nd * sizeof(float));
    ck_assert_int_ne(memcmp(g0, g1, ng * sizeof(float)), 0);
    free(d0);
    free(d1);
    free(g0);
    free(g1);
    fixture_free(&f);
}
END_TEST

/* A step split at the update segments (a hook that does nothing) gives
 * the one-piece run's losses and weights bit for bit. */
START_TEST(split_step_equals_whole_step)
{
    fixture a, b;
    fixture_make(&a);
    fixture_make(&b);
    hook_state h = {.m = b.m};
    cp_train_step_options o = {.on_gradients = on_gradients, .user = &h};
    for (int step = 0; step < 3; step++) {
        cp_train_scalars sa, sb;
        TU_OK(cp_train_step(a.m, &a.tg, a.x, a.mask, NULL, &sa));
        TU_OK(cp_train_step(b.m, &b.tg, b.x, b.mask, &o, &sb));
        ck_assert_mem_eq(&sa, &sb, sizeof sa);
        ck_assert(sa.rec > 0 && sa.d > 0);
    }
    ck_assert_int_eq(h.calls, 6);
    ck_assert_int_eq(a.m->step_d, 3);
    ck_assert_int_eq(b.m->step_g, 3);
    for (int i = 0; i < a.m->count; i++) {
        float *va = tu_download(&a.m->tensors[i].value), *vb = tu_download(&b.m->tensors[i].value);
        ck_assert_msg(memcmp(va, vb, cp_tensor_numel(&a.m->tensors[i].value) * sizeof(float)) == 0,
                      "%s differs", a.m->tensors[i].name);
        free(va);
        free(vb);
    }
    fixture_free(&a);
    fixture_free(&b);
}
END_TEST

/* A hook's error stops the step and comes back unchanged. */
static cp_status refuse(void *user, cp_model *m, cp_train_graph *t, int group)
{
    (void)user;
    (void)m;
    (void)t;
    return cp_set_error(CP_ERR_IO, "all-reduce failed (test) for group %d", group);
}

START_TEST(hook_error_stops_the_step)
{
    fixture f;
    fixture_make(&f);
    cp_train_step_options o = {.on_gradients = refuse};
    cp_train_scalars s;
    ck_assert_int_eq(cp_train_step(f.m, &f.tg, f.x, f.mask, &o, &s), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "all-reduce failed (test) for group 1"));
    TU_OK(cp_context_finish(f.m->ctx));
    fixture_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train_step");
    TCase *tc = tcase_create("train_step");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, model_tensors_follow_the_layer_table, 0, 6);
    tcase_add_loop_test(tc, parameter_counts_unchanged, 0, 6);
    tcase_add_test(tc, hook_runs_between_gradients_and_update);
    tcase_add_test(tc, split_step_equals_whole_step);
    tcase_add_test(tc, hook_error_stops_the_step);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
