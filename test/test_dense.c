/* cp_dense_forward / cp_dense_backward against double-precision CPU loops:
 * x any NCHW tensor flattened per sample, w [out, F], b [out], y [N, out].
 * Shapes: odd sizes, batch 1, the `tiny` preset's bottleneck (128·2·2 -> 256
 * -> 512) and D head (512 -> 1); outputs NaN-poisoned, non-zero offsets,
 * workspace at offset 0 / inside a buffer / none, accumulate = true, and
 * finite-difference checks of every backward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/ops.h"
#include "util/gradcheck.h"
#include "util/op_test_util.h"
#include "util/test_util.h"

/* ------------------------------------------------------------ helpers */

/* ------------------------------------------------------ CPU reference */

static void ref_forward(int n, int f, int out, const float *x, const float *w, const float *b,
                        double *y)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (int k = 0; k < f; k++) s += (double)x[i * f + k] * w[o * f + k];
            y[i * out + o] = s;
        }
}

static void ref_backward(int n, int f, int out, const float *x, const float *w, const float *dy,
                         double *dx, double *dw, double *db)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double g = dy[i * out + o];
            db[o] += g;
            for (int k = 0; k < f; k++) {
                dx[i * f + k] += g * w[o * f + k];
                dw[o * f + k] += g * x[i * f + k];
            }
        }
}

typedef enum { WS_EXACT, WS_OFFSET, WS_NONE } ws_mode;

typedef struct dense_case {
    const char *name;
    int n, c, h, w; /* x as NCHW; F = c·h·w */
    int out;
    size_t off;
    ws_mode ws;
    bool bias;
} dense_case;

