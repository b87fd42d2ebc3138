/* Convolution routes by measurement: time every route that applies to each
 * pass of a layer shape, check it against im2col + GEMM, keep the fastest;
 * on first use of a device (a few seconds' budget) and in `clinpaint tune`.
 * The choices live in the route table (src/backend/opencl/ops/conv_route.c) and in a file
 * beside the GEMM tuning file, with the same key (device name and driver):
 * {"format": "clinpaint-conv-routes-1", "device", "driver",
 *  "layers": [{"transposed", "kh", "kw", "sh", "sw", "pt", "pl", "pb", "pr",
 *              "n", "c_in", "h", "w", "c_out", "fwd", "dx", "dw", "measured",
 *              "ms": [fwd, dx, dw]}]}
 * Unmeasured (default) choices are saved too, so that later runs take the
 * same routes as the first (a resumed run must compute what an
 * uninterrupted one would); `clinpaint tune` measures them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clinpaint/files.h"
#include "clinpaint/layers.h"
#include "clinpaint/model.h"
#include "clinpaint/tune.h"
#include "backend/opencl/ops/conv_route.h"
#include "backend/opencl/runtime/check.h"
#include "util/file_atomic.h"

#define ROUTES_FORMAT "clinpaint-conv-routes-1"
/* A route slower than this many times the best on its first timed run is
 * not timed further (it will not win, and timing it costs the budget). */
#define SLOW_FACTOR 4.0
/* Another route replaces the device type's default only when at least this
 * much faster: timings on a loaded machine vary by tens of percent, and the
 * defaults were chosen from careful measurements (notes/ops.md). */
#define DEFAULT_MARGIN 0.10
/* First-use budget per device and process, seconds. */
#define FIRST_USE_BUDGET 5.0

/* ---------------------------------------------------------------- measure */

typedef struct bufs {
    cp_tensor x, w, y, dy, dx, dw, ws;
    size_t ws_floats;
} bufs;

static void free_bufs(cp_context *ctx, bufs *b)
{
    cp_tensor *ts[] = {&b->x, &b->w, &b->y, &b->dy, &b->dx, &b->dw, &b->ws};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++)
        if (ts[i]->buf) cp_tensor_free(ctx, ts[i]);
}

static cp_status fill_random(cp_context *ctx, cp_tensor *t, uint32_t seed)
{
    size_t n = cp_tensor_numel(t);
    float *h = malloc(n * sizeof *h);
    if (!h) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "conv measure");
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        h[i] = (float)((s >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
    }
    cp_status st = cp_tensor_upload(ctx, t, h);
    free(h);
    return st;
}

static bool out_size(const cp_conv_layer *l, int64_t *ho, int64_t *wo)
{
    return l->transposed ? cp_conv_transpose_out_size(&l->p, l->h, l->w, ho, wo)
                         : cp_conv_out_size(&l->p, l->h, l->w, ho, wo);
}

static size_t ws_floats(cp_context *ctx, const cp_conv_layer *l)
{
    return l->transposed ? cp_conv_transpose2d_workspace_floats(ctx, &l->p, l->n, l->c_in,
                                                                l->h, l->w, l->c_out)
                         : cp_conv2d_workspace_floats(ctx, &l->p, l->n, l->c_in, l->h, l->w,
                                                      l->c_out);
}

/* One pass on whatever route the table's override gives. */
static cp_status run_pass(cp_context *ctx, const cp_conv_layer *l, int pass, bufs *b)
{
    const cp_conv_params *p = &l->p;
    const cp_tensor *ws = b->ws.buf ? &b->ws : NULL;
    if (pass == CP_CONV_FWD)
        return l->transposed ? cp_conv_transpose2d_forward(ctx, p, &b->x, &b->w, NULL, &b->y, ws)
                             : cp_conv2d_forward(ctx, p, &b->x, &b->w, NULL, &b->y, ws);
    cp_tensor *dx = pass == CP_CONV_DX ? &b->dx : NULL, *dw = pass == CP_CONV_DW ? &b->dw : NULL;
    return l->transposed
               ? cp_conv_transpose2d_backward(ctx, p, &b->x, &b->w, &b->dy, dx, dw, NULL, false, ws)
               : cp_conv2d_backward(ctx, p, &b->x, &b->w, &b->dy, dx, dw, NULL, false, ws);
}

