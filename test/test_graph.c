/* Graph: finite-difference gradient checks of small whole networks (every
 * op kind, with and without batch norm), build errors, the planner's
 * memory saving, and scalar read-back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/graph.h"
#include "util/test_util.h"

enum { N = 2, S = 8, MAX_PARAMS = 24 };

typedef struct net {
    cp_graph *g;
    cp_tensor params[MAX_PARAMS];
    cp_node *pnodes[MAX_PARAMS];
    int nparams;
    cp_node *x, *m, *loss;
    cp_rng rng;
} net;

static cp_node *param(net *t, const char *name, int ndim, const int64_t *shape, float scale)
{
    cp_node *node =
        tu_g_param_uniform(t->g, &t->rng, name, ndim, shape, scale, &t->params[t->nparams]);
    t->pnodes[t->nparams++] = node;
    return node;
}

static cp_node *bn_layer(net *t, cp_node *h, int64_t c, const char *name)
{
    char nm[64];
    snprintf(nm, sizeof nm, "%s.gamma", name);
    cp_node *gamma = param(t, nm, 1, &c, 0.3f);
    snprintf(nm, sizeof nm, "%s.beta", name);
    cp_node *beta = param(t, nm, 1, &c, 0.3f);
    /* gamma around 1 */
    float *h1 = malloc((size_t)c * sizeof *h1);
    TU_OK(cp_tensor_download(tu_ctx(), &t->params[t->nparams - 2], h1));
    for (int i = 0; i < c; i++) h1[i] += 1.0f;
    TU_OK(cp_tensor_upload(tu_ctx(), &t->params[t->nparams - 2], h1));
    free(h1);
    cp_tensor *rm = &t->params[t->nparams], *rv = &t->params[t->nparams + 1];
    TU_OK(cp_tensor_create(tu_ctx(), 1, &c, "rm", rm));
    TU_OK(cp_tensor_create(tu_ctx(), 1, &c, "rv", rv));
    TU_OK(cp_tensor_fill(tu_ctx(), rm, 0));
    TU_OK(cp_tensor_fill(tu_ctx(), rv, 1));
    t->pnodes[t->nparams] = cp_g_buffer(t->g, rm);
    t->pnodes[t->nparams + 1] = cp_g_buffer(t->g, rv);
    cp_node *out = cp_g_batchnorm(t->g, h, gamma, beta, t->pnodes[t->nparams],
                                  t->pnodes[t->nparams + 1], &(cp_bn_params){1e-5f, 0.1f},
                                  CP_BN_TRAIN);
    t->nparams += 2;
    return out;
}

/* x, M -> G-like path (concat, conv3, [bn], elu, pool, conv2, elu, dense
 * bottleneck, up2, tanh, composite) and a D-like head on the composite;
 * L = 0.8 L_rec + 0.2 (BCE(D(y), 1) + mean-free BCE(D(x), 0)). */
