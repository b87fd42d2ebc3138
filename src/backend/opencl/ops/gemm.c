/* GEMM, row-major: C = alpha op(A) op(B) + beta C, routed per shape class
 * to CLBlast or to our own kernels in cl/gemm.cl (see clinpaint/tune.h).
 *
 * CLBlast's indirect GEMM pads/transposes A, B and C into a temporary buffer.
 * Without one it allocates (clCreateBuffer) on every call; with
 * CLBlastSgemmWithTempBuffer the caller's buffer is used instead. CLBlast's
 * temporary has no offset argument: it always starts at element 0 of the
 * cl_mem. So a workspace is only used when workspace_off == 0; otherwise we
 * fall back to CLBlast's own allocation (correct, but allocates while
 * running; see notes/ops.md). Our kernels need no workspace.
 *
 * Routes live in a process-wide table per cl_device_id (CLBlast's parameter
 * overrides are per device and process-wide too). */
#include "backend/opencl/ops/conv_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "clinpaint/tune.h"
#include "backend/opencl/runtime/profile.h"

static CLBlastTranspose tr(bool t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }

static cp_status check_args(const cp_gemm_args *g)
{
    if (!g || !g->a || !g->b || !g->c)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_gemm: NULL matrix");
    if (g->k == 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_gemm: k must be > 0");
    /* Stored row-major shapes: A is m×k (k×m if trans_a), B k×n (n×k). */
    size_t a_cols = g->trans_a ? g->m : g->k, b_cols = g->trans_b ? g->k : g->n;
    if (g->lda < a_cols || g->ldb < b_cols || g->ldc < g->n)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_gemm: leading dimensions too small (m %zu n %zu k %zu, "
                            "lda %zu ldb %zu ldc %zu, trans_a %d trans_b %d)",
                            g->m, g->n, g->k, g->lda, g->ldb, g->ldc, g->trans_a,
                            g->trans_b);
    return CP_OK;
}

size_t cp_gemm_workspace_floats(cp_context *ctx, const cp_gemm_args *g)
{
    /* CLBlast's need, whatever the route: a tuning applied later may send
     * this shape to CLBlast, and the graph's plan is made once. */
    if (!g || g->m == 0 || g->n == 0 || g->k == 0) return 0;
    size_t bytes = 0;
    int e = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, tr(g->trans_a), tr(g->trans_b),
                                       g->m, g->n, g->k, g->a_off, g->lda, g->b_off, g->ldb,
                                       g->c_off, g->ldc, cp_context_queue_ptr(ctx), &bytes);
    if (e != 0) return 0; /* CLBlast then allocates its own temporary */
    return (bytes + sizeof(float) - 1) / sizeof(float);
}

size_t cp_gemm_worst_workspace_floats(cp_context *ctx, bool ta, bool tb, size_t m, size_t n,
                                      size_t k)
{
    /* Non-zero offsets force a temporary copy of every matrix: the largest
     * size CLBlast can ask for, whatever the actual offsets turn out to be. */
    cp_gemm_args g = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k,
                      .a = NULL, .a_off = 1, .lda = ta ? m : k,
                      .b = NULL, .b_off = 1, .ldb = tb ? k : n,
                      .c = NULL, .c_off = 1, .ldc = n};
    return cp_gemm_workspace_floats(ctx, &g);
}

/* ---- shape classes and the routing table ---- */

static int bucket(size_t x)
{
    int l = 0;
    while (x > 1 && l < 40) {
        x >>= 1;
        l++;
    }
    l /= 2;
    return l > 12 ? 12 : l;
}

cp_gemm_class cp_gemm_class_of(bool ta, bool tb, size_t m, size_t n, size_t k)
{
    return (cp_gemm_class){.ta = ta, .tb = tb, .lm = bucket(m), .ln = bucket(n),
                           .lk = bucket(k)};
}

bool cp_gemm_class_eq(cp_gemm_class a, cp_gemm_class b)
{
    return a.ta == b.ta && a.tb == b.tb && a.lm == b.lm && a.ln == b.ln && a.lk == b.lk;
}

#define MAX_DEVICES 16
#define MAX_ROUTES 128
typedef struct device_routes {
    cl_device_id device;
    bool forced;
    cp_gemm_route force;
    int count;
    cp_gemm_class classes[MAX_ROUTES];
    cp_gemm_route routes[MAX_ROUTES];
} device_routes;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static device_routes g_devices[MAX_DEVICES];
static int g_device_count;