static const cp_tensor *pass_out(const bufs *b, int pass)
{
    return pass == CP_CONV_FWD ? &b->y : pass == CP_CONV_DX ? &b->dx : &b->dw;
}

/* Terms per output of the pass (for the tolerance: inputs in [-1, 1)). */
static double pass_terms(const cp_conv_layer *l, int pass, int64_t ho, int64_t wo)
{
    double khw = (double)(l->p.kh * l->p.kw);
    if (pass == CP_CONV_DW) return (double)l->n * (double)(l->transposed ? l->h * l->w : ho * wo);
    /* forward sums over the input channels, dx over the output's (either op) */
    return khw * (double)(pass == CP_CONV_FWD ? l->c_in : l->c_out);
}

static bool matches(const float *got, const float *want, size_t n, double terms)
{
    double tol = 2e-6 * terms + 1e-5;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - (double)want[i]) <= tol + 1e-4 * fabs((double)want[i])))
            return false;
    return true;
}

/* Trial order: the device type's likely winner first. */
static int trial_order(cp_context *ctx, cp_conv_route *order)
{
    bool cpu = (cp_context_device(ctx)->type & CL_DEVICE_TYPE_CPU) != 0;
    order[0] = CP_CONV_GEMM; /* the reference, always first */
    order[1] = cpu ? CP_CONV_DIRECT : CP_CONV_IGEMM;
    order[2] = cpu ? CP_CONV_IGEMM : CP_CONV_DIRECT;
    return 3;
}

static cp_status measure_pass(cp_context *ctx, const cp_conv_layer *l, int pass, int reps,
                              const bool *skip, cp_conv_route def, bufs *b, float *ref,
                              float *got, double terms, double *seconds, cp_conv_route *best)
{
    cp_conv_route order[3];
    int n = trial_order(ctx, order);
    size_t count = cp_tensor_numel(pass_out(b, pass));
    double best_s = INFINITY;
    for (int i = 0; i < n; i++) {
        cp_conv_route r = order[i];
        if (!cp_conv_route_applies(l, pass, r) || (i > 0 && skip && skip[r])) continue;
        cp_conv_choice ch = {{CP_CONV_GEMM, CP_CONV_GEMM, CP_CONV_GEMM}, true};
        ch.pass[pass] = r;
        cp_conv_route_override(ctx, &ch);
        size_t need = ws_floats(ctx, l);
        if (need > b->ws_floats) {
            if (b->ws.buf) cp_tensor_free(ctx, &b->ws);
            b->ws_floats = 0;
            CP_TRY(cp_tensor_create4(ctx, 1, 1, 1, (int64_t)need, "conv measure ws", &b->ws));
            b->ws_floats = need;
        }
        /* First run: builds the kernels (not timed) and gives the result. */
        CP_TRY(cp_buffer_fill(ctx, pass_out(b, pass)->buf, 0, count, NAN));
        cp_status st = run_pass(ctx, l, pass, b);
        if (st == CP_OK) st = cp_context_finish(ctx);
        if (st != CP_OK) {
            if (i == 0) return st; /* no reference */
            continue;              /* this route cannot run here: not chosen */
        }
        CP_TRY(cp_tensor_download(ctx, pass_out(b, pass), i == 0 ? ref : got));
        if (i > 0 && !matches(got, ref, count, terms)) continue;
        double t0 = cp_seconds();
        CP_TRY(run_pass(ctx, l, pass, b));
        CP_TRY(cp_context_finish(ctx));
        double warm = cp_seconds() - t0;
        /* The fastest run: other processes on a shared machine only ever add
         * time, so the minimum is the least noisy figure. */
        double s = warm;
        for (int k = 0; k < reps && warm <= SLOW_FACTOR * best_s; k++) {
            t0 = cp_seconds();
            CP_TRY(run_pass(ctx, l, pass, b));
            CP_TRY(cp_context_finish(ctx));
            double t = cp_seconds() - t0;
            if (t < s) s = t;
        }
        if (cp_conv_timing_hook) s = cp_conv_timing_hook(l, pass, r, s);
        seconds[r] = s;
        if (s < best_s) {
            best_s = s;
            *best = r;
        }
    }
    if (seconds[def] > 0 && best_s > (1.0 - DEFAULT_MARGIN) * seconds[def]) *best = def;
    return CP_OK;
}

static cp_status measure(cp_context *ctx, const cp_conv_layer *l, int reps,
                         const bool skip[3][CP_CONV_ROUTES], cp_conv_choice *choice,
                         double seconds[3][CP_CONV_ROUTES]);

