/* Operator benchmark (see include/clinpaint/bench_ops.h). */
#include "clinpaint/bench_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/layers.h"
#include "clinpaint/model.h"
#include "clinpaint/ops.h"
#include "clinpaint/tensor.h"
#include "bench/bench_internal.h"
#include "backend/opencl/runtime/check.h"

bool cp_bench_ops_preset(const char *name, cp_bench_ops_config *cfg)
{
    cp_model_config mc;
    if (!name || cp_model_config_preset(name, &mc) != CP_OK) return false;
    cfg->image_size = mc.size;
    memcpy(cfg->widths, mc.widths, sizeof cfg->widths);
    cfg->latent = mc.latent;
    return true;
}

/* ------------------------------------------------------ the layer list */

typedef struct layer_list {
    cp_bench_op_result *v;
    int count, cap;
} layer_list;

static cp_status add_layer(layer_list *l, cp_bench_layer_kind kind, int64_t c_in, int64_t h,
                           int64_t w, int64_t c_out, const char *who)
{
    for (int i = 0; i < l->count; i++) {
        cp_bench_op_result *r = &l->v[i];
        if (r->kind == kind && r->c_in == c_in && r->h == h && r->w == w && r->c_out == c_out) {
            size_t len = strlen(r->used_by);
            snprintf(r->used_by + len, sizeof r->used_by - len, " %s", who);
            r->uses++;
            return CP_OK;
        }
    }
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 32;
        cp_bench_op_result *g = realloc(l->v, (size_t)cap * sizeof *g);
        if (!g) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "benchmark layer list");
        l->v = g;
        l->cap = cap;
    }
    cp_bench_op_result *r = &l->v[l->count++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->c_in = c_in;
    r->h = h;
    r->w = w;
    r->c_out = c_out;
    r->uses = 1;
    snprintf(r->used_by, sizeof r->used_by, "%s", who);
    static const char *names[] = {"conv3", "conv2", "up2", "dense"};
    if (kind == CP_BENCH_DENSE)
        snprintf(r->shape, sizeof r->shape, "dense %lld->%lld", (long long)c_in,
                 (long long)c_out);
    else
        snprintf(r->shape, sizeof r->shape, "%s %lld->%lld @%lldx%lld", names[kind],
                 (long long)c_in, (long long)c_out, (long long)h, (long long)w);
    return CP_OK;
}

/* Every layer of the model's layer table (G, then D), equal shapes merged. */
static cp_status build_layers(const cp_bench_ops_config *c, layer_list *l)
{
    cp_model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.size = c->image_size;
    memcpy(mc.widths, c->widths, sizeof mc.widths);
    mc.latent = c->latent;
    cp_layer_table t;
    CP_TRY(cp_model_layers(&mc, &t));
    static const cp_bench_layer_kind kinds[] = {
        [CP_LAYER_CONV3] = CP_BENCH_CONV3, [CP_LAYER_CONV2] = CP_BENCH_CONV2,
        [CP_LAYER_UP2] = CP_BENCH_UP2, [CP_LAYER_DENSE] = CP_BENCH_DENSE};
    for (int i = 0; i < t.count; i++) {
        const cp_layer *y = &t.layers[i];
        CP_TRY(add_layer(l, kinds[y->kind], y->c_in, y->hw, y->hw, y->c_out, y->name));
    }
    return CP_OK;
}

