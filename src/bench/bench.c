/* Device benchmark (see include/clinpaint/bench.h). */
#include "clinpaint/bench.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/model.h"
#include "clinpaint/ops.h"
#include "clinpaint/tensor.h"
#include "clinpaint/train_step.h"
#include "clinpaint/tune.h"
#include "bench/bench_internal.h"
#include "graph/op_info.h"
#include "backend/opencl/runtime/check.h"

static void say(const cp_bench_config *c, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void say(const cp_bench_config *c, const char *fmt, ...)
{
    if (!c->progress) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->progress(c->progress_user, buf);
}

cp_bench_config cp_bench_defaults(void)
{
    cp_bench_config c;
    memset(&c, 0, sizeof c);
    c.preset = "tiny";
    c.batches[0] = 8;
    c.batch_count = 1;
    c.seconds_per_figure = 1.0;
    c.min_runs = 3;
    c.gemm_sizes[0] = 512;
    c.gemm_sizes[1] = 1024;
    c.gemm_sizes[2] = 2048;
    c.infer_batches[0] = 1;
    c.infer_batches[1] = 64;
    return c;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

cp_bench_stat cp_bench_stat_of(double *t, int n)
{
    cp_bench_stat s;
    memset(&s, 0, sizeof s);
    if (n <= 0) return s;
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    s.median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    s.min = t[0];
    s.max = t[n - 1];
    s.q1 = t[n / 4];
    s.q3 = t[(3 * n) / 4 < n ? (3 * n) / 4 : n - 1];
    s.runs = n;
    return s;
}

/* ---------------------------------------------------- calibrated timing */

/* One warm-up run, then a probe run to calibrate, then enough runs for about
 * `seconds` (at least min_runs, at most 10000). Each run ends with clFinish
 * (or a host read inside fn). Samples in ms. */
static cp_status time_calibrated(cp_context *ctx, cp_bench_run_fn fn, void *u, double seconds,
                                 int min_runs, cp_bench_stat *out)
{
    CP_TRY(fn(ctx, u));
    CP_TRY(cp_context_finish(ctx));
    double t0 = cp_bench_now_s();
    CP_TRY(fn(ctx, u));
    CP_TRY(cp_context_finish(ctx));
    double probe = cp_bench_now_s() - t0;
    int n = probe > 0 ? (int)ceil(seconds / probe) : min_runs;
    if (n < min_runs) n = min_runs;
    if (n > 10000) n = 10000;
    double *t = malloc((size_t)n * sizeof *t);
    if (!t) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "benchmark timings");
    cp_status st = CP_OK;
    for (int i = 0; i < n; i++) {
        double a = cp_bench_now_s();
        if ((st = fn(ctx, u)) != CP_OK || (st = cp_context_finish(ctx)) != CP_OK) break;
        t[i] = 1e3 * (cp_bench_now_s() - a);
    }
    if (st == CP_OK) *out = cp_bench_stat_of(t, n);
    free(t);
    return st;
}

/* ------------------------------------------------------------ ceilings */

static cp_status bench_gemm(cp_context *ctx, const cp_bench_config *c, int n, cp_bench_gemm *out)
{
    cp_tensor a = {0}, b = {0}, cm = {0}, ws = {0};
    cp_bench_gemm_run s;
    size_t nn = (size_t)n;
    s.g = (cp_gemm_args){.m = nn, .n = nn, .k = nn, .alpha = 1.0f, .beta = 0.0f,
                         .lda = nn, .ldb = nn, .ldc = nn};
    s.ws = NULL;
    cp_status st;
    if ((st = cp_tensor_create4(ctx, 1, 1, n, n, "A", &a)) != CP_OK ||
        (st = cp_tensor_fill(ctx, &a, 0.5f)) != CP_OK ||
        (st = cp_tensor_create4(ctx, 1, 1, n, n, "B", &b)) != CP_OK ||
        (st = cp_tensor_fill(ctx, &b, 0.25f)) != CP_OK ||
        (st = cp_tensor_create4(ctx, 1, 1, n, n, "C", &cm)) != CP_OK)
        goto done;
    s.g.a = a.buf;
    s.g.b = b.buf;
    s.g.c = cm.buf;
    size_t wsf = cp_gemm_workspace_floats(ctx, &s.g);
    if (wsf) {
        if ((st = cp_tensor_create4(ctx, 1, 1, 1, (int64_t)wsf, "ws", &ws)) != CP_OK) goto done;
        s.ws = ws.buf;
    }
    out->n = n;
    cp_gemm_route rt = cp_gemm_route_for(ctx, &s.g);
    if (rt.backend == CP_GEMM_CLBLAST) {
        snprintf(out->route, sizeof out->route, "clblast");
    } else {
        static const char *const kn[] = {"rowvec", "dot", "local"};
        snprintf(out->route, sizeof out->route, "own %s tm%d tn%d vw%d l%dx%d tk%d",
                 rt.kernel >= 0 && rt.kernel <= 2 ? kn[rt.kernel] : "?", rt.tm, rt.tn, rt.vw,
                 rt.lx, rt.ly, rt.tk);
    }
    st = time_calibrated(ctx, cp_bench_run_gemm, &s, c->seconds_per_figure, c->min_runs, &out->ms);
    if (st == CP_OK) out->gflops = 2e-9 * (double)nn * (double)nn * (double)nn / (out->ms.median * 1e-3);
done:
    cp_tensor_free(ctx, &a);
    cp_tensor_free(ctx, &b);
    cp_tensor_free(ctx, &cm);
    cp_tensor_free(ctx, &ws);
    return st;
}

typedef struct copy_run {
    cl_mem src, dst;
    cl_uint n;
} copy_run;

static cp_status run_copy(cp_context *ctx, void *u)
{
    copy_run *r = u;
    cl_kernel k;
    CP_TRY(cp_kernel_get(ctx, "util.cl", "", "copy_f32", &k));
    cl_ulong zero = 0;
    CP_CL_CHECK(clSetKernelArg(k, 0, sizeof r->src, &r->src));
    CP_CL_CHECK(clSetKernelArg(k, 1, sizeof zero, &zero));
    CP_CL_CHECK(clSetKernelArg(k, 2, sizeof r->dst, &r->dst));
    CP_CL_CHECK(clSetKernelArg(k, 3, sizeof zero, &zero));
    CP_CL_CHECK(clSetKernelArg(k, 4, sizeof r->n, &r->n));
    return cp_enqueue_1d(ctx, k, r->n, 256, NULL);
}

static cp_status bench_bandwidth(cp_context *ctx, const cp_bench_config *c, cp_bench_result *out)
{
    uint64_t bytes = c->bandwidth_bytes ? c->bandwidth_bytes : (64ull << 20);
    const cp_device_info *d = cp_context_device(ctx);
    if (d->max_alloc_bytes && bytes > d->max_alloc_bytes / 2) bytes = d->max_alloc_bytes / 2;
    if (bytes > (1ull << 32)) bytes = 1ull << 32;
    copy_run r;
    r.n = (cl_uint)(bytes / sizeof(float));
    r.src = r.dst = NULL;
    cp_status st;
    if ((st = cp_buffer_alloc(ctx, (size_t)r.n * sizeof(float), &r.src)) != CP_OK ||
        (st = cp_buffer_alloc(ctx, (size_t)r.n * sizeof(float), &r.dst)) != CP_OK ||
        (st = cp_buffer_fill(ctx, r.src, 0, r.n, 1.0f)) != CP_OK)
        goto done;
    st = time_calibrated(ctx, run_copy, &r, c->seconds_per_figure, c->min_runs, &out->bandwidth_ms);
    out->bandwidth_bytes = 2ull * r.n * sizeof(float);
    if (st == CP_OK)
        out->bandwidth_gbs = 1e-9 * (double)out->bandwidth_bytes / (out->bandwidth_ms.median * 1e-3);
done:
    if (r.src) cp_buffer_free(ctx, r.src);
    if (r.dst) cp_buffer_free(ctx, r.dst);
    return st;
}

/* --------------------------------------------------------- layer types */

static void add_stat(cp_bench_stat *s, double median, const double spread[4], int uses, int runs)
{
    s->median += uses * median;
    s->min += uses * spread[0];
    s->q1 += uses * spread[1];
    s->q3 += uses * spread[2];
    s->max += uses * spread[3];
    s->runs = s->runs == 0 || runs < s->runs ? runs : s->runs;
}

static void verdict(cp_bench_layer_type *t, double ridge)
{
    t->intensity = t->bytes > 0 ? 1e9 * (t->fwd_gflop + t->bwd_gflop) / t->bytes : 0;
    t->memory_bound = t->intensity < ridge;
}

static cp_status bench_layers(cp_context *ctx, const cp_bench_config *c, int batch,
                              cp_bench_result *out)
{
    cp_bench_ops_config oc;
    memset(&oc, 0, sizeof oc);
    if (!cp_bench_ops_preset(c->preset, &oc))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "unknown preset '%s'", c->preset);
    oc.batch = batch;
    /* About a second per layer type: split over its shapes (~6 each) and
     * two directions. */
    oc.min_seconds = c->seconds_per_figure / 8.0;
    oc.sgemm_size = 256; /* unused here: the ceilings come from bench_gemm */
    oc.progress = c->progress;
    oc.progress_user = c->progress_user;
    cp_bench_ops_report rep;
    cp_status st;
    /* A layer's buffers (im2col workspace above all) may not fit one device
     * allocation at a large batch: halve the batch until they do, and say so. */
    while ((st = cp_bench_ops(ctx, &oc, &rep)) == CP_ERR_OUT_OF_DEVICE_MEMORY && oc.batch > 1) {
        oc.batch /= 2;
        say(c, "layers: %s; timing the layers at batch %d instead", cp_last_error(), oc.batch);
    }
    if (st != CP_OK) return st;
    out->layers_batch = oc.batch;
    static const char *names[4] = {"conv3", "conv2", "up2", "dense"};
    for (int k = 0; k < 4; k++) {
        cp_bench_layer_type *t = &out->layers[k];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", names[k]);
        for (int i = 0; i < rep.count; i++) {
            const cp_bench_op_result *r = &rep.ops[i];
            if ((int)r->kind != k) continue;
            t->shapes++;
            t->uses += r->uses;
            add_stat(&t->fwd_ms, r->fwd_ms, r->fwd_spread, r->uses, r->fwd_runs);
            add_stat(&t->bwd_ms, r->bwd_ms, r->bwd_spread, r->uses, r->bwd_runs);
            t->fwd_gflop += r->uses * r->fwd_gflop;
            t->bwd_gflop += r->uses * r->bwd_gflop;
            int64_t kk = r->kind == CP_BENCH_CONV3 ? 9 : r->kind == CP_BENCH_DENSE ? 1 : 4;
            double x = (double)(r->n * r->c_in * r->h * r->w);
            double y = (double)(r->n * r->c_out * r->ho * r->wo);
            double w = (double)(r->c_in * r->c_out * kk);
            /* fwd reads x, w, writes y; bwd reads x, w, dy, writes dx, dw. */
            t->bytes += r->uses * 4.0 * ((x + w + y) + (2 * x + 2 * w + y));
        }
        t->fwd_gflops = t->fwd_ms.median > 0 ? t->fwd_gflop / (t->fwd_ms.median * 1e-3) : 0;
        t->bwd_gflops = t->bwd_ms.median > 0 ? t->bwd_gflop / (t->bwd_ms.median * 1e-3) : 0;
        double ceil_g = out->gemm_ceiling_gflops;
        t->fwd_share = ceil_g > 0 ? t->fwd_gflops / ceil_g : 0;
        t->bwd_share = ceil_g > 0 ? t->bwd_gflops / ceil_g : 0;
        verdict(t, out->ridge_flop_per_byte);
    }
    out->layer_count = 4;
    cp_bench_ops_report_free(&rep);
    return CP_OK;
}

