/* Which route each convolution pass takes: a process-wide table per OpenCL
 * device of choices per layer shape (measured, loaded from the tuning file,
 * or the device type's default on first ask), a forced route, and the
 * first-use measurement budget. */
#include "backend/opencl/ops/conv_route.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/ops/conv_direct.h"
#include "backend/opencl/runtime/check.h"

#define MAX_DEVICES 16

typedef struct layer_choice {
    cp_conv_layer layer;
    cp_conv_choice choice;
} layer_choice;

typedef struct device_table {
    cl_device_id device;
    cp_conv_route forced;
    bool overridden;
    cp_conv_choice override;
    double budget;            /* first-use measurement seconds left */
    cp_conv_first_use_fn fn;
    bool measuring;           /* a first-use measurement is running */
    /* Grows as shapes come (a routes file collects every batch size and
     * preset ever run): a choice that could not be kept would be asked
     * again and could differ from the one a workspace was sized for. */
    int count, cap;
    layer_choice *layers;
} device_table;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static device_table g_tables[MAX_DEVICES];
static int g_table_count;

double (*cp_conv_timing_hook)(const cp_conv_layer *l, int pass, cp_conv_route r,
                              double seconds);

static const char *const route_names[CP_CONV_ROUTES] = {"auto", "gemm", "direct", "igemm"};

const char *cp_conv_route_name(cp_conv_route r)
{
    return (int)r >= 0 && (int)r < CP_CONV_ROUTES ? route_names[r] : "?";
}

bool cp_conv_route_parse(const char *s, cp_conv_route *r)
{
    for (int i = 0; s && i < CP_CONV_ROUTES; i++)
        if (strcmp(s, route_names[i]) == 0) {
            *r = (cp_conv_route)i;
            return true;
        }
    return false;
}

/* Call with g_lock held. */
static device_table *find(cl_device_id d, bool create)
{
    for (int i = 0; i < g_table_count; i++)
        if (g_tables[i].device == d) return &g_tables[i];
    if (!create || g_table_count == MAX_DEVICES) return NULL;
    device_table *t = &g_tables[g_table_count++];
    memset(t, 0, sizeof *t);
    t->device = d;
    return t;
}

static bool same_layer(const cp_conv_layer *a, const cp_conv_layer *b)
{
    return a->transposed == b->transposed && a->p.kh == b->p.kh && a->p.kw == b->p.kw &&
           a->p.stride_h == b->p.stride_h && a->p.stride_w == b->p.stride_w &&
           a->p.pad_top == b->p.pad_top && a->p.pad_left == b->p.pad_left &&
           a->p.pad_bottom == b->p.pad_bottom && a->p.pad_right == b->p.pad_right &&
           a->n == b->n && a->c_in == b->c_in && a->h == b->h && a->w == b->w &&
           a->c_out == b->c_out;
}

bool cp_conv_route_applies(const cp_conv_layer *l, int pass, cp_conv_route r)
{
    (void)pass;
    if (r == CP_CONV_GEMM || r == CP_CONV_IGEMM) return true;
    if (r != CP_CONV_DIRECT) return false;
    cp_conv_direct_cfg cfg;
    bool all[3] = {true, true, true};
    return l->transposed
               ? cp_up2_direct_plan(&l->p, l->n, l->c_in, l->h, l->w, l->c_out, all, &cfg)
               : cp_conv_direct_plan(&l->p, l->n, l->c_in, l->h, l->w, l->c_out, all, &cfg);
}

/* A forced route for every pass; direct only where it applies. */
static cp_conv_choice forced_choice(const cp_conv_layer *l, cp_conv_route r)
{
    cp_conv_choice c = {.measured = false};
    for (int i = 0; i < 3; i++)
        c.pass[i] = cp_conv_route_applies(l, i, r) ? r : CP_CONV_GEMM;
    return c;
}

cp_conv_choice cp_conv_route_default(cp_context *ctx, const cp_conv_layer *l)
{
    cp_conv_choice c = {{CP_CONV_GEMM, CP_CONV_GEMM, CP_CONV_GEMM}, false};
    if (!(cp_context_device(ctx)->type & CL_DEVICE_TYPE_CPU)) return c;
    bool direct[3];
    if (l->transposed) cp_up2_direct_default(l->w, direct);
    else cp_conv_direct_default(l->w, direct);
    for (int i = 0; i < 3; i++)
        if (direct[i] && cp_conv_route_applies(l, i, CP_CONV_DIRECT)) c.pass[i] = CP_CONV_DIRECT;
    return c;
}

