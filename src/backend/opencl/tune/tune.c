/* `clinpaint tune`: per shape class, time CLBlast and our own GEMM kernels,
 * verify, keep the fastest, save to the device's tuning file (tune_file.c)
 * and apply it (tune_apply.c). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "backend/opencl/runtime/check.h"
#include "backend/opencl/tune/tune_internal.h"

typedef struct bench_bufs {
    cl_mem a, b, c, ref;
    size_t na, nb, nc;
} bench_bufs;

static cp_status fill(cp_context *ctx, cl_mem buf, size_t n, uint32_t seed)
{
    float *h = malloc(n * sizeof *h);
    if (!h) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "tune buffers");
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        h[i] = (float)((s >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
    }
    cl_int e = clEnqueueWriteBuffer(cp_context_queue(ctx), buf, CL_TRUE, 0, n * sizeof *h, h, 0,
                                    NULL, NULL);
    free(h);
    CP_CL_CHECK(e);
    return CP_OK;
}

static cp_gemm_args shape_args(const cp_gemm_shape *s, const bench_bufs *b, cl_mem c)
{
    return (cp_gemm_args){.trans_a = s->ta, .trans_b = s->tb, .m = s->m, .n = s->n, .k = s->k,
                          .alpha = 1.0f, .beta = 0.0f,
                          .a = b->a, .lda = s->ta ? s->m : s->k,
                          .b = b->b, .ldb = s->tb ? s->k : s->n,
                          .c = c, .ldc = s->n};
}

/* Compares C with the reference of the same shape. */
static cp_status verify(cp_context *ctx, const cp_gemm_shape *s, const bench_bufs *b,
                        bool *ok)
{
    size_t n = s->m * s->n;
    float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
    cp_status st = CP_OK;
    if (!got || !want) {
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "tune verify");
        goto done;
    }
    CP_CL_CHECK_GOTO(clEnqueueReadBuffer(cp_context_queue(ctx), b->c, CL_TRUE, 0,
                                         n * sizeof *got, got, 0, NULL, NULL), done);
    CP_CL_CHECK_GOTO(clEnqueueReadBuffer(cp_context_queue(ctx), b->ref, CL_TRUE, 0,
                                         n * sizeof *want, want, 0, NULL, NULL), done);
    *ok = true;
    /* |terms| <= 1, k of them: float32 rounding ~ k·2^-24 each side. */
    double tol = 2e-6 * (double)s->k + 1e-5;
    for (size_t i = 0; i < n && *ok; i++)
        if (!(fabs((double)got[i] - (double)want[i]) <= tol + 1e-4 * fabs((double)want[i])))
            *ok = false;
done:
    free(got);
    free(want);
    return st;
}

