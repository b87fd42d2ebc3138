/* The case harness of test_conv and test_conv_transpose (conv_case.h). */
#include "util/conv_case.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/ops/conv_fused.h"
#include "backend/opencl/ops/conv_igemm.h"
#include "clinpaint/tune.h"
#include "util/op_test_util.h"
#include "util/test_util.h"

/* The case's tensors and their CPU reference values. */
typedef struct case_data {
    tu_conv_shape s;
    size_t nx, nw, ny;
    float *x, *w, *b, *dy, *gx0, *gw0, *gb0;
    double *y_ref, *dx_ref, *dw_ref, *db_ref;
    cp_tensor tx, tw, tb, tdy, ty, ws, tdx, tdw, tdb;
    /* float32 terms summed per element of y, dx, dw and db (tolerances) */
    size_t y_terms, dx_terms, dw_terms, db_terms;
} case_data;

static cp_tensor make_ws(const tu_conv_ref *ref, tu_ws_mode m, size_t floats)
{
    if (m == WS_EXACT) return tu_tensor_at(NULL, 1, 1, 1, (int64_t)floats, 0, "ws");
    if (m == WS_OFFSET)
        return tu_tensor_at(NULL, 1, 1, 1, (int64_t)floats, ref->ws_offset, "ws");
    cp_tensor t;
    memset(&t, 0, sizeof t);
    return t;
}

/* Random inputs from seed, their reference outputs, and the device tensors
 * (outputs NaN-poisoned) at the case's offset. */
static void case_setup(const tu_conv_ref *ref, const tu_conv_case *c, uint64_t seed,
                       case_data *d)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, seed, 7);
    tu_conv_shape s = {c->n, c->ci, c->h, c->w, c->co, 0, 0};
    int64_t ho, wo;
    ck_assert(ref->transposed ? cp_conv_transpose_out_size(&c->p, c->h, c->w, &ho, &wo)
                              : cp_conv_out_size(&c->p, c->h, c->w, &ho, &wo));
    s.ho = (int)ho;
    s.wo = (int)wo;
    d->s = s;
    d->nx = (size_t)c->n * c->ci * c->h * c->w;
    d->nw = (size_t)c->co * c->ci * c->p.kh * c->p.kw;
    d->ny = (size_t)c->n * c->co * s.ho * s.wo;
    d->x = tu_rand_array(&r, d->nx);
    d->w = tu_rand_array(&r, d->nw);
    d->b = tu_rand_array(&r, (size_t)c->co);
    d->dy = tu_rand_array(&r, d->ny);
    d->gx0 = tu_rand_array(&r, d->nx);
    d->gw0 = tu_rand_array(&r, d->nw);
    d->gb0 = tu_rand_array(&r, (size_t)c->co);
    d->y_ref = tu_dzeros(d->ny);
    d->dx_ref = tu_dzeros(d->nx);
    d->dw_ref = tu_dzeros(d->nw);
    d->db_ref = tu_dzeros((size_t)c->co);
    ref->walk(&c->p, &s, d->x, d->w, c->bias ? d->b : NULL, d->y_ref, NULL, NULL, NULL, NULL);
    ref->walk(&c->p, &s, d->x, d->w, NULL, NULL, d->dy, d->dx_ref, d->dw_ref, d->db_ref);

    /* weights [C_out, C_in, kh, kw], transposed [C_in, C_out, kh, kw] */
    int w0 = ref->transposed ? c->ci : c->co, w1 = ref->transposed ? c->co : c->ci;
    d->tx = tu_tensor_at(d->x, c->n, c->ci, c->h, c->w, c->off, "x");
    d->tw = tu_tensor_at(d->w, w0, w1, c->p.kh, c->p.kw, c->off, "w");
    d->tb = tu_tensor_at(d->b, c->co, 1, 1, 1, c->off, "b");
    d->tdy = tu_tensor_at(d->dy, c->n, c->co, s.ho, s.wo, c->off, "dy");
    d->ty = tu_tensor_at(NULL, c->n, c->co, s.ho, s.wo, c->off, "y");
    size_t wsf = ref->transposed ? cp_conv_transpose2d_workspace_floats(
                                       ctx, &c->p, c->n, c->ci, c->h, c->w, c->co)
                                 : cp_conv2d_workspace_floats(ctx, &c->p, c->n, c->ci, c->h,
                                                              c->w, c->co);
    ck_assert_uint_gt(wsf, 0);
    d->ws = make_ws(ref, c->ws, wsf);
    d->tdx = tu_tensor_at(NULL, c->n, c->ci, c->h, c->w, c->off, "dx");
    d->tdw = tu_tensor_at(NULL, w0, w1, c->p.kh, c->p.kw, c->off, "dw");
    d->tdb = tu_tensor_at(NULL, c->co, 1, 1, 1, c->off, "db");

    /* Terms per output: y at most ci·kh·kw (transposed: ci·ceil(kh/sh)·
     * ceil(kw/sw) <= that), dx co·kh·kw; dw sums over the positions of
     * the column side (conv: y's, transposed: x's), db over y's. */
    d->y_terms = (size_t)c->ci * c->p.kh * c->p.kw;
    d->dx_terms = (size_t)c->co * c->p.kh * c->p.kw;
    d->dw_terms = ref->transposed ? (size_t)c->n * c->h * c->w : (size_t)c->n * s.ho * s.wo;
    d->db_terms = (size_t)c->n * s.ho * s.wo;
}

