/* The graph's fusion pass (src/graph/fuse.c): a convolution whose only
 * reader is an ELU computes the ELU in its epilogue, and the dx of a layer
 * fed by an ELU applies the ELU's backward. Checked: the pass fires on
 * conv3 / conv2 / up2 -> ELU and on the max pool's, conv's and up2's dx
 * (the op-level checks of those dx are in test_conv*.c and below); it does
 * not fire when the
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
#include "backend/opencl/ops/conv_fused.h"
#include "graph/graph_internal.h"
#include "util/op_test_util.h"
#include "util/test_util.h"

enum { N = 2, C0 = 3, S = 8, MAX_PARAMS = 12 };

typedef struct net {
    cp_graph *g;
    cp_tensor params[MAX_PARAMS];
    cp_node *pnodes[MAX_PARAMS];
    int nparams;
    cp_node *x, *conv1, *elu1, *conv2, *elu2, *conv3, *elu3, *up, *elu4, *loss;
    cp_rng rng;
} net;

static cp_node *param(net *t, const char *name, int ndim, const int64_t *shape, float scale)
{
    cp_node *node =
        tu_g_param_uniform(t->g, &t->rng, name, ndim, shape, scale, &t->params[t->nparams]);
    t->pnodes[t->nparams++] = node;
    return node;
}

/* The ELU backward node of an ELU output (the one reading it first). */
static cp_node *elu_dx_of(cp_graph *g, const cp_node *y)
{
    for (int i = 0; i < g->count; i++) {
        cp_node *n = g->nodes[i];
        if (n->op == CP_OP_ELU_DX && n->src[0] == y) return n;
        if (n->op == CP_OP_ELU_DX_FUSED && n->src[1] == y) return n;
    }
    return NULL;
}

/* x -> conv3 -> ELU -> pool -> conv2 -> ELU -> conv3 -> ELU -> up2 -> ELU
 * -> dense head -> BCE: every conv fuses its ELU, and the ELU backwards fuse
 * into the max pool's, the conv's and the up2's dx (the last ELU's dy comes
 * through a reshape: not fused). `second_reader`: the first conv's value
 * also enters the loss through a head of its own. */
static void build(net *t, bool second_reader)
{
    memset(t, 0, sizeof *t);
    cp_rng_seed(&t->rng, 5, 0);
    TU_OK(cp_graph_create(tu_ctx(), &t->g));
    cp_graph *g = t->g;
    int64_t xs[4] = {N, C0, S, S}, w1[4] = {5, C0, 3, 3}, b5 = 5, w2[4] = {4, 5, 2, 2}, b4 = 4;
    int64_t w3[4] = {4, 4, 3, 3}, wu[4] = {4, 4, 2, 2};
    cp_conv_params c3 = cp_conv3_params(), c2 = cp_conv2_params(), u2 = cp_up2_params();
    t->x = cp_g_input(g, "x", 4, xs);
    t->conv1 = cp_g_conv2d(g, t->x, param(t, "w1", 4, w1, 0.5f), param(t, "b1", 1, &b5, 0.2f), &c3);
    t->elu1 = cp_g_elu(g, t->conv1);
    cp_node *pool = cp_g_maxpool2(g, t->elu1); /* 5 x S/2 x S/2 */
    t->conv2 = cp_g_conv2d(g, pool, param(t, "w2", 4, w2, 0.5f), NULL, &c2);
    t->elu2 = cp_g_elu(g, t->conv2);
    t->conv3 = cp_g_conv2d(g, t->elu2, param(t, "w3", 4, w3, 0.5f), param(t, "b3", 1, &b4, 0.2f), &c3);
    t->elu3 = cp_g_elu(g, t->conv3);
    t->up = cp_g_conv_transpose2d(g, t->elu3, param(t, "wu", 4, wu, 0.5f),
                                  param(t, "bu", 1, &b4, 0.2f), &u2); /* 4 x S x S */
    t->elu4 = cp_g_elu(g, t->up);
    int64_t flat[2] = {N, 4 * S * S}, hw[2] = {1, 4 * S * S}, b1 = 1;
    cp_node *head_w = param(t, "hw", 2, hw, 0.1f), *head_b = param(t, "hb", 1, &b1, 0.1f);
    cp_node *logit = cp_g_dense(g, cp_g_reshape(g, t->elu4, 2, flat), head_w, head_b);
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

    ck_assert_int_eq(elu_dx_of(t.g, t.elu1)->op, CP_OP_ELU_DX);
    o = plan(true);
    TU_OK(cp_graph_plan(t.g, &o));
    cp_node *elus[] = {t.elu1, t.elu2, t.elu3, t.elu4};
    for (int i = 0; i < 4; i++) ck_assert_int_eq(elus[i]->op, CP_OP_ELU_FUSED);
    ck_assert(t.conv1->fused_elu && t.conv2->fused_elu && t.conv3->fused_elu && t.up->fused_elu);
    /* ELU backwards: into the dx of the layer each ELU feeds (pool, conv3,
     * up2); the last one's dy comes through the head's reshape and stays a
     * node of its own. */
    for (int i = 0; i < 3; i++) {
        cp_node *d = elu_dx_of(t.g, elus[i]);
        ck_assert_int_eq(d->op, CP_OP_ELU_DX_FUSED);
        ck_assert(d->src[0]->fused_elu_grad);
    }
    ck_assert_int_eq(elu_dx_of(t.g, t.elu4)->op, CP_OP_ELU_DX);
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
    ck_assert_int_eq(t.elu4->op, CP_OP_ELU_FUSED); /* the up2 still fuses */
    free_net(&t);
}
END_TEST