/* The kind of work of a profile row's op (unknown names: element-wise). */
static cp_op_info row_info(const char *op)
{
    cp_op_info i = {CP_OP_CLASS_ELEMENTWISE, false};
    cp_op_info_named(op, &i);
    return i;
}

/* ----------------------------------------------------- training / infer */

typedef struct iter_run {
    cp_model *model;
    cp_train_graph *tg;
    float *hx, *hm;
} iter_run;

/* The trainer's step: upload the batch, run, read the 6 logged scalars. */
static cp_status run_iter(cp_context *ctx, void *u)
{
    iter_run *r = u;
    cp_train_scalars s;
    return cp_train_step(r->model, r->tg, r->hx, r->hm, NULL, &s);
}

void cp_bench_fill_batch(float *x, float *m, int batch, int s)
{
    size_t px = (size_t)s * (size_t)s;
    uint32_t h = 12345u;
    for (size_t i = 0; i < (size_t)batch * 3 * px; i++) {
        h = h * 1664525u + 1013904223u;
        x[i] = (float)(h >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    }
    for (int n = 0; n < batch; n++)
        for (int yy = 0; yy < s; yy++)
            for (int xx = 0; xx < s; xx++) /* centre square hole, MODEL.md's default mask */
                m[(size_t)n * px + (size_t)yy * s + xx] =
                    (yy >= s / 4 && yy < 3 * s / 4 && xx >= s / 4 && xx < 3 * s / 4) ? 1.0f : 0.0f;
}

static cp_status bench_iteration(cp_context *ctx, const cp_bench_config *c, cp_model *model,
                                 int batch, cp_bench_iteration *it, cp_bench_layer_type *ew,
                                 double bw_gbs, double ridge)
{
    memset(it, 0, sizeof *it);
    it->batch = batch;
    int s = model->cfg.size;
    cp_train_options o = cp_train_defaults();
    cp_train_graph tg;
    memset(&tg, 0, sizeof tg);
    iter_run r;
    memset(&r, 0, sizeof r);
    r.model = model;
    r.tg = &tg;
    uint64_t before = cp_context_bytes_in_use(ctx);
    cp_context_reset_peak(ctx);
    cp_status st = cp_model_build_train(model, batch, &o, &tg);
    cp_plan_options po = cp_plan_defaults();
    if (st == CP_OK) st = cp_graph_plan(tg.graph, &po);
    r.hx = malloc((size_t)batch * 3 * s * s * sizeof(float));
    r.hm = malloc((size_t)batch * s * s * sizeof(float));
    if (st == CP_OK && (!r.hx || !r.hm)) st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "batch");
    if (st == CP_OK) {
        cp_bench_fill_batch(r.hx, r.hm, batch, s);
        it->arena_bytes = cp_graph_arena_bytes(tg.graph);
        it->model_bytes = cp_model_bytes(model);
        (void)before;
        st = time_calibrated(ctx, run_iter, &r, c->seconds_per_figure * 2, c->min_runs, &it->ms);
    }
    if (st == CP_OK) {
        it->images_per_s = it->ms.median > 0 ? batch / (it->ms.median * 1e-3) : 0;
        it->peak_bytes = cp_context_peak_bytes(ctx);
    }
    /* Profiled runs: idle share, and the element-wise group. */
    int pruns = c->min_runs < 3 ? 1 : 3;
    double idle[3], wall[3], busy[3], ewf[3], ewb[3];
    int ew_nodes = 0;
    double ew_bytes = 0;
    for (int k = 0; st == CP_OK && k < pruns; k++) {
        cp_graph_profile p;
        cp_train_step_options so = {.profile = &p};
        st = cp_train_step(model, &tg, r.hx, NULL, &so, NULL);
        if (st != CP_OK) break;
        idle[k] = p.idle_share;
        wall[k] = p.wall_ms;
        busy[k] = p.busy_ms;
        ewf[k] = ewb[k] = 0;
        for (int i = 0; i < p.op_count; i++) {
            cp_op_info info = row_info(p.ops[i].op);
            if (info.op_class == CP_OP_CLASS_GEMM) continue;
            if (info.backward)
                ewb[k] += p.ops[i].ms;
            else
                ewf[k] += p.ops[i].ms;
        }
    }
    if (st == CP_OK) {
        for (int i = 0; i < cp_graph_node_count(tg.graph); i++) {
            if (cp_graph_node_info(tg.graph, i).op_class != CP_OP_CLASS_ELEMENTWISE) continue;
            ew_nodes++;
            ew_bytes += cp_graph_node_bytes(tg.graph, i);
        }
        cp_bench_stat si = cp_bench_stat_of(idle, pruns), sw = cp_bench_stat_of(wall, pruns),
                      sb = cp_bench_stat_of(busy, pruns);
        it->idle_share = si.median;
        it->profiled_wall_ms = sw.median;
        it->profiled_busy_ms = sb.median;
        if (ew) {
            memset(ew, 0, sizeof *ew);
            snprintf(ew->name, sizeof ew->name, "elementwise");
            ew->uses = ew_nodes;
            ew->fwd_ms = cp_bench_stat_of(ewf, pruns);
            ew->bwd_ms = cp_bench_stat_of(ewb, pruns);
            ew->bytes = ew_bytes;
            double t = (ew->fwd_ms.median + ew->bwd_ms.median) * 1e-3;
            ew->gbs = t > 0 ? 1e-9 * ew_bytes / t : 0;
            ew->fwd_share = ew->bwd_share = bw_gbs > 0 ? ew->gbs / bw_gbs : 0;
            ew->intensity = 0; /* a few flop per element at most: far below any ridge */
            ew->memory_bound = true;
            (void)ridge;
        }
    }
    free(r.hx);
    free(r.hm);
    cp_train_graph_free(&tg);
    return st;
}