/* Entry of a device (created if `create`); call with g_lock held. */
static device_routes *find_device(cl_device_id d, bool create)
{
    for (int i = 0; i < g_device_count; i++)
        if (g_devices[i].device == d) return &g_devices[i];
    if (!create || g_device_count == MAX_DEVICES) return NULL;
    device_routes *e = &g_devices[g_device_count++];
    *e = (device_routes){.device = d};
    return e;
}

cp_gemm_route cp_gemm_default_own(bool ta, bool tb, size_t m)
{
    /* Measured on PoCL / AVX-512 (notes/tune.md). */
    if (tb && !ta) {
        /* Dot products along k in chunks of 1024 shared by a 4×ly group:
         * the chunks of A and B are reused from cache. */
        int ly = m <= 4 ? 1 : m <= 8 ? 2 : 4;
        return (cp_gemm_route){.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_DOT, .tm = 4,
                               .tn = 4, .vw = 16, .lx = 4, .ly = ly, .tk = 1024};
    }
    if (tb)
        return (cp_gemm_route){.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_ROWVEC, .tm = 4,
                               .tn = 4, .vw = 1, .lx = 1, .ly = 1};
    /* Few rows: one work-item covers them all, so B is streamed once. */
    int tm = m <= 4 ? 4 : m <= 8 ? 8 : m <= 16 ? 16 : 6;
    return (cp_gemm_route){.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_ROWVEC, .tm = tm,
                           .tn = 2, .vw = 16, .lx = 1, .ly = 1};
}

cp_gemm_route cp_gemm_route_for(cp_context *ctx, const cp_gemm_args *g)
{
    const cp_device_info *dev = cp_context_device(ctx);
    cp_gemm_class c = cp_gemm_class_of(g->trans_a, g->trans_b, g->m, g->n, g->k);
    cp_gemm_route r;
    bool found = false;
    /* CP_GEMM_PREFER_OWN: our kernels on every device type, as on CPUs (for
     * simulators such as oclgrind run with small work-group limits, where
     * CLBlast's fixed work-group shapes cannot run); _CLBLAST: every GEMM
     * through CLBlast, tuned classes too (comparisons). */
    cp_gemm_preference prefer = cp_context_options_of(ctx)->gemm;
    pthread_mutex_lock(&g_lock);
    device_routes *e = find_device(dev->device, false);
    if (e && e->forced) {
        r = e->force;
        found = true;
    } else if (prefer == CP_GEMM_PREFER_CLBLAST) {
        r = (cp_gemm_route){.backend = CP_GEMM_CLBLAST};
        found = true;
    } else if (e) {
        for (int i = 0; i < e->count && !found; i++)
            if (cp_gemm_class_eq(e->classes[i], c)) {
                r = e->routes[i];
                found = true;
            }
    }
    pthread_mutex_unlock(&g_lock);
    if (found) return r;
    if ((dev->type & CL_DEVICE_TYPE_CPU) || prefer == CP_GEMM_PREFER_OWN)
        return cp_gemm_default_own(g->trans_a, g->trans_b, g->m);
    return (cp_gemm_route){.backend = CP_GEMM_CLBLAST};
}

void cp_gemm_force_route(cp_context *ctx, const cp_gemm_route *r)
{
    pthread_mutex_lock(&g_lock);
    device_routes *e = find_device(cp_context_device(ctx)->device, r != NULL);
    if (e) {
        e->forced = r != NULL;
        if (r) e->force = *r;
    }
    pthread_mutex_unlock(&g_lock);
}