START_TEST(fusion_skips_kept_values_and_is_undone)
{
    net t;
    build(&t, false);
    cp_plan_options o = plan(true);
    TU_OK(cp_graph_plan(t.g, &o));
    ck_assert_int_eq(t.elu1->op, CP_OP_ELU_FUSED);
    ck_assert_int_eq(t.elu4->op, CP_OP_ELU_FUSED);
    cp_node *d3 = elu_dx_of(t.g, t.elu3), *up_dx = d3->src[0];
    ck_assert_int_eq(d3->op, CP_OP_ELU_DX_FUSED);
    /* The caller keeps the up2's pre-activation and its dx after a plan: the
     * next plan undoes those fusions (and keeps the others). */
    cp_g_keep(t.g, t.up);
    cp_g_keep(t.g, up_dx);
    TU_OK(cp_graph_plan(t.g, &o));
    ck_assert_int_eq(t.elu4->op, CP_OP_ELU);
    ck_assert(!t.up->fused_elu);
    ck_assert_int_eq(d3->op, CP_OP_ELU_DX);
    ck_assert(d3->src[1] == up_dx && d3->src[0] == t.elu3 && !up_dx->fused_elu_grad);
    ck_assert_int_eq(t.elu1->op, CP_OP_ELU_FUSED);
    /* no_fusion undoes them all. */
    o.no_fusion = true;
    TU_OK(cp_graph_plan(t.g, &o));
    ck_assert_int_eq(t.elu1->op, CP_OP_ELU);
    ck_assert(!t.conv1->fused_elu);
    ck_assert_int_eq(elu_dx_of(t.g, t.elu1)->op, CP_OP_ELU_DX);
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

/* cp_maxpool2_backward_act with ELU: the routed gradient times ELU'(x) of
 * each window's maximum, zero elsewhere, against a CPU loop; odd sizes
 * (partial windows), batch 1 and NaN-poisoned outputs. */
START_TEST(maxpool_backward_with_elu_grad)
{
    const int shapes[][4] = {{1, 3, 5, 7}, {2, 4, 8, 16}, {1, 2, 6, 36}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int n = shapes[k][0], c = shapes[k][1], h = shapes[k][2], w = shapes[k][3];
        int ho = h / 2, wo = w / 2;
        size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * ho * wo;
        cp_rng r;
        cp_rng_seed(&r, 40 + k, 0);
        float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
        tu_fill_uniform(&r, x, nx, -1.5f, 1.5f);
        tu_fill_uniform(&r, dy, ny, -1, 1);
        double *ref = tu_dzeros(nx);
        for (int p = 0; p < n * c; p++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                    size_t best = (size_t)p * h * w + (size_t)(2 * oy) * w + 2 * ox;
                    for (int i = 0; i < 4; i++) {
                        size_t at = (size_t)p * h * w + (size_t)(2 * oy + i / 2) * w + 2 * ox + i % 2;
                        if (x[at] > x[best]) best = at;
                    }
                    double xv = x[best];
                    ref[best] = dy[((size_t)p * ho + oy) * wo + ox] * (xv > 0 ? 1.0 : xv + 1.0);
                }
        cp_tensor tx = tu_tensor_at(x, n, c, h, w, 3, "x");
        cp_tensor tdy = tu_tensor_at(dy, n, c, ho, wo, 0, "dy");
        cp_tensor tdx = tu_tensor_at(NULL, n, c, h, w, 5, "dx");
        TU_OK(cp_maxpool2_backward_act(tu_ctx(), &tx, &tdy, &tdx, false, CP_FUSED_ELU));
        float *got = tu_download(&tdx);
        tu_assert_close_sum("maxpool2 elu grad", "dx", got, ref, nx, 1);
        free(got);
        free(x);
        free(dy);
        free(ref);
        cp_tensor *ts[] = {&tx, &tdy, &tdx};
        for (int i = 0; i < 3; i++) cp_tensor_free(tu_ctx(), ts[i]);
    }
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
    tcase_add_test(tc, maxpool_backward_with_elu_grad);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