cp_status cp_conv_measure(cp_context *ctx, const cp_conv_layer *l, int reps,
                          cp_conv_choice *choice, double seconds[3][CP_CONV_ROUTES])
{
    if (!l || l->n <= 1) return measure(ctx, l, reps, NULL, choice, seconds);
    /* Screening at batch 1 first: a route far slower there (the direct
     * kernels' groups of one on llvmpipe, the implicit GEMM's barriers on
     * PoCL) is not run at the full batch, where one run could take seconds. */
    cp_conv_layer one = *l;
    one.n = 1;
    bool skip[3][CP_CONV_ROUTES];
    CP_TRY(measure(ctx, &one, 1, NULL, choice, seconds));
    cp_conv_choice def = cp_conv_route_default(ctx, l);
    for (int p = 0; p < 3; p++)
        for (int r = 0; r < CP_CONV_ROUTES; r++)
            skip[p][r] = r != (int)def.pass[p] && /* the default always runs in full */
                         (seconds[p][r] < 0 ||
                          seconds[p][r] > SLOW_FACTOR * seconds[p][choice->pass[p]]);
    return measure(ctx, l, reps, skip, choice, seconds);
}

static cp_status measure(cp_context *ctx, const cp_conv_layer *l, int reps,
                         const bool skip[3][CP_CONV_ROUTES], cp_conv_choice *choice,
                         double seconds[3][CP_CONV_ROUTES])
{
    int64_t ho, wo;
    if (!l || l->n < 1 || l->c_in < 1 || l->c_out < 1 || !out_size(l, &ho, &wo))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "conv measure: bad layer");
    if (reps < 1) reps = 1;
    for (int p = 0; p < 3; p++)
        for (int r = 0; r < CP_CONV_ROUTES; r++) seconds[p][r] = -1;
    *choice = (cp_conv_choice){{CP_CONV_GEMM, CP_CONV_GEMM, CP_CONV_GEMM}, true};
    bufs b;
    memset(&b, 0, sizeof b);
    int64_t wshape[4] = {l->transposed ? l->c_in : l->c_out, l->transposed ? l->c_out : l->c_in,
                         l->p.kh, l->p.kw};
    size_t nmax = (size_t)l->n * (size_t)l->c_in * (size_t)l->h * (size_t)l->w;
    size_t ny = (size_t)l->n * (size_t)l->c_out * (size_t)ho * (size_t)wo;
    size_t nw = (size_t)(wshape[0] * wshape[1] * wshape[2] * wshape[3]);
    cp_conv_choice def = cp_conv_route_default(ctx, l);
    if (ny > nmax) nmax = ny;
    if (nw > nmax) nmax = nw;
    float *ref = malloc(nmax * sizeof *ref), *got = malloc(nmax * sizeof *got);
    cp_status st = CP_OK;
    if (!ref || !got) {
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "conv measure");
        goto done;
    }
    CP_TRY_GOTO(cp_tensor_create4(ctx, l->n, l->c_in, l->h, l->w, "x", &b.x), done);
    CP_TRY_GOTO(cp_tensor_create(ctx, 4, wshape, "w", &b.w), done);
    CP_TRY_GOTO(cp_tensor_create4(ctx, l->n, l->c_out, ho, wo, "y", &b.y), done);
    CP_TRY_GOTO(cp_tensor_create4(ctx, l->n, l->c_out, ho, wo, "dy", &b.dy), done);
    CP_TRY_GOTO(cp_tensor_create4(ctx, l->n, l->c_in, l->h, l->w, "dx", &b.dx), done);
    CP_TRY_GOTO(cp_tensor_create(ctx, 4, wshape, "dw", &b.dw), done);
    CP_TRY_GOTO(fill_random(ctx, &b.x, 1), done);
    CP_TRY_GOTO(fill_random(ctx, &b.w, 2), done);
    CP_TRY_GOTO(fill_random(ctx, &b.dy, 3), done);
    for (int p = 0; p < 3; p++)
        CP_TRY_GOTO(measure_pass(ctx, l, p, reps, skip ? skip[p] : NULL, def.pass[p], &b, ref,
                                 got, pass_terms(l, p, ho, wo), seconds[p], &choice->pass[p]),
                    done);