cp_conv_choice cp_conv_route_for(cp_context *ctx, const cp_conv_layer *l)
{
    /* The context's forced route (CLINPAINT_CONV in the CLI; tests run every
     * case on each) wins over everything; CP_CONV_AUTO: the table. */
    cp_conv_route forced = cp_context_options_of(ctx)->conv_route;
    if (forced != CP_CONV_AUTO) return forced_choice(l, forced);
    cl_device_id dev = cp_context_device(ctx)->device;
    cp_conv_choice c;
    cp_conv_first_use_fn fn = NULL;
    pthread_mutex_lock(&g_lock);
    device_table *t = find(dev, false);
    if (t && t->overridden) {
        c = t->override;
        pthread_mutex_unlock(&g_lock);
        return c;
    }
    if (t && t->forced != CP_CONV_AUTO) {
        cp_conv_route r = t->forced;
        pthread_mutex_unlock(&g_lock);
        return forced_choice(l, r);
    }
    for (int i = 0; t && i < t->count; i++)
        if (same_layer(&t->layers[i].layer, l)) {
            c = t->layers[i].choice;
            pthread_mutex_unlock(&g_lock);
            return c;
        }
    bool measure = false;
    if (t && t->fn && !t->measuring) {
        fn = t->fn;
        measure = t->budget > 0;
        t->measuring = true;
    }
    pthread_mutex_unlock(&g_lock);

    c = cp_conv_route_default(ctx, l);
    if (fn) {
        double t0 = cp_seconds();
        cp_conv_choice m = c;
        if (fn(ctx, l, &m, measure) == CP_OK) c = m;
        pthread_mutex_lock(&g_lock);
        t = find(dev, false);
        if (t) {
            t->measuring = false;
            if (measure) t->budget -= cp_seconds() - t0;
        }
        pthread_mutex_unlock(&g_lock);
    }
    /* Kept: the workspace was (or will be) sized for this answer. If it
     * cannot be kept (out of host memory), the default, which every later
     * ask without a record gives again. */
    if (cp_conv_route_record(ctx, l, &c) != CP_OK) c = cp_conv_route_default(ctx, l);
    return c;
}

cp_status cp_conv_route_record(cp_context *ctx, const cp_conv_layer *l,
                               const cp_conv_choice *c)
{
    for (int i = 0; i < 3; i++)
        if (c->pass[i] == CP_CONV_AUTO || !cp_conv_route_applies(l, i, c->pass[i]))
            return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                                "conv route: %s cannot run pass %d of this layer",
                                cp_conv_route_name(c->pass[i]), i);
    cp_status st = CP_OK;
    pthread_mutex_lock(&g_lock);
    device_table *t = find(cp_context_device(ctx)->device, true);
    int i = 0;
    while (t && i < t->count && !same_layer(&t->layers[i].layer, l)) i++;
    if (t && i == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        layer_choice *v = realloc(t->layers, (size_t)cap * sizeof *v);
        if (v) {
            t->layers = v;
            t->cap = cap;
        }
    }
    if (!t) {
        st = cp_set_error(CP_ERR_INTERNAL, "conv route: more than %d devices", MAX_DEVICES);
    } else if (i == t->cap) {
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "conv route table");
    } else {
        t->layers[i] = (layer_choice){*l, *c};
        if (i == t->count) t->count++;
    }
    pthread_mutex_unlock(&g_lock);
    return st;
}

void cp_conv_route_override(cp_context *ctx, const cp_conv_choice *c)
{
    pthread_mutex_lock(&g_lock);
    device_table *t = find(cp_context_device(ctx)->device, c != NULL);
    if (t) {
        t->overridden = c != NULL;
        if (c) t->override = *c;
    }
    pthread_mutex_unlock(&g_lock);
}

void cp_conv_force_route(cp_context *ctx, cp_conv_route r)
{
    pthread_mutex_lock(&g_lock);
    device_table *t = find(cp_context_device(ctx)->device, r != CP_CONV_AUTO);
    if (t) t->forced = r;
    pthread_mutex_unlock(&g_lock);
}

void cp_conv_route_first_use(cp_context *ctx, double budget_seconds, cp_conv_first_use_fn fn)
{
    pthread_mutex_lock(&g_lock);
    device_table *t = find(cp_context_device(ctx)->device, true);
    if (t) {
        t->budget = budget_seconds;
        t->fn = fn;
    }
    pthread_mutex_unlock(&g_lock);
}