static void say(const cp_tune_options *o, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void say(const cp_tune_options *o, const char *fmt, ...)
{
    if (!o->progress) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->progress(o->user, line);
}

/* Own-kernel candidates for a transpose case on this device. */
static int own_candidates(cp_context *ctx, bool ta, bool tb, cp_gemm_route *out)
{
    int n = 0;
    bool cpu = (cp_context_device(ctx)->type & CL_DEVICE_TYPE_CPU) != 0;
#define OWN(K, TM, TN, VW, LX, LY, TK)                                                      \
    out[n++] = (cp_gemm_route){.backend = CP_GEMM_OWN, .kernel = (K), .tm = (TM), .tn = (TN), \
                               .vw = (VW), .lx = (LX), .ly = (LY), .tk = (TK)}
    if (cpu) {
        if (tb && !ta) {
            OWN(CP_GEMM_K_DOT, 4, 2, 16, 1, 1, 0);
            OWN(CP_GEMM_K_DOT, 4, 4, 16, 1, 1, 0);
            OWN(CP_GEMM_K_DOT, 4, 4, 16, 4, 4, 1024);
            OWN(CP_GEMM_K_DOT, 4, 4, 16, 4, 2, 1024);
            OWN(CP_GEMM_K_DOT, 4, 2, 16, 8, 4, 512);
            OWN(CP_GEMM_K_DOT, 2, 4, 16, 4, 8, 256);
            OWN(CP_GEMM_K_DOT, 4, 4, 16, 4, 8, 512);
        } else if (tb) {
            OWN(CP_GEMM_K_ROWVEC, 4, 4, 1, 1, 1, 0);
            OWN(CP_GEMM_K_ROWVEC, 2, 8, 1, 1, 1, 0);
        } else {
            OWN(CP_GEMM_K_ROWVEC, 6, 2, 16, 1, 1, 0);
            OWN(CP_GEMM_K_ROWVEC, 8, 2, 16, 1, 1, 0);
            OWN(CP_GEMM_K_ROWVEC, 8, 3, 16, 1, 1, 0);
            OWN(CP_GEMM_K_ROWVEC, 16, 2, 16, 1, 1, 0);
            OWN(CP_GEMM_K_ROWVEC, 4, 2, 16, 1, 1, 0);
            OWN(CP_GEMM_K_ROWVEC, 4, 4, 8, 1, 1, 0);
            OWN(CP_GEMM_K_ROWVEC, 16, 1, 16, 16, 1, 16);
            OWN(CP_GEMM_K_ROWVEC, 8, 2, 16, 8, 2, 64);
        }
    } else {
        OWN(CP_GEMM_K_LOCAL, 4, 4, 1, 16, 16, 16);
        OWN(CP_GEMM_K_LOCAL, 2, 2, 1, 16, 16, 16);
        OWN(CP_GEMM_K_ROWVEC, 4, 1, 4, 16, 16, 0);
        OWN(CP_GEMM_K_ROWVEC, 2, 2, 1, 16, 16, 0);
    }
#undef OWN
    return n;
}

typedef struct class_work {
    cp_gemm_class cls;
    int shape_idx[64];
    int count;
} class_work;

/* Times a route over every shape of a class (sum of seconds); each result is
 * verified. *ok false if any result differs or the route failed. */
static cp_status time_class(cp_context *ctx, const cp_tune_options *o, const class_work *w,
                            const bench_bufs *b, const cp_gemm_route *r, double *total,
                            bool *ok)
{
    *total = 0;
    *ok = true;
    for (int i = 0; i < w->count && *ok; i++) {
        const cp_gemm_shape *s = &o->shapes[w->shape_idx[i]];
        cp_gemm_args g = shape_args(s, b, b->c);
        /* Poison C so a kernel that writes nothing cannot pass. */
        float nan = NAN;
        CP_CL_CHECK(clEnqueueFillBuffer(cp_context_queue(ctx), b->c, &nan, sizeof nan, 0,
                                        s->m * s->n * sizeof(float), 0, NULL, NULL));
        double sec;
        cp_status st = cp_gemm_time(ctx, &g, r, o->repetitions, &sec);
        if (st != CP_OK) {
            say(o, "    candidate failed: %s", cp_last_error());
            *ok = false;
            return CP_OK;
        }
        CP_TRY(verify(ctx, s, b, ok));
        *total += sec;
    }
    return CP_OK;
}

static double class_flops(const cp_tune_options *o, const class_work *w)
{
    double f = 0;
    for (int i = 0; i < w->count; i++) {
        const cp_gemm_shape *s = &o->shapes[w->shape_idx[i]];
        f += 2.0 * (double)s->m * (double)s->n * (double)s->k;
    }
    return f;
}

/* The reference result of shape s into b->ref: untuned CLBlast when this
 * process has not overridden CLBlast's parameters, else our simplest
 * kernel (tested against the CPU). */
static cp_status make_ref(cp_context *ctx, const cp_gemm_shape *s, const bench_bufs *b)
{
    cp_gemm_args g = shape_args(s, b, b->ref);
    cp_gemm_route r = {.backend = CP_GEMM_CLBLAST};
    if (cp_tune_clblast_overridden)
        r = (cp_gemm_route){.backend = CP_GEMM_OWN, .kernel = CP_GEMM_K_ROWVEC, .tm = 1,
                            .tn = 1, .vw = 1, .lx = 1, .ly = 1};
    CP_TRY(cp_gemm_with_route(ctx, &g, &r, NULL, 0));
    return cp_context_finish(ctx);
}

/* CLBlast parameter sets tried: three for XgemmDirect (the model's GEMMs
 * are below CLBlast's indirect threshold on PoCL) and one for the indirect
 * Xgemm (large GEMMs). Each costs 10-20 s of compilation on PoCL. */
static int clblast_candidates(clblast_set *out)
{
    static const char *dnames[] = {"WGD", "MDIMCD", "NDIMCD", "MDIMAD", "NDIMBD",
                                   "KWID", "VWMD", "VWND", "PADA", "PADB"};
    static const size_t dsets[][10] = {
        {32, 8, 8, 8, 8, 1, 4, 4, 1, 1},
        {64, 8, 8, 8, 8, 1, 8, 8, 1, 1},
        {16, 4, 4, 4, 4, 1, 4, 4, 1, 1},
    };
    static const char *xnames[] = {"GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC",
                                   "MWG",   "NDIMB", "NDIMC", "NWG", "SA", "SB",
                                   "STRM",  "STRN", "VWM", "VWN"};
    static const size_t xset[16] = {0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 1, 1, 4, 4};
    int n = 0;
    for (size_t i = 0; i < sizeof dsets / sizeof *dsets; i++, n++) {
        out[n].kernel = "XgemmDirect";
        out[n].count = 10;
        for (int j = 0; j < 10; j++) {
            out[n].names[j] = dnames[j];
            out[n].values[j] = dsets[i][j];
        }
    }
    out[n].kernel = "Xgemm";
    out[n].count = 16;
    for (int j = 0; j < 16; j++) {
        out[n].names[j] = xnames[j];
        out[n].values[j] = xset[j];
    }
    return n + 1;
}

cp_status cp_tune_run(cp_context *ctx, const cp_tune_options *opt)
{
    cp_tune_options o = *opt;
    if (o.repetitions < 1) o.repetitions = 1;
    if (!o.shapes || o.shape_count <= 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "tune: no shapes");
    char path[1100];
    if (o.path) snprintf(path, sizeof path, "%s", o.path);
    else if (!cp_tune_file_path(ctx, path, sizeof path))
        return cp_set_error(CP_ERR_IO, "tune: no cache folder (set CLINPAINT_CACHE_DIR)");
    double t_start = cp_seconds();

    tune_file *f = calloc(1, sizeof *f);
    class_work *work = calloc(MAX_CLASSES, sizeof *work);
    bench_bufs b = {0};
    cp_status st = CP_OK;
    if (!f || !work) {
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "tune");
        goto done;
    }
    bool missing;
    if (cp_tune_file_load(ctx, path, f, &missing) != CP_OK) {
        say(&o, "ignoring unreadable tuning file %s (starting afresh)", path);
        memset(f, 0, sizeof *f);
    } else if (!missing) {
        say(&o, "resuming from %s (%d classes done)", path, f->count);
    }

    /* Group the shapes into classes. */
    int nwork = 0;
    for (int i = 0; i < o.shape_count; i++) {
        const cp_gemm_shape *s = &o.shapes[i];
        cp_gemm_class c = cp_gemm_class_of(s->ta, s->tb, s->m, s->n, s->k);
        int w = 0;
        while (w < nwork && !cp_gemm_class_eq(work[w].cls, c)) w++;
        if (w == nwork) {
            if (nwork == MAX_CLASSES) continue;
            work[nwork++].cls = c;
        }
        if (work[w].count < 64) work[w].shape_idx[work[w].count++] = i;
        size_t na = s->m * s->k, nb = s->k * s->n, nc = s->m * s->n;
        if (na > b.na) b.na = na;
        if (nb > b.nb) b.nb = nb;
        if (nc > b.nc) b.nc = nc;
    }
    say(&o, "%d shapes in %d classes; results go to %s", o.shape_count, nwork, path);
    CP_TRY_GOTO(cp_buffer_alloc(ctx, b.na * sizeof(float), &b.a), done);
    CP_TRY_GOTO(cp_buffer_alloc(ctx, b.nb * sizeof(float), &b.b), done);
    CP_TRY_GOTO(cp_buffer_alloc(ctx, b.nc * sizeof(float), &b.c), done);
    CP_TRY_GOTO(cp_buffer_alloc(ctx, b.nc * sizeof(float), &b.ref), done);
    CP_TRY_GOTO(fill(ctx, b.a, b.na, 1), done);
    CP_TRY_GOTO(fill(ctx, b.b, b.nb, 2), done);

    for (int w = 0; w < nwork; w++) {
        class_work *cw = &work[w];
        const cp_gemm_shape *s0 = &o.shapes[cw->shape_idx[0]];
        bool done_before = false;
        for (int i = 0; i < f->count; i++)
            if (cp_gemm_class_eq(f->entries[i].cls, cw->cls)) done_before = true;
        if (done_before) {
            say(&o, "[%d/%d] %s: already tuned", w + 1, nwork, s0->label);
            continue;
        }
        if (o.budget_seconds > 0 && cp_seconds() - t_start > o.budget_seconds) {
            say(&o, "budget spent: stopping (rerun to resume)");
            break;
        }
        double flops = class_flops(&o, cw);
        /* Reference results: one at a time, so each candidate is verified
         * right after it ran. */
        cp_gemm_route clb = {.backend = CP_GEMM_CLBLAST};
        tune_entry best = {.cls = cw->cls, .route = clb, .seconds = INFINITY};
        snprintf(best.label, sizeof best.label, "%s", s0->label);
        cp_gemm_route cands[24];
        int nc = 0;
        cands[nc++] = clb;
        cands[nc++] = cp_gemm_default_own(cw->cls.ta, cw->cls.tb, s0->m);
        nc += own_candidates(ctx, cw->cls.ta, cw->cls.tb, cands + nc);
        /* Shape by shape: one reference result, then every candidate on it. */
        double total[24] = {0};
        bool ok[24];
        for (int c = 0; c < nc; c++) ok[c] = true;
        for (int si = 0; si < cw->count; si++) {
            class_work one = {.cls = cw->cls, .shape_idx = {cw->shape_idx[si]}, .count = 1};
            CP_TRY_GOTO(make_ref(ctx, &o.shapes[cw->shape_idx[si]], &b), done);
            for (int c = 0; c < nc; c++) {
                if (!ok[c]) continue;
                double sec;
                CP_TRY_GOTO(time_class(ctx, &o, &one, &b, &cands[c], &sec, &ok[c]), done);
                total[c] += sec;
            }
        }
        for (int c = 0; c < nc; c++) {
            const cp_gemm_route *r = &cands[c];
            char what[96];
            if (r->backend == CP_GEMM_CLBLAST) snprintf(what, sizeof what, "clblast");
            else
                snprintf(what, sizeof what, "own %s tm %d tn %d vw %d wg %dx%d kc %d",
                         cp_tune_kernel_names[r->kernel], r->tm, r->tn, r->vw, r->lx, r->ly, r->tk);
            if (!ok[c]) {
                say(&o, "[%d/%d] %s: %-44s REJECTED (result differs or failed)", w + 1, nwork,
                    s0->label, what);
                continue;
            }
            say(&o, "[%d/%d] %s: %-44s %8.3f ms %7.2f GFLOP/s", w + 1, nwork, s0->label, what,
                1e3 * total[c], flops / total[c] * 1e-9);
            if (c == 0) best.clblast_seconds = total[c];
            if (total[c] < best.seconds) {
                best.seconds = total[c];
                best.route = *r;
            }
        }
        if (!isfinite(best.seconds)) {
            say(&o, "[%d/%d] %s: no candidate verified; keeping CLBlast", w + 1, nwork, s0->label);
            best.seconds = 0;
        }
        f->entries[f->count++] = best;
        CP_TRY_GOTO(cp_tune_file_write(ctx, path, f), done);
    }

    /* CLBlast parameter sets: one device-wide choice; a class switches to
     * CLBlast only when a verified set beats its kept route. */
    if (o.try_clblast_params && !f->clblast_done &&
        !(o.budget_seconds > 0 && cp_seconds() - t_start > o.budget_seconds)) {
        clblast_set sets[8];
        int ns = clblast_candidates(sets);
        /* References first, with CLBlast still untuned, per class representative. */
        double best_total = INFINITY;
        int best_set = -1;
        double *per_class = calloc((size_t)nwork * (size_t)ns, sizeof *per_class);
        if (!per_class) {
            st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "tune");
            goto done;
        }
        for (int si = 0; si < ns; si++) {
            if (o.budget_seconds > 0 && cp_seconds() - t_start > o.budget_seconds) break;
            int e = CLBlastOverrideParameters(cp_context_device(ctx)->device, sets[si].kernel,
                                              CLBlastPrecisionSingle, (size_t)sets[si].count,
                                              sets[si].names, sets[si].values);
            if (e != 0) {
                say(&o, "CLBlast %s set %d refused (%d)", sets[si].kernel, si, e);
                continue;
            }
            cp_tune_clblast_overridden = true;
            double total = 0;
            bool ok = true;
            cp_gemm_route clb = {.backend = CP_GEMM_CLBLAST};
            for (int w = 0; w < nwork && ok; w++) {
                const cp_gemm_shape *s0 = &o.shapes[work[w].shape_idx[0]];
                class_work one = {.cls = work[w].cls, .shape_idx = {work[w].shape_idx[0]},
                                  .count = 1};
                CP_TRY_GOTO(make_ref(ctx, s0, &b), done_pc);
                double sec;
                CP_TRY_GOTO(time_class(ctx, &o, &one, &b, &clb, &sec, &ok), done_pc);
                per_class[w * ns + si] = sec * work[w].count;
                total += sec;
            }
            say(&o, "CLBlast %s set %d: %s, %.3f ms over the class representatives",
                sets[si].kernel, si, ok ? "verified" : "REJECTED", 1e3 * total);
            if (ok && total < best_total) {
                best_total = total;
                best_set = si;
            }
        }
        if (best_set >= 0) {
            int switched = 0;
            for (int i = 0; i < f->count; i++)
                for (int w = 0; w < nwork; w++)
                    if (cp_gemm_class_eq(f->entries[i].cls, work[w].cls) &&
                        per_class[w * ns + best_set] > 0 &&
                        per_class[w * ns + best_set] < 0.95 * f->entries[i].seconds) {
                        f->entries[i].route = (cp_gemm_route){.backend = CP_GEMM_CLBLAST};
                        f->entries[i].seconds = per_class[w * ns + best_set];
                        switched++;
                    }
            if (switched) {
                f->has_clblast = true;
                f->clblast = sets[best_set];
            }
            say(&o, "CLBlast set %d kept for %d classes", best_set, switched);
        }
        f->clblast_done = true;
        CP_TRY_GOTO(cp_tune_file_write(ctx, path, f), done_pc);
    done_pc:
        free(per_class);
        if (st != CP_OK) goto done;
    }
    CP_TRY_GOTO(cp_tune_file_apply(ctx, f), done);
    say(&o, "done in %.1f s: %d classes saved to %s", cp_seconds() - t_start, f->count, path);
done:
    if (b.a) cp_buffer_free(ctx, b.a);
    if (b.b) cp_buffer_free(ctx, b.b);
    if (b.c) cp_buffer_free(ctx, b.c);
    if (b.ref) cp_buffer_free(ctx, b.ref);
    free(f);
    free(work);
    return st;
}