done:
    cp_conv_route_override(ctx, NULL);
    free_bufs(ctx, &b);
    free(ref);
    free(got);
    return st;
}

/* ------------------------------------------------------------- the file */

static bool routes_path(cp_context *ctx, char *path, size_t size)
{
    char gemm[1100];
    if (!cp_tune_file_path(ctx, gemm, sizeof gemm)) return false;
    char *slash = strrchr(gemm, '/');
    const char *base = slash ? slash + 1 : gemm;
    const char *hash = strrchr(base, '-'); /* "-<hash>.json" */
    if (!hash) return false;
    int n = snprintf(path, size, "%.*sconv-routes%s", (int)(base - gemm), gemm, hash);
    return n > 0 && (size_t)n < size;
}

static bool get_i64(const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < (double)lo || v->valuedouble > (double)hi ||
        v->valuedouble != floor(v->valuedouble))
        return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

static bool parse_entry(const cJSON *e, cp_conv_layer *l, cp_conv_choice *c)
{
    int64_t v[13];
    static const char *keys[13] = {"kh", "kw", "sh", "sw", "pt", "pl", "pb", "pr",
                                   "n", "c_in", "h", "w", "c_out"};
    for (int i = 0; i < 13; i++)
        if (!get_i64(e, keys[i], i < 2 || (i >= 2 && i < 4) || i >= 8 ? 1 : 0,
                     i < 8 ? 64 : INT32_MAX, &v[i]))
            return false;
    *l = (cp_conv_layer){.transposed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "transposed")),
                         .p = {(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5],
                               (int)v[6], (int)v[7]},
                         .n = v[8], .c_in = v[9], .h = v[10], .w = v[11], .c_out = v[12]};
    static const char *passes[3] = {"fwd", "dx", "dw"};
    for (int i = 0; i < 3; i++) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, passes[i]);
        if (!cJSON_IsString(s) || !cp_conv_route_parse(s->valuestring, &c->pass[i]) ||
            c->pass[i] == CP_CONV_AUTO || !cp_conv_route_applies(l, i, c->pass[i]))
            return false;
    }
    c->measured = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "measured"));
    return true;
}

static cJSON *entry_json(const cp_conv_layer *l, const cp_conv_choice *c, const double *ms)
{
    cJSON *e = cJSON_CreateObject();
    if (!e) return NULL;
    cJSON_AddBoolToObject(e, "transposed", l->transposed);
    int pv[8] = {l->p.kh, l->p.kw, l->p.stride_h, l->p.stride_w,
                 l->p.pad_top, l->p.pad_left, l->p.pad_bottom, l->p.pad_right};
    static const char *pk[8] = {"kh", "kw", "sh", "sw", "pt", "pl", "pb", "pr"};
    for (int i = 0; i < 8; i++) cJSON_AddNumberToObject(e, pk[i], pv[i]);
    cJSON_AddNumberToObject(e, "n", (double)l->n);
    cJSON_AddNumberToObject(e, "c_in", (double)l->c_in);
    cJSON_AddNumberToObject(e, "h", (double)l->h);
    cJSON_AddNumberToObject(e, "w", (double)l->w);
    cJSON_AddNumberToObject(e, "c_out", (double)l->c_out);
    cJSON_AddStringToObject(e, "fwd", cp_conv_route_name(c->pass[0]));
    cJSON_AddStringToObject(e, "dx", cp_conv_route_name(c->pass[1]));
    cJSON_AddStringToObject(e, "dw", cp_conv_route_name(c->pass[2]));
    cJSON_AddBoolToObject(e, "measured", c->measured);
    if (ms) {
        cJSON *a = cJSON_AddArrayToObject(e, "ms");
        for (int i = 0; a && i < 3; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ms[i]));
    }
    return e;
}