static void build(net *t, bool batchnorm, cp_plan_options o)
{
    memset(t, 0, sizeof *t);
    cp_rng_seed(&t->rng, batchnorm ? 11 : 7, 0);
    TU_OK(cp_graph_create(tu_ctx(), &t->g));
    cp_graph *g = t->g;
    int64_t xs[4] = {N, 3, S, S}, ms[4] = {N, 1, S, S};
    t->x = cp_g_input(g, "x", 4, xs);
    t->m = cp_g_input(g, "m", 4, ms);
    cp_conv_params c3 = cp_conv3_params(), c2 = cp_conv2_params(), u2 = cp_up2_params();
    int64_t w1[4] = {5, 4, 3, 3}, b5 = 5, w2[4] = {4, 5, 2, 2}, b4 = 4;
    cp_node *h = cp_g_concat(g, cp_g_mask_known(g, t->x, t->m), t->m);
    h = cp_g_conv2d(g, h, param(t, "w1", 4, w1, 0.4f), param(t, "b1", 1, &b5, 0.1f), &c3);
    if (batchnorm) h = bn_layer(t, h, 5, "bn1");
    h = cp_g_maxpool2(g, cp_g_elu(g, h));                                       /* 5x4x4 */
    h = cp_g_conv2d(g, h, param(t, "w2", 4, w2, 0.4f), param(t, "b2", 1, &b4, 0.1f), &c2);
    if (batchnorm) h = bn_layer(t, h, 4, "bn2");
    h = cp_g_elu(g, h);                                                         /* 4x4x4 */
    int64_t flat[2] = {N, 64}, dw1[2] = {6, 64}, b6 = 6, dw2[2] = {64, 6}, b64 = 64;
    cp_node *z = cp_g_reshape(g, h, 2, flat);
    z = cp_g_elu(g, cp_g_dense(g, z, param(t, "d1", 2, dw1, 0.3f), param(t, "c1", 1, &b6, 0.1f)));
    z = cp_g_sigmoid(g, cp_g_dense(g, z, param(t, "d2", 2, dw2, 0.3f), param(t, "c2", 1, &b64, 0.1f)));
    h = cp_g_add(g, 1.0f, h, 0.5f, cp_g_reshape(g, z, 4, (int64_t[]){N, 4, 4, 4}));
    int64_t wu[4] = {4, 3, 2, 2}, b3 = 3;
    h = cp_g_conv_transpose2d(g, h, param(t, "wu", 4, wu, 0.4f), param(t, "bu", 1, &b3, 0.1f), &u2);
    cp_node *gen = cp_g_tanh(g, cp_g_scale(g, 1.5f, h));                        /* 3x8x8 */
    cp_node *y = cp_g_composite(g, gen, t->x, t->m);
    int64_t hw[2] = {1, 3 * S * S}, hb = 1;
    cp_node *head_w = param(t, "hw", 2, hw, 0.05f), *head_b = param(t, "hb", 1, &hb, 0.1f);
    int64_t flat_img[2] = {N, 3 * S * S};
    cp_node *dy = cp_g_dense(g, cp_g_reshape(g, cp_g_mul(g, y, y), 2, flat_img), head_w, head_b);
    cp_node *dx = cp_g_dense(g, cp_g_reshape(g, t->x, 2, flat_img), head_w, head_b);
    cp_node *ladv = cp_g_add(g, 1.0f, cp_g_loss_bce(g, dy, 1), 1.0f, cp_g_loss_bce(g, dx, 0));
    t->loss = cp_g_add(g, 0.8f, cp_g_loss_rec(g, gen, t->x, t->m, 0.1f), 0.2f, ladv);
    cp_g_keep(g, t->loss);
    TU_OK(cp_g_backward(g, t->loss, 0, NULL, 0));
    for (int i = 0; i < t->nparams; i++)
        if (cp_g_grad(t->pnodes[i])) cp_g_keep(g, cp_g_grad(t->pnodes[i]));
    TU_OK(cp_graph_plan(g, &o));
    /* inputs: x in [-1, 1], a rectangular hole */
    float hx[N * 3 * S * S], hm[N * S * S];
    tu_fill_uniform(&t->rng, hx, N * 3 * S * S, -1, 1);
    for (int i = 0; i < N * S * S; i++) {
        int r = (i / S) % S, c = i % S;
        hm[i] = (r >= 2 && r < 6 && c >= 1 && c < 5) ? 1.0f : 0.0f;
    }
    cp_tensor tx, tm;
    TU_OK(cp_graph_tensor(g, t->x, &tx));
    TU_OK(cp_graph_tensor(g, t->m, &tm));
    TU_OK(cp_tensor_upload(tu_ctx(), &tx, hx));
    TU_OK(cp_tensor_upload(tu_ctx(), &tm, hm));
}

static double run_loss(net *t)
{
    float l;
    TU_OK(cp_graph_run(t->g));
    TU_OK(cp_graph_read_scalars(t->g, &t->loss, 1, &l));
    return l;
}

static void free_net(net *t)
{
    cp_graph_free(t->g);
    for (int i = 0; i < t->nparams; i++) cp_tensor_free(tu_ctx(), &t->params[i]);
}

/* The ways of planning, each with every debug check on: memory reused with
 * in-place ops, reused without, every value on its own, and an arena cut
 * into many 4 KiB buffers (as a device with a small largest allocation
 * would need). */
static cp_plan_options plan_mode(int i)
{
    cp_plan_options o = {.reuse = i != 2, .in_place = i == 0 || i == 3, .poison_freed = true,
                         .check_writes = true, .chunk_bytes = i == 3 ? 4096 : 0};
    return o;
}

static void gradcheck_net(bool batchnorm, int mode)
{
    net t;
    build(&t, batchnorm, plan_mode(mode));
    run_loss(&t);
    cp_rng pick;
    cp_rng_seed(&pick, 3, 0);
    int checked = 0;
    for (int i = 0; i < t.nparams; i++) {
        cp_node *gn = cp_g_grad(t.pnodes[i]);
        if (!gn) continue; /* running statistics */
        cp_tensor gt;
        TU_OK(cp_graph_run(t.g));
        TU_OK(cp_graph_tensor(t.g, gn, &gt));
        float *grad = tu_download(&gt);
        float *p = tu_download(&t.params[i]);
        size_t n = cp_tensor_numel(&t.params[i]);
        for (int k = 0; k < 4; k++) {
            size_t j = (size_t)cp_rng_range(&pick, 0, (int64_t)n - 1);
            /* h = 5e-4: the loss (~1) is reduced in float, so its rounding
             * (~3e-8 per evaluation) over 2h is ~1e-4, inside atol 2e-4.
             * With h = 1e-3 the third-order term (h^2 f''' / 6, large where
             * tanh and sigmoid saturate) already moved b1's difference by
             * 3e-4. Max-pool argmax changes are met with probability ~h;
             * rtol 3 % covers batch norm's coupling of all elements. */
            const double h = 5e-4;
            float saved = p[j];
            p[j] = saved + (float)h;
            TU_OK(cp_tensor_upload(tu_ctx(), &t.params[i], p));
            double lp = run_loss(&t);
            p[j] = saved - (float)h;
            TU_OK(cp_tensor_upload(tu_ctx(), &t.params[i], p));
            double lm = run_loss(&t);
            p[j] = saved;
            TU_OK(cp_tensor_upload(tu_ctx(), &t.params[i], p));
            double num = (lp - lm) / (2 * h), ana = grad[j];
            ck_assert_msg(fabs(num - ana) <= 2e-4 + 3e-2 * fabs(ana),
                          "%s%s[%zu]: analytic %.6g, finite difference %.6g",
                          batchnorm ? "(bn) " : "", t.params[i].name, j, ana, num);
            checked++;
        }
        free(grad);
        free(p);
    }
    ck_assert_int_ge(checked, 40);
    free_net(&t);
}