/* ------------------------------------------------------------- timing */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Warm-up, then runs until min_s (and >= 3 runs); median in ms. */
static cp_status time_it(cp_context *ctx, cp_bench_run_fn fn, void *u, double min_s, double *ms,
                         int *runs, double spread[4])
{
    CP_TRY(fn(ctx, u));
    CP_TRY(cp_context_finish(ctx));
    int cap = 64, n = 0;
    double *t = malloc((size_t)cap * sizeof *t), total = 0;
    if (!t) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "benchmark timings");
    cp_status st = CP_OK;
    while (total < min_s || n < 3) {
        double t0 = cp_bench_now_s();
        if ((st = fn(ctx, u)) != CP_OK || (st = cp_context_finish(ctx)) != CP_OK) break;
        double dt = cp_bench_now_s() - t0;
        if (n == cap) {
            double *g = realloc(t, (size_t)cap * 2 * sizeof *g);
            if (!g) {
                st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "benchmark timings");
                break;
            }
            t = g;
            cap *= 2;
        }
        t[n++] = dt;
        total += dt;
    }
    if (st == CP_OK) {
        qsort(t, (size_t)n, sizeof *t, cmp_double);
        *ms = 1e3 * (n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]));
        *runs = n;
        if (spread) {
            spread[0] = 1e3 * t[0];
            spread[1] = 1e3 * t[n / 4];
            spread[2] = 1e3 * t[(3 * n) / 4 < n ? (3 * n) / 4 : n - 1];
            spread[3] = 1e3 * t[n - 1];
        }
    }
    free(t);
    return st;
}

/* One layer's tensors. */
typedef struct layer_bufs {
    const cp_bench_op_result *r;
    cp_conv_params p;
    cp_tensor x, w, b, y, dy, dx, dw, db, ws;
} layer_bufs;

static cp_status run_fwd(cp_context *ctx, void *u)
{
    layer_bufs *L = u;
    switch (L->r->kind) {
    case CP_BENCH_CONV3:
    case CP_BENCH_CONV2: return cp_conv2d_forward(ctx, &L->p, &L->x, &L->w, &L->b, &L->y, &L->ws);
    case CP_BENCH_UP2:
        return cp_conv_transpose2d_forward(ctx, &L->p, &L->x, &L->w, &L->b, &L->y, &L->ws);
    default: return cp_dense_forward(ctx, &L->x, &L->w, &L->b, &L->y, &L->ws);
    }
}

static cp_status run_bwd(cp_context *ctx, void *u)
{
    layer_bufs *L = u;
    switch (L->r->kind) {
    case CP_BENCH_CONV3:
    case CP_BENCH_CONV2:
        return cp_conv2d_backward(ctx, &L->p, &L->x, &L->w, &L->dy, &L->dx, &L->dw, &L->db,
                                  false, &L->ws);
    case CP_BENCH_UP2:
        return cp_conv_transpose2d_backward(ctx, &L->p, &L->x, &L->w, &L->dy, &L->dx, &L->dw,
                                            &L->db, false, &L->ws);
    default:
        return cp_dense_backward(ctx, &L->x, &L->w, &L->dy, &L->dx, &L->dw, &L->db, false,
                                 &L->ws);
    }
}

static cp_status make(cp_context *ctx, int64_t n, int64_t c, int64_t h, int64_t w, float v,
                      const char *name, cp_tensor *t)
{
    CP_TRY(cp_tensor_create4(ctx, n, c, h, w, name, t));
    return cp_tensor_fill(ctx, t, v);
}