/* The file's JSON (a fresh one when missing or not this device's). */
static cJSON *load_routes(cp_context *ctx, const char *path)
{
    const cp_device_info *d = cp_context_device(ctx);
    cJSON *j = NULL;
    char *buf;
    size_t n;
    /* A file of 1 MiB - 1 bytes or more, or not a regular file, is not one
     * of ours: refused before it is read, and started anew. */
    if (cp_read_file(path, (1u << 20) - 2, &buf, &n) == CP_OK) {
        j = cJSON_Parse(buf);
        free(buf);
    }
    const cJSON *f = j ? cJSON_GetObjectItemCaseSensitive(j, "format") : NULL;
    const cJSON *dn = j ? cJSON_GetObjectItemCaseSensitive(j, "device") : NULL;
    const cJSON *dr = j ? cJSON_GetObjectItemCaseSensitive(j, "driver") : NULL;
    if (!cJSON_IsString(f) || strcmp(f->valuestring, ROUTES_FORMAT) != 0 ||
        !cJSON_IsString(dn) || strcmp(dn->valuestring, d->name) != 0 ||
        !cJSON_IsString(dr) || strcmp(dr->valuestring, d->driver_version) != 0 ||
        !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "layers"))) {
        cJSON_Delete(j);
        j = cJSON_CreateObject();
        if (!j) return NULL;
        cJSON_AddStringToObject(j, "format", ROUTES_FORMAT);
        cJSON_AddStringToObject(j, "device", d->name);
        cJSON_AddStringToObject(j, "driver", d->driver_version);
        cJSON_AddArrayToObject(j, "layers");
    }
    return j;
}

/* Adds or replaces the entry of l in the file. */
cp_status cp_tune_conv_save(cp_context *ctx, const cp_conv_layer *l, const cp_conv_choice *c,
                           const double *ms)
{
    CP_TRY(cp_conv_route_record(ctx, l, c));
    char path[1200];
    if (!routes_path(ctx, path, sizeof path)) return CP_OK; /* no cache folder */
    cJSON *j = load_routes(ctx, path);
    cJSON *e = entry_json(l, c, ms);
    if (!j || !e) {
        cJSON_Delete(j);
        cJSON_Delete(e);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "conv routes file");
    }
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "layers");
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        cp_conv_layer el;
        cp_conv_choice ec;
        if (parse_entry(it, &el, &ec) && memcmp(&el.p, &l->p, sizeof el.p) == 0 &&
            el.transposed == l->transposed && el.n == l->n && el.c_in == l->c_in &&
            el.h == l->h && el.w == l->w && el.c_out == l->c_out)
            break;
        i++;
    }
    if (i < cJSON_GetArraySize(arr)) cJSON_ReplaceItemInArray(arr, i, e);
    else cJSON_AddItemToArray(arr, e);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "conv routes file");
    cp_status st = cp_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

/* Records every entry of the device's file into the route table; *measured
 * (if non-NULL) gets whether l is in it as measured. */
static cp_status apply_routes(cp_context *ctx, const cp_conv_layer *l, bool *measured)
{
    if (measured) *measured = false;
    char path[1200];
    if (!routes_path(ctx, path, sizeof path)) return CP_OK;
    cJSON *j = load_routes(ctx, path);
    if (!j) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "conv routes file");
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "layers"))
    {
        cp_conv_layer el;
        cp_conv_choice ec;
        if (!parse_entry(it, &el, &ec)) continue; /* a corrupt entry: measured again */
        if (!l) (void)cp_conv_route_record(ctx, &el, &ec);
        else if (measured && ec.measured && memcmp(&el.p, &l->p, sizeof el.p) == 0 &&
                 el.transposed == l->transposed && el.n == l->n && el.c_in == l->c_in &&
                 el.h == l->h && el.w == l->w && el.c_out == l->c_out)
            *measured = true;
    }
    cJSON_Delete(j);
    return CP_OK;
}

/* ------------------------------------------------- first use and `tune` */

static cp_status first_use(cp_context *ctx, const cp_conv_layer *l, cp_conv_choice *c,
                           bool measure)
{
    double ms[3] = {0, 0, 0};
    if (measure) {
        double s[3][CP_CONV_ROUTES];
        CP_TRY(cp_conv_measure(ctx, l, 2, c, s));
        for (int i = 0; i < 3; i++) ms[i] = 1e3 * s[i][c->pass[i]];
    }
    /* An unwritable cache only costs a re-measure next time. */
    (void)cp_tune_conv_save(ctx, l, c, measure ? ms : NULL);
    return CP_OK;
}

cp_status cp_tune_conv_apply(cp_context *ctx)
{
    CP_TRY(apply_routes(ctx, NULL, NULL));
    cp_conv_route_first_use(ctx, FIRST_USE_BUDGET, first_use);
    return CP_OK;
}

static cp_status add_layer(cp_conv_layer **v, int *n, int *cap, const cp_conv_layer *l)
{
    for (int i = 0; i < *n; i++)
        if (memcmp(&(*v)[i], l, sizeof *l) == 0) return CP_OK;
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 32;
        cp_conv_layer *nv = realloc(*v, (size_t)nc * sizeof *nv);
        if (!nv) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "conv layers");
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *l;
    return CP_OK;
}