static void case_free(case_data *d)
{
    free(d->x); free(d->w); free(d->b); free(d->dy); free(d->gx0); free(d->gw0); free(d->gb0);
    free(d->y_ref); free(d->dx_ref); free(d->dw_ref); free(d->db_ref);
    cp_tensor *ts[] = {&d->tx, &d->tw, &d->tb, &d->tdy, &d->ty, &d->ws, &d->tdx, &d->tdw, &d->tdb};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) cp_tensor_free(tu_ctx(), ts[i]);
}

static void check_output(const char *name, const char *what, const char *mode,
                         const cp_tensor *t, const double *want, size_t n, size_t terms)
{
    char label[64];
    snprintf(label, sizeof label, "%s%s", what, mode);
    float *got = tu_download(t);
    tu_assert_close_sum(name, label, got, want, n, terms);
    free(got);
}

/* Backward into dx, dw, db (overwriting or accumulating), then all three
 * against the reference; mode names the run in failures. */
static void check_backward(const tu_conv_ref *ref, const tu_conv_case *c, case_data *d,
                           bool accumulate, const char *mode)
{
    cp_context *ctx = tu_ctx();
    const cp_tensor *wsp = c->ws == WS_NONE ? NULL : &d->ws;
    if (ref->transposed)
        TU_OK(cp_conv_transpose2d_backward(ctx, &c->p, &d->tx, &d->tw, &d->tdy, &d->tdx,
                                           &d->tdw, &d->tdb, accumulate, wsp));
    else
        TU_OK(cp_conv2d_backward(ctx, &c->p, &d->tx, &d->tw, &d->tdy, &d->tdx, &d->tdw,
                                 &d->tdb, accumulate, wsp));
    check_output(c->name, "dx", mode, &d->tdx, d->dx_ref, d->nx, d->dx_terms);
    check_output(c->name, "dw", mode, &d->tdw, d->dw_ref, d->nw, d->dw_terms);
    check_output(c->name, "db", mode, &d->tdb, d->db_ref, (size_t)c->co, d->db_terms);
}