static void run_case(const dense_case *c, uint64_t seed)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, seed, 5);
    int f = c->c * c->h * c->w;
    size_t nx = (size_t)c->n * f, nw = (size_t)c->out * f, ny = (size_t)c->n * c->out;
    float *x = tu_rand_array(&r, nx), *w = tu_rand_array(&r, nw), *b = tu_rand_array(&r, (size_t)c->out);
    float *dy = tu_rand_array(&r, ny);
    float *gx0 = tu_rand_array(&r, nx), *gw0 = tu_rand_array(&r, nw), *gb0 = tu_rand_array(&r, (size_t)c->out);
    double *y_ref = tu_dzeros(ny), *dx_ref = tu_dzeros(nx), *dw_ref = tu_dzeros(nw),
           *db_ref = tu_dzeros((size_t)c->out);
    ref_forward(c->n, f, c->out, x, w, c->bias ? b : NULL, y_ref);
    ref_backward(c->n, f, c->out, x, w, dy, dx_ref, dw_ref, db_ref);

    cp_tensor tx = tu_tensor_at(x, c->n, c->c, c->h, c->w, c->off, "x");
    cp_tensor tw = tu_tensor_at(w, c->out, f, 1, 1, c->off, "w");
    cp_tensor tb = tu_tensor_at(b, c->out, 1, 1, 1, c->off, "b");
    cp_tensor tdy = tu_tensor_at(dy, c->n, c->out, 1, 1, c->off, "dy");
    cp_tensor ty = tu_tensor_at(NULL, c->n, c->out, 1, 1, c->off, "y");
    size_t wsf = cp_dense_workspace_floats(ctx, c->n, f, c->out);
    cp_tensor ws;
    memset(&ws, 0, sizeof ws);
    if (c->ws == WS_EXACT) ws = tu_tensor_at(NULL, 1, 1, 1, (int64_t)(wsf ? wsf : 1), 0, "ws");
    if (c->ws == WS_OFFSET) ws = tu_tensor_at(NULL, 1, 1, 1, (int64_t)(wsf ? wsf : 1), 13, "ws");
    const cp_tensor *wsp = c->ws == WS_NONE ? NULL : &ws;

    TU_OK(cp_dense_forward(ctx, &tx, &tw, c->bias ? &tb : NULL, &ty, wsp));
    float *got = tu_download(&ty);
    tu_assert_close_sum(c->name, "y", got, y_ref, ny, (size_t)f);
    free(got);

    cp_tensor tdx = tu_tensor_at(NULL, c->n, c->c, c->h, c->w, c->off, "dx");
    cp_tensor tdw = tu_tensor_at(NULL, c->out, f, 1, 1, c->off, "dw");
    cp_tensor tdb = tu_tensor_at(NULL, c->out, 1, 1, 1, c->off, "db");
    TU_OK(cp_dense_backward(ctx, &tx, &tw, &tdy, &tdx, &tdw, &tdb, false, wsp));
    got = tu_download(&tdx);
    tu_assert_close_sum(c->name, "dx", got, dx_ref, nx, (size_t)c->out);
    free(got);
    got = tu_download(&tdw);
    tu_assert_close_sum(c->name, "dw", got, dw_ref, nw, (size_t)c->n);
    free(got);
    got = tu_download(&tdb);
    tu_assert_close_sum(c->name, "db", got, db_ref, (size_t)c->out, (size_t)c->n);
    free(got);

    TU_OK(cp_tensor_upload(ctx, &tdx, gx0));
    TU_OK(cp_tensor_upload(ctx, &tdw, gw0));
    TU_OK(cp_tensor_upload(ctx, &tdb, gb0));
    for (size_t i = 0; i < nx; i++) dx_ref[i] += gx0[i];
    for (size_t i = 0; i < nw; i++) dw_ref[i] += gw0[i];
    for (int i = 0; i < c->out; i++) db_ref[i] += gb0[i];
    TU_OK(cp_dense_backward(ctx, &tx, &tw, &tdy, &tdx, &tdw, &tdb, true, wsp));
    got = tu_download(&tdx);
    tu_assert_close_sum(c->name, "dx (accumulate)", got, dx_ref, nx, (size_t)c->out);
    free(got);
    got = tu_download(&tdw);
    tu_assert_close_sum(c->name, "dw (accumulate)", got, dw_ref, nw, (size_t)c->n);
    free(got);
    got = tu_download(&tdb);
    tu_assert_close_sum(c->name, "db (accumulate)", got, db_ref, (size_t)c->out, (size_t)c->n);
    free(got);

    /* Only some gradients. */
    TU_OK(cp_dense_backward(ctx, &tx, &tw, &tdy, NULL, NULL, &tdb, false, wsp));
    TU_OK(cp_dense_backward(ctx, &tx, &tw, &tdy, NULL, &tdw, NULL, false, wsp));
    got = tu_download(&tdw);
    for (size_t i = 0; i < nw; i++) dw_ref[i] -= gw0[i];
    tu_assert_close_sum(c->name, "dw only", got, dw_ref, nw, (size_t)c->n);
    free(got);

    free(x); free(w); free(b); free(dy); free(gx0); free(gw0); free(gb0);
    free(y_ref); free(dx_ref); free(dw_ref); free(db_ref);
    cp_tensor *ts[] = {&tx, &tw, &tb, &tdy, &ty, &ws, &tdx, &tdw, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) cp_tensor_free(ctx, ts[i]);
}