cp_status cp_tune_conv_layers(const char *preset, int batch, cp_conv_layer **layers,
                              int *count)
{
    *layers = NULL;
    *count = 0;
    if (batch < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "tune: batch must be >= 1");
    cp_model_config c;
    CP_TRY(cp_model_config_preset(preset, &c));
    cp_layer_table t;
    CP_TRY(cp_model_layers(&c, &t));
    int cap = 0;
    cp_status st = CP_OK;
    cp_conv_layer l;
    memset(&l, 0, sizeof l); /* padding too: layers are compared with memcmp */
    l.n = batch;
    /* The convolutions of the layer table (clinpaint/layers.h), each shape once. */
    for (int i = 0; i < t.count && st == CP_OK; i++) {
        const cp_layer *y = &t.layers[i];
        if (y->kind == CP_LAYER_DENSE) continue;
        l.transposed = y->kind == CP_LAYER_UP2;
        l.p = y->kind == CP_LAYER_CONV3 ? cp_conv3_params()
              : y->kind == CP_LAYER_CONV2 ? cp_conv2_params()
                                          : cp_up2_params();
        l.c_in = y->c_in, l.c_out = y->c_out, l.h = l.w = y->hw;
        st = add_layer(layers, count, &cap, &l);
    }
    if (st != CP_OK) {
        free(*layers);
        *layers = NULL;
        *count = 0;
    }
    return st;
}

static void describe(const cp_conv_layer *l, char *buf, size_t size)
{
    snprintf(buf, size, "%s %dx%d s%d %lldx%lld %lld->%lld b%lld",
             l->transposed ? "convT" : "conv", l->p.kh, l->p.kw, l->p.stride_h,
             (long long)l->h, (long long)l->w, (long long)l->c_in, (long long)l->c_out,
             (long long)l->n);
}

cp_status cp_tune_conv_run(cp_context *ctx, const char *preset, int batch,
                           double budget_seconds, bool redo,
                           void (*progress)(void *user, const char *line), void *user)
{
    cp_conv_layer *layers;
    int n;
    CP_TRY(cp_tune_conv_layers(preset, batch, &layers, &n));
    double t0 = cp_seconds();
    cp_status st = CP_OK;
    bool measured_one = false; /* at least one layer per run, whatever the budget */
    for (int i = 0; i < n && st == CP_OK; i++) {
        char what[96], line[400];
        describe(&layers[i], what, sizeof what);
        bool done = false;
        if (!redo) st = apply_routes(ctx, &layers[i], &done);
        if (st != CP_OK) break;
        if (done) {
            if (progress) {
                snprintf(line, sizeof line, "[%d/%d] %s: already measured", i + 1, n, what);
                progress(user, line);
            }
            continue;
        }
        if (measured_one && budget_seconds > 0 && cp_seconds() - t0 > budget_seconds) {
            if (progress) progress(user, "conv routes: budget spent (rerun to resume)");
            break;
        }
        cp_conv_choice c;
        double s[3][CP_CONV_ROUTES];
        st = cp_conv_measure(ctx, &layers[i], 3, &c, s);
        if (st != CP_OK) break;
        double ms[3];
        for (int p = 0; p < 3; p++) ms[p] = 1e3 * s[p][c.pass[p]];
        st = cp_tune_conv_save(ctx, &layers[i], &c, ms);
        measured_one = true;
        for (int p = 0; progress && p < 3; p++) {
            static const char *pn[3] = {"fwd", "dx", "dw"};
            int k = snprintf(line, sizeof line, "[%d/%d] %s %s:", i + 1, n, what, pn[p]);
            for (int r = 1; r < CP_CONV_ROUTES && k > 0 && (size_t)k < sizeof line; r++)
                k += snprintf(line + k, sizeof line - (size_t)k, s[p][r] >= 0 ? " %s %.3f ms" : " %s -",
                              cp_conv_route_name((cp_conv_route)r), 1e3 * s[p][r]);
            if (k > 0 && (size_t)k < sizeof line)
                snprintf(line + k, sizeof line - (size_t)k, " -> %s",
                         cp_conv_route_name(c.pass[p]));
            progress(user, line);
        }
    }
    free(layers);
    return st;
}
