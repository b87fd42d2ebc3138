/* The graph's fusion pass (src/graph/fuse.c): a convolution whose only
 * reader is an ELU computes the ELU in its epilogue. Checked: the pass
 * fires on conv3 -> ELU and up2 -> ELU; it does not fire when the
 * convolution's value has a second reader, is kept, or sits behind a batch
 * norm, nor with no_fusion; a fusion is undone when its value is kept
 * after a plan; and the fused graph's loss and every gradient equal the
 * unfused graph's, on every convolution route (the finite-difference checks
 * of fused networks are test_graph's whole-net checks, which fuse). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/graph.h"
#include "graph/graph_internal.h"
#include "util/op_test_util.h"
#include "util/test_util.h"

enum { N = 2, C0 = 3, S = 8, MAX_PARAMS = 8 };

typedef struct net {
    cp_graph *g;
    cp_tensor params[MAX_PARAMS];
    cp_node *pnodes[MAX_PARAMS];
    int nparams;
    cp_node *x, *conv1, *elu1, *up, *elu2, *loss;
    cp_rng rng;
} net;

static cp_node *param(net *t, const char *name, int ndim, const int64_t *shape, float scale)
{
    cp_tensor *p = &t->params[t->nparams];
    TU_OK(cp_tensor_create(tu_ctx(), ndim, shape, name, p));
    size_t n = cp_tensor_numel(p);
    float *h = malloc(n * sizeof *h);
    tu_fill_uniform(&t->rng, h, n, -scale, scale);
    TU_OK(cp_tensor_upload(tu_ctx(), p, h));
    free(h);
    cp_node *node = cp_g_param(t->g, p, 0);
    t->pnodes[t->nparams++] = node;
    return node;
}

/* x -> conv3 (+ b) -> ELU -> up2 (+ b) -> ELU -> dense head -> BCE.
 * `second_reader`: the first conv's value also enters the loss through a
 * head of its own. */
static void build(net *t, bool second_reader)
{
    memset(t, 0, sizeof *t);
    cp_rng_seed(&t->rng, 5, 0);
    TU_OK(cp_graph_create(tu_ctx(), &t->g));
    cp_graph *g = t->g;
    int64_t xs[4] = {N, C0, S, S}, w1[4] = {5, C0, 3, 3}, b5 = 5, wu[4] = {5, 4, 2, 2}, b4 = 4;
    cp_conv_params c3 = cp_conv3_params(), u2 = cp_up2_params();
    t->x = cp_g_input(g, "x", 4, xs);
    t->conv1 = cp_g_conv2d(g, t->x, param(t, "w1", 4, w1, 0.5f), param(t, "b1", 1, &b5, 0.2f), &c3);
    t->elu1 = cp_g_elu(g, t->conv1);
    t->up = cp_g_conv_transpose2d(g, t->elu1, param(t, "wu", 4, wu, 0.5f),
                                  param(t, "bu", 1, &b4, 0.2f), &u2);
    t->elu2 = cp_g_elu(g, t->up);
    int64_t flat[2] = {N, 4 * 4 * S * S}, hw[2] = {1, 4 * 4 * S * S}, b1 = 1;
    cp_node *head_w = param(t, "hw", 2, hw, 0.05f), *head_b = param(t, "hb", 1, &b1, 0.1f);
    cp_node *logit = cp_g_dense(g, cp_g_reshape(g, t->elu2, 2, flat), head_w, head_b);
    t->loss = cp_g_loss_bce(g, logit, 1);
    if (second_reader) {
        int64_t flat1[2] = {N, 5 * S * S}, hw1[2] = {1, 5 * S * S};
        cp_node *w1h = param(t, "hw1", 2, hw1, 0.05f);
        cp_node *l1 = cp_g_dense(g, cp_g_reshape(g, t->conv1, 2, flat1), w1h, NULL);
        t->loss = cp_g_add(g, 1.0f, t->loss, 0.5f, cp_g_loss_bce(g, l1, 0));
    }
    cp_g_keep(g, t->loss);
    TU_OK(cp_g_backward(g, t->loss, 0, NULL, 0));
    for (int i = 0; i < t->nparams; i++) cp_g_keep(g, cp_g_grad(t->pnodes[i]));
}

static cp_plan_options plan(bool fusion)
{
    cp_plan_options o = cp_plan_defaults();
    o.poison_freed = true;
    o.check_writes = true;
    o.no_fusion = !fusion;
    return o;
}

static void upload_x(net *t)
{
    float hx[N * C0 * S * S];
    cp_rng r;
    cp_rng_seed(&r, 9, 0); /* the same input for every plan */
    tu_fill_uniform(&r, hx, N * C0 * S * S, -1, 1);
    cp_tensor tx;
    TU_OK(cp_graph_tensor(t->g, t->x, &tx));
    TU_OK(cp_tensor_upload(tu_ctx(), &tx, hx));
}

/* The loss, then every parameter's gradient, one after the other. */
static float *run(net *t, size_t *count)
{
    TU_OK(cp_graph_run(t->g));
    size_t total = 1;
    for (int i = 0; i < t->nparams; i++) total += cp_tensor_numel(&t->params[i]);
    float *out = malloc(total * sizeof *out);
    TU_OK(cp_graph_read_scalars(t->g, &t->loss, 1, out));
    size_t k = 1;
    for (int i = 0; i < t->nparams; i++) {
        cp_tensor gt;
        TU_OK(cp_graph_tensor(t->g, cp_g_grad(t->pnodes[i]), &gt));
        float *gr = tu_download(&gt);
        memcpy(out + k, gr, cp_tensor_numel(&gt) * sizeof *gr);
        k += cp_tensor_numel(&gt);
        free(gr);
    }
    *count = total;
    return out;
}