START_TEST(test_dense_shapes)
{
    const dense_case cases[] = {
        {"batch 1, 7 -> 5", 1, 7, 1, 1, 5, 0, WS_EXACT, true},
        {"NCHW input 3x3x5 -> 9, offsets", 3, 3, 3, 5, 9, 7, WS_OFFSET, true},
        {"no bias 13 -> 1", 5, 13, 1, 1, 1, 2, WS_NONE, false},
        {"tiny dense1 128x2x2 -> 256", 2, 128, 2, 2, 256, 0, WS_EXACT, true},
        {"tiny dense2 256 -> 512", 2, 256, 1, 1, 512, 1, WS_OFFSET, true},
        {"tiny D head 128x2x2 -> 1", 2, 128, 2, 2, 1, 0, WS_EXACT, true},
        {"base dense1 256x4x4 -> 512, batch 8", 8, 256, 4, 4, 512, 0, WS_EXACT, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 100 + i);
}
END_TEST

START_TEST(test_dense_bad_shapes)
{
    cp_context *ctx = tu_ctx();
    cp_tensor x = tu_tensor_at(NULL, 2, 6, 1, 1, 0, "x"), w = tu_tensor_at(NULL, 4, 5, 1, 1, 0, "w");
    cp_tensor w2 = tu_tensor_at(NULL, 4, 6, 1, 1, 0, "w"), y = tu_tensor_at(NULL, 2, 3, 1, 1, 0, "y");
    cp_tensor y2 = tu_tensor_at(NULL, 1, 8, 1, 1, 0, "y");
    ck_assert_int_eq(cp_dense_forward(ctx, &x, &w, NULL, &y, NULL), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_dense_forward(ctx, &x, &w2, NULL, &y, NULL), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_dense_forward(ctx, &x, &w2, NULL, &y2, NULL), CP_ERR_INVALID_ARGUMENT);
    cp_tensor *ts[] = {&x, &w, &w2, &y, &y2};
    for (size_t i = 0; i < 5; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

typedef struct gc_user {
    cp_tensor tx, tw, tb, ty;
    int which;
} gc_user;

static void gc_forward(void *user, const float *v, float *y)
{
    gc_user *u = user;
    cp_tensor *t = u->which == 0 ? &u->tx : u->which == 1 ? &u->tw : &u->tb;
    TU_OK(cp_tensor_upload(tu_ctx(), t, v));
    TU_OK(cp_dense_forward(tu_ctx(), &u->tx, &u->tw, &u->tb, &u->ty, NULL));
    TU_OK(cp_tensor_download(tu_ctx(), &u->ty, y));
}

START_TEST(test_dense_gradcheck)
{
    cp_context *ctx = tu_ctx();
    cp_rng r;
    cp_rng_seed(&r, 900, 1);
    const int n = 3, f = 10, out = 6;
    size_t nx = (size_t)n * f, nw = (size_t)out * f, ny = (size_t)n * out;
    float *x = tu_rand_array(&r, nx), *w = tu_rand_array(&r, nw), *b = tu_rand_array(&r, (size_t)out);
    float *rr = tu_rand_array(&r, ny);
    gc_user u;
    u.tx = tu_tensor_at(x, n, 2, 5, 1, 1, "x");
    u.tw = tu_tensor_at(w, out, f, 1, 1, 2, "w");
    u.tb = tu_tensor_at(b, out, 1, 1, 1, 3, "b");
    u.ty = tu_tensor_at(NULL, n, out, 1, 1, 4, "y");
    cp_tensor tr = tu_tensor_at(rr, n, out, 1, 1, 0, "r");
    cp_tensor tdx = tu_tensor_at(NULL, n, 2, 5, 1, 0, "dx"), tdw = tu_tensor_at(NULL, out, f, 1, 1, 0, "dw");
    cp_tensor tdb = tu_tensor_at(NULL, out, 1, 1, 1, 0, "db");
    TU_OK(cp_dense_backward(ctx, &u.tx, &u.tw, &tr, &tdx, &tdw, &tdb, false, NULL));
    float *gx = tu_download(&tdx), *gw = tu_download(&tdw), *gb = tu_download(&tdb);
    /* Linear in each of x, w, b: no truncation error, only float32 rounding
     * of y (F = 10 terms, |y| <~ 3): ~1e-7·Σ|r·y| in L over the step 2h,
     * with a 10× margin; h = 0.25, rtol 1e-3 for the float32 gradients. */
    double h = 0.25;
    float y[18];
    u.which = 0;
    gc_forward(&u, x, y);
    double sum_ry = 0;
    for (size_t i = 0; i < ny; i++) sum_ry += fabs((double)rr[i] * y[i]);
    tu_gradcheck_opts o = {.h = h, .atol = 10 * 1e-7 * sum_ry / (2 * h), .rtol = 1e-3,
                           .checks = 1000};
    tu_gradcheck("dense dx", gc_forward, &u, x, nx, ny, rr, gx, &o, &r);
    TU_OK(cp_tensor_upload(ctx, &u.tx, x));
    u.which = 1;
    tu_gradcheck("dense dw", gc_forward, &u, w, nw, ny, rr, gw, &o, &r);
    TU_OK(cp_tensor_upload(ctx, &u.tw, w));
    u.which = 2;
    tu_gradcheck("dense db", gc_forward, &u, b, (size_t)out, ny, rr, gb, &o, &r);
    free(x); free(w); free(b); free(rr); free(gx); free(gw); free(gb);
    cp_tensor *ts[] = {&u.tx, &u.tw, &u.tb, &u.ty, &tr, &tdx, &tdw, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) cp_tensor_free(ctx, ts[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dense");
    TCase *tc = tcase_create("dense");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_dense_shapes);
    tcase_add_test(tc, test_dense_bad_shapes);
    tcase_add_test(tc, test_dense_gradcheck);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