START_TEST(whole_net_gradients) { gradcheck_net(false, _i); }
END_TEST

START_TEST(whole_net_gradients_batchnorm) { gradcheck_net(true, _i); }
END_TEST

START_TEST(planner_saves_memory_and_replays)
{
    net t;
    build(&t, true, plan_mode(_i));
    uint64_t planned, unplanned;
    cp_plan_options o = cp_plan_defaults();
    TU_OK(cp_graph_plan_size(t.g, &o, &planned, &unplanned));
    ck_assert_uint_lt(planned, unplanned);
    ck_assert_uint_gt(planned, 0);
    /* Replays give the same loss (BN running stats change, batch stats don't). */
    double a = run_loss(&t), b = run_loss(&t);
    ck_assert(a == b && isfinite(a));
    free_net(&t);
}
END_TEST

START_TEST(build_errors_are_clear)
{
    cp_graph *g;
    TU_OK(cp_graph_create(tu_ctx(), &g));
    int64_t xs[4] = {1, 3, 8, 8};
    cp_node *x = cp_g_input(g, "x", 4, xs);
    cp_tensor w;
    int64_t ws[4] = {4, 5, 3, 3};
    TU_OK(cp_tensor_create(tu_ctx(), 4, ws, "w.bad", &w));
    cp_conv_params c3 = cp_conv3_params();
    cp_node *bad = cp_g_conv2d(g, x, cp_g_param(g, &w, 0), NULL, &c3);
    ck_assert_ptr_null(bad);
    ck_assert_int_eq(cp_graph_status(g), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "input channels differ"));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "w.bad[4,5,3,3]"));
    /* Later calls keep the first error; planning refuses. */
    ck_assert_ptr_null(cp_g_elu(g, x));
    ck_assert_int_eq(cp_graph_plan(g, &(cp_plan_options){.reuse = true, .in_place = true}), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "input channels differ"));
    cp_graph_free(g);
    cp_tensor_free(tu_ctx(), &w);

    /* The gradient of a mean has no rule: a clear "unsupported". */
    TU_OK(cp_graph_create(tu_ctx(), &g));
    cp_tensor p;
    int64_t ps[1] = {5};
    TU_OK(cp_tensor_create(tu_ctx(), 1, ps, "p", &p));
    cp_node *mean = cp_g_mean(g, cp_g_elu(g, cp_g_param(g, &p, 0)));
    ck_assert_int_eq(cp_g_backward(g, mean, 0, NULL, 0), CP_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "mean"));
    cp_graph_free(g);
    cp_tensor_free(tu_ctx(), &p);
}
END_TEST

START_TEST(unkept_scalar_is_refused)
{
    cp_graph *g;
    TU_OK(cp_graph_create(tu_ctx(), &g));
    int64_t xs[2] = {4, 1};
    cp_node *x = cp_g_input(g, "x", 2, xs);
    cp_node *l = cp_g_loss_bce(g, x, 1);
    cp_node *l2 = cp_g_loss_bce(g, x, 0);
    cp_g_keep(g, l2);
    TU_OK(cp_graph_plan(g, &(cp_plan_options){.reuse = true, .in_place = true, .poison_freed = true}));
    cp_tensor tx;
    TU_OK(cp_graph_tensor(g, x, &tx));
    float hx[4] = {0.5f, -1.0f, 2.0f, 0.0f};
    TU_OK(cp_tensor_upload(tu_ctx(), &tx, hx));
    TU_OK(cp_graph_run(g));
    float v;
    ck_assert_int_eq(cp_graph_read_scalars(g, &l, 1, &v), CP_ERR_INVALID_ARGUMENT);
    TU_OK(cp_graph_read_scalars(g, &l2, 1, &v));
    double want = 0;
    for (int i = 0; i < 4; i++) want += log1p(exp(hx[i]));
    ck_assert_double_eq_tol(v, want / 4, 1e-6);
    cp_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, whole_net_gradients, 0, 4);
    tcase_add_loop_test(tc, whole_net_gradients_batchnorm, 0, 4);
    tcase_add_loop_test(tc, planner_saves_memory_and_replays, 0, 4);
    tcase_add_test(tc, build_errors_are_clear);
    tcase_add_test(tc, unkept_scalar_is_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