typedef struct infer_run {
    cp_infer_graph *ig;
    cp_tensor ty;
    float *hy;
} infer_run;

static cp_status run_infer(cp_context *ctx, void *u)
{
    infer_run *r = u;
    CP_TRY(cp_graph_run(r->ig->graph));
    return cp_tensor_download(ctx, &r->ty, r->hy); /* the images, as a user gets them */
}

static cp_status bench_infer(cp_context *ctx, const cp_bench_config *c, cp_model *model, int batch,
                             cp_bench_inference *out)
{
    memset(out, 0, sizeof *out);
    out->batch = batch;
    int s = model->cfg.size;
    cp_infer_graph ig;
    memset(&ig, 0, sizeof ig);
    infer_run r;
    memset(&r, 0, sizeof r);
    r.ig = &ig;
    float *hx = malloc((size_t)batch * 3 * s * s * sizeof(float));
    float *hm = malloc((size_t)batch * s * s * sizeof(float));
    r.hy = malloc((size_t)batch * 3 * s * s * sizeof(float));
    cp_status st = hx && hm && r.hy ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "batch");
    if (st == CP_OK) st = cp_model_build_infer(model, batch, false, 0.1f, &ig);
    cp_plan_options po = cp_plan_defaults();
    if (st == CP_OK) st = cp_graph_plan(ig.graph, &po);
    cp_tensor tx, tm;
    if (st == CP_OK) st = cp_graph_tensor(ig.graph, ig.x, &tx);
    if (st == CP_OK) st = cp_graph_tensor(ig.graph, ig.mask, &tm);
    if (st == CP_OK) st = cp_graph_tensor(ig.graph, ig.y, &r.ty);
    if (st == CP_OK) {
        cp_bench_fill_batch(hx, hm, batch, s);
        st = cp_tensor_upload(ctx, &tx, hx);
    }
    if (st == CP_OK) st = cp_tensor_upload(ctx, &tm, hm);
    if (st == CP_OK) {
        out->arena_bytes = cp_graph_arena_bytes(ig.graph);
        st = time_calibrated(ctx, run_infer, &r, c->seconds_per_figure, c->min_runs, &out->ms);
    }
    if (st == CP_OK) out->images_per_s = out->ms.median > 0 ? batch / (out->ms.median * 1e-3) : 0;
    free(hx);
    free(hm);
    free(r.hy);
    cp_infer_graph_free(&ig);
    return st;
}