static cp_status bench_layer(cp_context *ctx, const cp_bench_ops_config *cfg,
                             cp_bench_op_result *r, double min_s)
{
    layer_bufs L;
    memset(&L, 0, sizeof L);
    L.r = r;
    int64_t n = cfg->batch;
    r->n = n;
    size_t wsf = 0;
    double macs = 0;
    switch (r->kind) {
    case CP_BENCH_CONV3:
    case CP_BENCH_CONV2:
        L.p = r->kind == CP_BENCH_CONV3 ? cp_conv3_params() : cp_conv2_params();
        cp_conv_out_size(&L.p, r->h, r->w, &r->ho, &r->wo);
        wsf = cp_conv2d_workspace_floats(ctx, &L.p, n, r->c_in, r->h, r->w, r->c_out);
        macs = (double)n * (double)(r->c_out * r->ho * r->wo) *
               (double)(r->c_in * L.p.kh * L.p.kw);
        break;
    case CP_BENCH_UP2:
        L.p = cp_up2_params();
        cp_conv_transpose_out_size(&L.p, r->h, r->w, &r->ho, &r->wo);
        wsf = cp_conv_transpose2d_workspace_floats(ctx, &L.p, n, r->c_in, r->h, r->w,
                                                   r->c_out);
        macs = (double)n * (double)(r->c_in * r->h * r->w) * (double)(r->c_out * L.p.kh * L.p.kw);
        break;
    default:
        r->ho = r->wo = 1;
        wsf = cp_dense_workspace_floats(ctx, n, r->c_in, r->c_out);
        macs = (double)n * (double)r->c_in * (double)r->c_out;
        break;
    }
    r->workspace_bytes = (uint64_t)wsf * sizeof(float);
    r->fwd_gflop = 2e-9 * macs;
    r->bwd_gflop = 4e-9 * macs;
    int64_t kh = r->kind == CP_BENCH_DENSE ? 1 : L.p.kh, kw = r->kind == CP_BENCH_DENSE ? 1 : L.p.kw;
    int64_t w0 = r->kind == CP_BENCH_UP2 ? r->c_in : r->c_out;
    int64_t w1 = r->kind == CP_BENCH_UP2 ? r->c_out : r->c_in;
    cp_status st;
    /* Small non-zero values: no denormals, no overflow. */
    if ((st = make(ctx, n, r->c_in, r->h, r->w, 0.5f, "x", &L.x)) != CP_OK ||
        (st = make(ctx, w0, w1, kh, kw, 0.01f, "w", &L.w)) != CP_OK ||
        (st = make(ctx, r->c_out, 1, 1, 1, 0.1f, "b", &L.b)) != CP_OK ||
        (st = make(ctx, n, r->c_out, r->ho, r->wo, 0.0f, "y", &L.y)) != CP_OK ||
        (st = make(ctx, n, r->c_out, r->ho, r->wo, 0.01f, "dy", &L.dy)) != CP_OK ||
        (st = make(ctx, n, r->c_in, r->h, r->w, 0.0f, "dx", &L.dx)) != CP_OK ||
        (st = make(ctx, w0, w1, kh, kw, 0.0f, "dw", &L.dw)) != CP_OK ||
        (st = make(ctx, r->c_out, 1, 1, 1, 0.0f, "db", &L.db)) != CP_OK ||
        (st = make(ctx, 1, 1, 1, (int64_t)(wsf ? wsf : 1), 0.0f, "workspace", &L.ws)) != CP_OK)
        goto done;
    if ((st = time_it(ctx, run_fwd, &L, min_s, &r->fwd_ms, &r->fwd_runs, r->fwd_spread)) != CP_OK) goto done;
    if ((st = time_it(ctx, run_bwd, &L, min_s, &r->bwd_ms, &r->bwd_runs, r->bwd_spread)) != CP_OK) goto done;
    r->fwd_gflops = r->fwd_ms > 0 ? r->fwd_gflop / (r->fwd_ms * 1e-3) : 0;
    r->bwd_gflops = r->bwd_ms > 0 ? r->bwd_gflop / (r->bwd_ms * 1e-3) : 0;
done:;
    cp_tensor *ts[] = {&L.x, &L.w, &L.b, &L.y, &L.dy, &L.dx, &L.dw, &L.db, &L.ws};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) cp_tensor_free(ctx, ts[i]);
    return st;
}