static void free_net(net *t)
{
    cp_graph_free(t->g);
    for (int i = 0; i < t->nparams; i++) cp_tensor_free(tu_ctx(), &t->params[i]);
}

START_TEST(fusion_fires_and_matches_unfused)
{
    TU_CONV_ROUTE_OR_SKIP(_i);
    net t;
    build(&t, false);
    cp_plan_options o = plan(false);
    TU_OK(cp_graph_plan(t.g, &o));
    ck_assert_int_eq(t.elu1->op, CP_OP_ELU);
    ck_assert(!t.conv1->fused_elu);
    upload_x(&t);
    size_t n_ref, n_got;
    float *ref = run(&t, &n_ref);

    o = plan(true);
    TU_OK(cp_graph_plan(t.g, &o));
    ck_assert_int_eq(t.elu1->op, CP_OP_ELU_FUSED);
    ck_assert_int_eq(t.elu2->op, CP_OP_ELU_FUSED);
    ck_assert(t.conv1->fused_elu && t.up->fused_elu);
    upload_x(&t); /* a new plan has a new arena */
    float *got = run(&t, &n_got);
    ck_assert_uint_eq(n_ref, n_got);
    for (size_t i = 0; i < n_ref; i++)
        ck_assert_msg(fabsf(got[i] - ref[i]) <= 1e-6f + 1e-5f * fabsf(ref[i]),
                      "value %zu: fused %.8g, unfused %.8g", i, got[i], ref[i]);
    free(ref);
    free(got);
    free_net(&t);
}
END_TEST

START_TEST(fusion_skips_a_conv_with_a_second_reader)
{
    net t;
    build(&t, true);
    cp_plan_options o = plan(true);
    TU_OK(cp_graph_plan(t.g, &o));
    ck_assert_int_eq(t.elu1->op, CP_OP_ELU); /* conv1 also enters the loss */
    ck_assert(!t.conv1->fused_elu);
    ck_assert_int_eq(t.elu2->op, CP_OP_ELU_FUSED); /* the up2 still fuses */
    free_net(&t);
}
END_TEST

START_TEST(fusion_skips_kept_values_and_is_undone)
{
    net t;
    build(&t, false);
    cp_plan_options o = plan(true);
    TU_OK(cp_graph_plan(t.g, &o));
    ck_assert_int_eq(t.elu2->op, CP_OP_ELU_FUSED);
    /* The caller keeps the up2's pre-activation after a plan: the next plan
     * undoes that fusion (and keeps the other). */
    cp_g_keep(t.g, t.up);
    TU_OK(cp_graph_plan(t.g, &o));
    ck_assert_int_eq(t.elu2->op, CP_OP_ELU);
    ck_assert(!t.up->fused_elu);
    ck_assert_int_eq(t.elu1->op, CP_OP_ELU_FUSED);
    /* no_fusion undoes them all. */
    o.no_fusion = true;
    TU_OK(cp_graph_plan(t.g, &o));
    ck_assert_int_eq(t.elu1->op, CP_OP_ELU);
    ck_assert(!t.conv1->fused_elu);
    free_net(&t);
}
END_TEST

/* conv -> batch norm -> ELU: the ELU's source is the batch norm, no fusion. */
START_TEST(fusion_skips_batchnorm_layers)
{
    cp_graph *g;
    TU_OK(cp_graph_create(tu_ctx(), &g));
    int64_t xs[4] = {2, 3, 4, 4}, ws[4] = {4, 3, 3, 3}, c4 = 4;
    cp_tensor w, gm, bt, rm, rv;
    TU_OK(cp_tensor_create(tu_ctx(), 4, ws, "w", &w));
    cp_tensor *v[] = {&gm, &bt, &rm, &rv};
    for (int i = 0; i < 4; i++) TU_OK(cp_tensor_create(tu_ctx(), 1, &c4, "bn", v[i]));
    cp_conv_params c3 = cp_conv3_params();
    cp_node *x = cp_g_input(g, "x", 4, xs);
    cp_node *c = cp_g_conv2d(g, x, cp_g_param(g, &w, 0), NULL, &c3);
    cp_node *bn = cp_g_batchnorm(g, c, cp_g_param(g, &gm, 0), cp_g_param(g, &bt, 0),
                                 cp_g_buffer(g, &rm), cp_g_buffer(g, &rv),
                                 &(cp_bn_params){1e-5f, 0.1f}, CP_BN_TRAIN);
    cp_node *e = cp_g_elu(g, bn);
    cp_g_keep(g, e);
    cp_plan_options o = cp_plan_defaults();
    TU_OK(cp_graph_plan(g, &o));
    ck_assert_int_eq(e->op, CP_OP_ELU);
    ck_assert(!c->fused_elu);
    cp_graph_free(g);
    cp_tensor_free(tu_ctx(), &w);
    for (int i = 0; i < 4; i++) cp_tensor_free(tu_ctx(), v[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fuse");
    TCase *tc = tcase_create("fuse");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, fusion_fires_and_matches_unfused, 0, TU_CONV_ROUTES);
    tcase_add_test(tc, fusion_skips_a_conv_with_a_second_reader);
    tcase_add_test(tc, fusion_skips_kept_values_and_is_undone);
    tcase_add_test(tc, fusion_skips_batchnorm_layers);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