/* ------------------------------------------------------------- driver */

cp_status cp_bench_run(cp_context *ctx, const cp_bench_config *cfg, cp_bench_result *out)
{
    memset(out, 0, sizeof *out);
    cp_bench_config c = *cfg;
    if (c.seconds_per_figure <= 0) c.seconds_per_figure = 1.0;
    if (c.min_runs <= 0) c.min_runs = 3;
    if (c.batch_count < 1 || c.batch_count > CP_BENCH_MAX_BATCHES)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "bench: 1 to %d batches", CP_BENCH_MAX_BATCHES);
    for (int i = 0; i < c.batch_count; i++)
        if (c.batches[i] < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "bench: batch < 1");
    cp_model_config mc;
    CP_TRY(cp_model_config_preset(c.preset, &mc));
    double t0 = cp_bench_now_s();
    out->device = *cp_context_device(ctx);
    snprintf(out->preset, sizeof out->preset, "%s", c.preset);
    out->image_size = mc.size;
    snprintf(out->gemm_route, sizeof out->gemm_route,
             "cp_gemm routing (clinpaint/tune.h): the device's tuning file if applied, else "
             "own kernels on CPUs, CLBlast elsewhere; per size below");

    for (int i = 0; i < CP_BENCH_GEMM_SIZES; i++) {
        if (c.gemm_sizes[i] <= 0) continue;
        cp_bench_gemm *g = &out->gemm[out->gemm_count];
        CP_TRY(bench_gemm(ctx, &c, c.gemm_sizes[i], g));
        out->gemm_count++;
        if (g->gflops > out->gemm_ceiling_gflops) out->gemm_ceiling_gflops = g->gflops;
        say(&c, "sgemm %d^3 [%s]: %.2f ms (%.2f-%.2f), %.1f GFLOP/s", g->n, g->route,
            g->ms.median, g->ms.min, g->ms.max, g->gflops);
    }
    CP_TRY(bench_bandwidth(ctx, &c, out));
    out->ridge_flop_per_byte =
        out->bandwidth_gbs > 0 ? out->gemm_ceiling_gflops / out->bandwidth_gbs : 0;
    say(&c, "copy %.0f MiB: %.2f ms, %.1f GB/s", (double)out->bandwidth_bytes / 2 / (1 << 20),
        out->bandwidth_ms.median, out->bandwidth_gbs);

    CP_TRY(bench_layers(ctx, &c, c.batches[0], out));

    cp_model *model = NULL;
    CP_TRY(cp_model_create(ctx, &mc, &model));
    cp_status st = cp_model_init(model, 1);
    for (int i = 0; st == CP_OK && i < c.batch_count; i++) {
        cp_bench_iteration *it = &out->iterations[i];
        st = bench_iteration(ctx, &c, model, c.batches[i], it, i == 0 ? &out->layers[4] : NULL,
                             out->bandwidth_gbs, out->ridge_flop_per_byte);
        out->iteration_count++;
        if (st == CP_ERR_OUT_OF_DEVICE_MEMORY) { /* a batch that does not fit is a result */
            memset(it, 0, sizeof *it);
            it->batch = c.batches[i];
            snprintf(it->note, sizeof it->note, "%s", cp_last_error());
            say(&c, "training iteration batch %d: does not fit: %s", it->batch, it->note);
            st = CP_OK;
            continue;
        }
        if (st != CP_OK) break;
        it->fits = true;
        if (i == 0) out->layer_count = 5; /* the element-wise group comes from it */
        say(&c, "training iteration batch %d: %.2f ms, %.1f images/s, idle %.0f%%", it->batch,
            it->ms.median, it->images_per_s, 100 * it->idle_share);
    }
    for (int i = 0; st == CP_OK && i < 2; i++) {
        if (c.infer_batches[i] <= 0) continue;
        cp_bench_inference *in = &out->inference[out->inference_count];
        st = bench_infer(ctx, &c, model, c.infer_batches[i], in);
        out->inference_count++;
        if (st == CP_ERR_OUT_OF_DEVICE_MEMORY) {
            memset(in, 0, sizeof *in);
            in->batch = c.infer_batches[i];
            snprintf(in->note, sizeof in->note, "%s", cp_last_error());
            say(&c, "inference batch %d: does not fit: %s", in->batch, in->note);
            st = CP_OK;
            continue;
        }
        if (st != CP_OK) break;
        in->fits = true;
        say(&c, "inference batch %d: %.2f ms, %.1f images/s", in->batch, in->ms.median,
            in->images_per_s);
    }
    cp_model_free(model);
    out->programs = cp_context_program_stats(ctx);
    out->seconds = cp_bench_now_s() - t0;
    return st;
}