cp_status cp_gemm_set_routes(cp_context *ctx, const cp_gemm_class *classes,
                             const cp_gemm_route *routes, int count)
{
    if (count < 0 || count > MAX_ROUTES)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_gemm_set_routes: %d routes (max %d)",
                            count, MAX_ROUTES);
    pthread_mutex_lock(&g_lock);
    device_routes *e = find_device(cp_context_device(ctx)->device, true);
    if (e) {
        e->count = count;
        for (int i = 0; i < count; i++) {
            e->classes[i] = classes[i];
            e->routes[i] = routes[i];
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (!e) return cp_set_error(CP_ERR_INTERNAL, "cp_gemm_set_routes: too many devices");
    return CP_OK;
}

/* ---- the two backends ---- */

static cp_status run_clblast(cp_context *ctx, const cp_gemm_args *g, cl_mem workspace,
                             size_t workspace_off)
{
    cl_event *ev = cp_profile_slot(ctx);
    if (workspace && workspace_off == 0) {
        CP_CLBLAST_CHECK(CLBlastSgemmWithTempBuffer(
            CLBlastLayoutRowMajor, tr(g->trans_a), tr(g->trans_b), g->m, g->n, g->k,
            g->alpha, g->a, g->a_off, g->lda, g->b, g->b_off, g->ldb, g->beta, g->c,
            g->c_off, g->ldc, cp_context_queue_ptr(ctx), ev, workspace));
    } else {
        CP_CLBLAST_CHECK(CLBlastSgemm(CLBlastLayoutRowMajor, tr(g->trans_a), tr(g->trans_b),
                                      g->m, g->n, g->k, g->alpha, g->a, g->a_off, g->lda,
                                      g->b, g->b_off, g->ldb, g->beta, g->c, g->c_off,
                                      g->ldc, cp_context_queue_ptr(ctx), ev));
    }
    return CP_OK;
}

static bool valid_vw(int v) { return v == 1 || v == 2 || v == 4 || v == 8 || v == 16; }

/* Our kernels take 32-bit sizes and offsets. */
static bool fits_u32(const cp_gemm_args *g)
{
    size_t lim = UINT_MAX;
    return g->m <= lim && g->n <= lim && g->k <= lim && g->a_off <= lim && g->b_off <= lim &&
           g->c_off <= lim && g->lda <= lim && g->ldb <= lim && g->ldc <= lim;
}

/* The route as the kernels take it for g's transposes. */
static cp_gemm_route normalise(const cp_gemm_args *g, cp_gemm_route r)
{
    if (r.kernel == CP_GEMM_K_DOT && !(g->trans_b && !g->trans_a)) r.kernel = CP_GEMM_K_ROWVEC;
    if (r.kernel == CP_GEMM_K_LOCAL) r.vw = 1;
    if (r.kernel == CP_GEMM_K_ROWVEC && g->trans_b) r.vw = 1; /* B gathered */
    return r;
}

static bool valid_params(const cp_gemm_route *r)
{
    return r->tm >= 1 && r->tm <= 16 && r->tn >= 1 && r->tn <= 16 && valid_vw(r->vw) &&
           r->lx >= 1 && r->ly >= 1 && r->lx <= 65536 && r->ly <= 65536 &&
           (int)r->kernel >= 0 && (int)r->kernel <= CP_GEMM_K_LOCAL &&
           (r->kernel == CP_GEMM_K_LOCAL ? r->tk >= 1 && r->tk <= 64
                                         : r->tk >= 0 && r->tk % r->vw == 0);
}

/* gemm_local's A and B tiles (cl/gemm.cl: TK x (LY TM + 1) and TK x (LX TN + 1)). */
static uint64_t local_bytes(const cp_gemm_route *r)
{
    if (r->kernel != CP_GEMM_K_LOCAL) return 0;
    uint64_t bm = (uint64_t)r->ly * (uint64_t)r->tm, bn = (uint64_t)r->lx * (uint64_t)r->tn;
    return sizeof(float) * (uint64_t)r->tk * ((bm + 1) + (bn + 1));
}

/* Limits known before building: the device's per-dimension and group
 * maxima, the context's cap and the local memory (gemm_local's tiles are
 * static __local arrays, sized here as the kernel declares them; building
 * one too large fails on some drivers, so check first). */
static bool fits_device(cp_context *ctx, const cp_gemm_route *r)
{
    const cp_device_info *d = cp_context_device(ctx);
    size_t group = (size_t)r->lx * (size_t)r->ly;
    return (size_t)r->lx <= d->max_work_item_sizes[0] &&
           (size_t)r->ly <= d->max_work_item_sizes[1] && group <= cp_context_wg_size(ctx, group) &&
           local_bytes(r) <= cp_context_local_mem_size(ctx);
}

static cp_status build(cp_context *ctx, const cp_gemm_args *g, const cp_gemm_route *r,
                       cl_kernel *k)
{
    /* tk: the local kernel's k tile (TK), else the k chunk (KC, 0 = none). */
    char opts[160];
    snprintf(opts, sizeof opts, "-DTA=%d -DTB=%d -DTM=%d -DTN=%d -DVW=%d -DLX=%d -DLY=%d -D%s=%d",
             g->trans_a, g->trans_b, r->tm, r->tn, r->vw, r->lx, r->ly,
             r->kernel == CP_GEMM_K_LOCAL ? "TK" : "KC", r->tk);
    static const char *names[] = {"gemm_rowvec", "gemm_dot", "gemm_local"};
    return cp_kernel_get(ctx, "gemm.cl", opts, names[r->kernel], k);
}

cp_status cp_gemm_route_fits(cp_context *ctx, const cp_gemm_args *g, const cp_gemm_route *r0,
                             bool *fits)
{
    cp_gemm_route r = normalise(g, *r0);
    *fits = false;
    if (r.backend != CP_GEMM_OWN) {
        *fits = true;
        return CP_OK;
    }
    if (!valid_params(&r) || !fits_device(ctx, &r)) return CP_OK;
    /* The compiled kernel's own limit (rusticl: 32 per kernel; GPUs lower
     * it for register-heavy kernels) and local memory. */
    cl_kernel k;
    size_t limit;
    CP_TRY(build(ctx, g, &r, &k));
    CP_TRY(cp_kernel_wg_limit(ctx, k, &limit));
    *fits = (size_t)r.lx * (size_t)r.ly <= limit;
    return CP_OK;
}

/* Runs on every device: one work item per group, no local memory. */
static cp_gemm_route fallback_route(void)
{
    return (cp_gemm_route){.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_ROWVEC, .tm = 4,
                           .tn = 4, .vw = 1, .lx = 1, .ly = 1, .tk = 0};
}

static cp_status run_own(cp_context *ctx, const cp_gemm_args *g, const cp_gemm_route *r0)
{
    cp_gemm_route r = normalise(g, *r0);
    if (!valid_params(&r))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_gemm: bad own-kernel parameters (kernel %d tm %d tn %d vw %d "
                            "lx %d ly %d tk %d)",
                            (int)r.kernel, r.tm, r.tn, r.vw, r.lx, r.ly, r.tk);
    /* A route beyond this device's limits (a default or tuning file made
     * for another device) is skipped for the fallback, which always fits. */
    bool fits;
    CP_TRY(cp_gemm_route_fits(ctx, g, &r, &fits));
    if (!fits) r = fallback_route();
    cl_kernel k;
    CP_TRY(build(ctx, g, &r, &k));
    CP_ARGS(k, CP_ARG(cl_uint, (cl_uint)g->m), CP_ARG(cl_uint, (cl_uint)g->n),
            CP_ARG(cl_uint, (cl_uint)g->k), CP_ARG(cl_float, g->alpha), CP_ARG(cl_mem, g->a),
            CP_ARG(cl_uint, (cl_uint)g->a_off), CP_ARG(cl_uint, (cl_uint)g->lda),
            CP_ARG(cl_mem, g->b), CP_ARG(cl_uint, (cl_uint)g->b_off),
            CP_ARG(cl_uint, (cl_uint)g->ldb), CP_ARG(cl_float, g->beta), CP_ARG(cl_mem, g->c),
            CP_ARG(cl_uint, (cl_uint)g->c_off), CP_ARG(cl_uint, (cl_uint)g->ldc));
    size_t cols_per_group = (size_t)r.lx * (size_t)r.tn *
                            (r.kernel == CP_GEMM_K_ROWVEC ? (size_t)r.vw : 1);
    size_t rows_per_group = (size_t)r.ly * (size_t)r.tm;
    size_t global[2] = {(g->n + cols_per_group - 1) / cols_per_group * (size_t)r.lx,
                        (g->m + rows_per_group - 1) / rows_per_group * (size_t)r.ly};
    size_t local[2] = {(size_t)r.lx, (size_t)r.ly};
    return cp_enqueue_nd(ctx, k, 2, global, local, NULL);
}

cp_status cp_gemm_with_route(cp_context *ctx, const cp_gemm_args *g, const cp_gemm_route *r,
                             cl_mem workspace, size_t workspace_off)
{
    CP_TRY(check_args(g));
    if (g->m == 0 || g->n == 0) return CP_OK;
    if (r->backend == CP_GEMM_OWN && fits_u32(g)) return run_own(ctx, g, r);
    return run_clblast(ctx, g, workspace, workspace_off);
}

cp_status cp_gemm(cp_context *ctx, const cp_gemm_args *g, cl_mem workspace,
                  size_t workspace_off)
{
    CP_TRY(check_args(g));
    cp_gemm_route r = cp_gemm_route_for(ctx, g);
    return cp_gemm_with_route(ctx, g, &r, workspace, workspace_off);
}