void tu_conv_run_case(const tu_conv_ref *ref, const tu_conv_case *c, uint64_t seed)
{
    cp_context *ctx = tu_ctx();
    case_data d;
    case_setup(ref, c, seed, &d);
    const cp_tensor *wsp = c->ws == WS_NONE ? NULL : &d.ws;
    const cp_tensor *bp = c->bias ? &d.tb : NULL;

    if (ref->transposed)
        TU_OK(cp_conv_transpose2d_forward(ctx, &c->p, &d.tx, &d.tw, bp, &d.ty, wsp));
    else
        TU_OK(cp_conv2d_forward(ctx, &c->p, &d.tx, &d.tw, bp, &d.ty, wsp));
    check_output(c->name, "y", "", &d.ty, d.y_ref, d.ny, d.y_terms);

    /* With ELU fused into the epilogue (the graph's fusion, src/graph/fuse.c):
     * ELU of the same sums, into a fresh NaN-poisoned output. ELU is
     * 1-Lipschitz, so the sum's tolerance holds. */
    cp_tensor tye = tu_tensor_at(NULL, c->n, c->co, d.s.ho, d.s.wo, c->off, "y_elu");
    if (ref->transposed)
        TU_OK(cp_conv_transpose2d_forward_act(ctx, &c->p, &d.tx, &d.tw, bp, CP_FUSED_ELU, &tye,
                                              wsp));
    else
        TU_OK(cp_conv2d_forward_act(ctx, &c->p, &d.tx, &d.tw, bp, CP_FUSED_ELU, &tye, wsp));
    double *ye_ref = tu_dzeros(d.ny);
    for (size_t i = 0; i < d.ny; i++)
        ye_ref[i] = d.y_ref[i] > 0 ? d.y_ref[i] : expm1(d.y_ref[i]);
    check_output(c->name, "elu(y) fused", "", &tye, ye_ref, d.ny, d.y_terms);
    free(ye_ref);
    cp_tensor_free(ctx, &tye);

    /* Overwrite mode into NaN-poisoned gradients. */
    check_backward(ref, c, &d, false, "");

    /* dx of a layer whose input x is an ELU output, with ELU'(x) applied in
     * dx's epilogue (the graph's ELU-backward fusion), into a NaN-poisoned
     * dx: dx_ref · (x > 0 ? 1 : x + 1) (|factor| <= 1: the same tolerance). */
    cp_tensor tdxg = tu_tensor_at(NULL, c->n, c->ci, c->h, c->w, c->off, "dx_elu");
    if (ref->transposed)
        TU_OK(cp_conv_transpose2d_backward_act(ctx, &c->p, &d.tx, &d.tw, &d.tdy, &tdxg, NULL,
                                               NULL, false, CP_FUSED_ELU, wsp));
    else
        TU_OK(cp_conv2d_backward_act(ctx, &c->p, &d.tx, &d.tw, &d.tdy, &tdxg, NULL, NULL, false,
                                     CP_FUSED_ELU, wsp));
    double *dxg_ref = tu_dzeros(d.nx);
    for (size_t i = 0; i < d.nx; i++)
        dxg_ref[i] = d.dx_ref[i] * (d.x[i] > 0 ? 1.0 : d.x[i] + 1.0);
    check_output(c->name, "dx times ELU'(x) fused", "", &tdxg, dxg_ref, d.nx, d.dx_terms);
    free(dxg_ref);
    cp_tensor_free(ctx, &tdxg);

    /* Accumulate mode onto known values. */
    TU_OK(cp_tensor_upload(ctx, &d.tdx, d.gx0));
    TU_OK(cp_tensor_upload(ctx, &d.tdw, d.gw0));
    TU_OK(cp_tensor_upload(ctx, &d.tdb, d.gb0));
    for (size_t i = 0; i < d.nx; i++) d.dx_ref[i] += d.gx0[i];
    for (size_t i = 0; i < d.nw; i++) d.dw_ref[i] += d.gw0[i];
    for (int i = 0; i < c->co; i++) d.db_ref[i] += d.gb0[i];
    check_backward(ref, c, &d, true, " (accumulate)");

    case_free(&d);
}

void tu_conv_run_cases(const tu_conv_ref *ref, const tu_conv_case *cases, size_t count,
                       uint64_t seed0)
{
    for (size_t i = 0; i < count; i++) tu_conv_run_case(ref, &cases[i], seed0 + i);
}

void tu_conv_run_route_group(const tu_conv_ref *ref, const tu_conv_case *cases, size_t count,
                             const tu_conv_group *groups, int n_groups, int i)
{
    size_t next = 0;
    for (int k = 0; k < n_groups; k++) {
        ck_assert_uint_eq(groups[k].first, next);
        next += groups[k].count;
    }
    ck_assert_uint_eq(next, count);
    TU_CONV_ROUTE_OR_SKIP(i % TU_CONV_ROUTES);
    const tu_conv_group *g = &groups[i / TU_CONV_ROUTES];
    tu_conv_run_cases(ref, cases + g->first, g->count, g->seed0);
}

void tu_conv_run_indirect(const tu_conv_ref *ref, const tu_conv_case *cases, size_t count,
                          uint64_t seed0)
{
    tu_set_conv_route(1);
    size_t saved = tu_clblast_min_indirect();
    tu_set_clblast_min_indirect(8);
    tu_conv_run_cases(ref, cases, count, seed0);
    tu_set_clblast_min_indirect(saved);
}

void tu_conv_run_igemm_caps(const tu_conv_ref *ref, const size_t *caps, size_t n_caps,
                            const tu_conv_case *cases, size_t count, uint64_t seed0,
                            const tu_conv_gradcheck_case *gc)
{
    cp_context_set_conv_route(tu_ctx(), CP_CONV_IGEMM);
    for (size_t k = 0; k < n_caps; k++) {
        cp_igemm_wg_cap = caps[k];
        tu_conv_run_cases(ref, cases, count, seed0);
        tu_conv_gradcheck(gc->name, &gc->p, ref->transposed, gc->n, gc->ci, gc->h, gc->w,
                          gc->co, gc->seed);
    }
    cp_igemm_wg_cap = 0;
    cp_context_set_conv_route(tu_ctx(), CP_CONV_AUTO);
}