static cp_status bench_sgemm(cp_context *ctx, int n, double min_s, double *ms, double *gflops)
{
    cp_tensor a, b, c, ws;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    memset(&ws, 0, sizeof ws);
    cp_bench_gemm_run s;
    size_t nn = (size_t)n;
    s.g = (cp_gemm_args){.m = nn, .n = nn, .k = nn, .alpha = 1.0f, .beta = 0.0f,
                         .lda = nn, .ldb = nn, .ldc = nn};
    int runs;
    cp_status st;
    if ((st = make(ctx, 1, 1, n, n, 0.5f, "A", &a)) != CP_OK ||
        (st = make(ctx, 1, 1, n, n, 0.25f, "B", &b)) != CP_OK ||
        (st = make(ctx, 1, 1, n, n, 0.0f, "C", &c)) != CP_OK)
        goto done;
    s.g.a = a.buf;
    s.g.b = b.buf;
    s.g.c = c.buf;
    size_t wsf = cp_gemm_workspace_floats(ctx, &s.g);
    if ((st = make(ctx, 1, 1, 1, (int64_t)(wsf ? wsf : 1), 0.0f, "ws", &ws)) != CP_OK) goto done;
    s.ws = ws.buf;
    if ((st = time_it(ctx, cp_bench_run_gemm, &s, min_s, ms, &runs, NULL)) != CP_OK) goto done;
    *gflops = 2e-9 * (double)nn * (double)nn * (double)nn / (*ms * 1e-3);
done:
    cp_tensor_free(ctx, &a);
    cp_tensor_free(ctx, &b);
    cp_tensor_free(ctx, &c);
    cp_tensor_free(ctx, &ws);
    return st;
}

cp_status cp_bench_ops(cp_context *ctx, const cp_bench_ops_config *cfg,
                       cp_bench_ops_report *out)
{
    memset(out, 0, sizeof *out);
    if (!cfg || cfg->batch < 1 || cfg->image_size < 32 || cfg->image_size % 32 != 0 ||
        cfg->latent < 1)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_bench_ops: need batch >= 1, image size a multiple of 32 "
                            "(>= 32) and latent >= 1");
    for (int i = 0; i < 6; i++)
        if (cfg->widths[i] < 1)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_bench_ops: width w%d < 1", i + 1);
    double t0 = cp_bench_now_s();
    double min_s = cfg->min_seconds > 0 ? cfg->min_seconds : 0.3;
    out->sgemm_size = cfg->sgemm_size > 0 ? cfg->sgemm_size : 1024;
    snprintf(out->device, sizeof out->device, "%s", cp_context_device(ctx)->name);
    layer_list l = {0};
    cp_status st = build_layers(cfg, &l);
    char line[512];
    if (st == CP_OK) {
        st = bench_sgemm(ctx, out->sgemm_size, min_s, &out->sgemm_ms, &out->sgemm_gflops);
        if (st == CP_OK && cfg->progress) {
            snprintf(line, sizeof line, "sgemm %d^3: %.2f ms, %.1f GFLOP/s", out->sgemm_size,
                     out->sgemm_ms, out->sgemm_gflops);
            cfg->progress(cfg->progress_user, line);
        }
    }
    for (int i = 0; st == CP_OK && i < l.count; i++) {
        cp_bench_op_result *r = &l.v[i];
        st = bench_layer(ctx, cfg, r, min_s);
        if (st == CP_OK) {
            out->total_fwd_ms += r->uses * r->fwd_ms;
            out->total_bwd_ms += r->uses * r->bwd_ms;
            if (cfg->progress) {
                snprintf(line, sizeof line,
                         "%-28s fwd %9.3f ms %7.2f GFLOP/s  bwd %9.3f ms %7.2f GFLOP/s",
                         r->shape, r->fwd_ms, r->fwd_gflops, r->bwd_ms, r->bwd_gflops);
                cfg->progress(cfg->progress_user, line);
            }
        }
    }
    if (st != CP_OK) {
        free(l.v);
        return st;
    }
    out->ops = l.v;
    out->count = l.count;
    out->seconds = cp_bench_now_s() - t0;
    return CP_OK;
}

void cp_bench_ops_report_free(cp_bench_ops_report *r)
{
    if (!r) return;
    free(r->ops);
    memset(r, 0, sizeof *r);
}
