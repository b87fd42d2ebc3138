/* Line charts as SVG (loss.svg). The text is built in memory, then written
 * to a temporary file that is renamed onto the final name. */
#include "clinpaint/plot.h"
#include "util/file_atomic.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- layout (pixels) ---- */
enum {
    W = 960,
    H = 540,
    PLOT_L = 84,  /* plot area */
    PLOT_T = 50,
    PLOT_R = 770,
    PLOT_B = 474,
    LEGEND_X = 790,
    MAX_TICKS = 40,
    MARKER_MAX = 50 /* series with at most this many points get markers */
};

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                      "#bcbd22", "#17becf"};

/* ---- a growing text buffer ---- */
typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static bool sb_reserve(sbuf *b, size_t extra)
{
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !sb_reserve(b, (size_t)n)) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Text content / attribute value with XML escapes; control characters that
 * XML 1.0 forbids become '?'. */
static void sb_escaped(sbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&': sb_printf(b, "&amp;"); break;
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        case '\'': sb_printf(b, "&apos;"); break;
        default:
            if (!sb_reserve(b, 1)) return;
            b->p[b->len++] = (ch < 0x20 && ch != '\t') ? '?' : (char)ch;
            b->p[b->len] = '\0';
        }
    }
}

/* ---- data: finite points, decimated ---- */
typedef struct {
    double *x, *y;
    size_t n;
} pts;

static bool prepare(const cp_plot_series *s, pts *out)
{
    out->x = out->y = NULL;
    out->n = 0;
    size_t finite = 0;
    for (size_t i = 0; i < s->n; i++) {
        double x = s->x ? s->x[i] : (double)i;
        finite += isfinite(x) && isfinite(s->y[i]);
    }
    if (!finite) return true;
    size_t m = finite > CP_PLOT_MAX_POINTS ? CP_PLOT_MAX_POINTS : finite;
    out->x = malloc(sizeof *out->x * m);
    out->y = malloc(sizeof *out->y * m);
    if (!out->x || !out->y) return false;
    /* Bucket b takes the finite points with rank in [b·finite/m, (b+1)·finite/m). */
    size_t rank = 0, b = 0, end = finite / m;
    double sx = 0, sy = 0;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        double x = s->x ? s->x[i] : (double)i, y = s->y[i];
        if (!isfinite(x) || !isfinite(y)) continue;
        sx += x;
        sy += y;
        k++;
        rank++;
        if (rank == end) {
            out->x[b] = sx / (double)k;
            out->y[b] = sy / (double)k;
            /* A mean of finite values can overflow to ±Inf: clamp. */
            if (!isfinite(out->x[b])) out->x[b] = x;
            if (!isfinite(out->y[b])) out->y[b] = y;
            b++;
            sx = sy = 0;
            k = 0;
            if (b < m) end = (size_t)(((unsigned long long)(b + 1) * finite) / m);
        }
    }
    out->n = b;
    return true;
}

/* ---- axes ---- */
typedef struct {
    double lo, hi;     /* axis range (log10 units on a log axis) */
    bool log;
    double tick[MAX_TICKS];
    int nticks;
    double step;       /* linear axes: tick spacing */
} axis;

static double nice_step(double raw)
{
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * mag;
}

/* integral: the values are whole numbers (iterations): no ticks between. */
static void linear_axis(axis *a, double lo, double hi, bool integral)
{
    a->log = false;
    if (!(hi > lo)) { /* one value: open a small range around it */
        double d = lo != 0.0 ? fabs(lo) * 0.1 : 1.0;
        lo -= d;
        hi += d;
    }
    if (!isfinite(hi - lo)) { /* absurd ranges: halve until representable */
        lo /= 4;
        hi /= 4;
    }
    double step = nice_step((hi - lo) / 6.0);
    if (integral && step < 1.0) step = 1.0;
    a->lo = floor(lo / step) * step;
    a->hi = ceil(hi / step) * step;
    if (!(a->hi > a->lo)) a->hi = a->lo + step; /* lo, hi huge vs step */
    a->step = step;
    a->nticks = 0;
    double k0 = round(a->lo / step), k1 = round(a->hi / step);
    for (double k = k0; k <= k1 && a->nticks < MAX_TICKS; k++) {
        double v = k * step;
        if (fabs(v) < step * 1e-9) v = 0.0; /* no "-0" */
        a->tick[a->nticks] = v;
        a->nticks++;
    }
}

/* Log axis over [lo, hi] (lo > 0). Up to 4 decades the ends snap to
 * 1, 2, 5 × 10^k and those values are all ticks; beyond that the ends snap
 * to powers of ten, which are the ticks. */
static void log_axis(axis *a, double lo, double hi)
{
    static const double mult[] = {1, 2, 5, 10};
    a->log = true;
    double e0 = floor(log10(lo)), e1 = ceil(log10(hi));
    if (e1 <= e0) e1 = e0 + 1;
    a->step = 1.0;
    a->nticks = 0;
    if (e1 - e0 > 4) {
        a->lo = e0;
        a->hi = e1;
        for (double e = e0; e <= e1 && a->nticks < MAX_TICKS; e++) a->tick[a->nticks++] = e;
        return;
    }
    /* lo: the largest m·10^e0 <= lo; hi: the smallest m·10^(e1-1) >= hi. */
    a->lo = e0;
    for (int i = 0; i < 3; i++)
        if (mult[i] * pow(10.0, e0) <= lo * (1 + 1e-12)) a->lo = e0 + log10(mult[i]);
    a->hi = e1;
    for (int i = 3; i >= 1; i--)
        if (mult[i] * pow(10.0, e1 - 1) >= hi * (1 - 1e-12)) a->hi = e1 - 1 + log10(mult[i]);
    for (double e = e0; e <= e1; e++)
        for (int i = 0; i < 3 && a->nticks < MAX_TICKS; i++) {
            double t = e + log10(mult[i]);
            if (t >= a->lo - 1e-9 && t <= a->hi + 1e-9) a->tick[a->nticks++] = t;
        }
}

/* Tick label of value v on a linear axis with tick spacing `step`. */
static void fmt_linear(char *buf, size_t n, double v, double step, double maxabs)
{
    if (v == 0.0) {
        snprintf(buf, n, "0");
        return;
    }
    if (maxabs >= 1e15 || step < 1e-6) {
        snprintf(buf, n, "%.3g", v);
        return;
    }
    const char *suffix = "";
    if (maxabs >= 1e6 && step >= 1e5) {
        v /= 1e6;
        step /= 1e6;
        suffix = "M";
    } else if (maxabs >= 1e5 && step >= 1e3) {
        v /= 1e3;
        step /= 1e3;
        suffix = "k";
    }
    int decimals = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f%s", decimals, v, suffix);
}

/* Tick label of 10^e on a log axis. */
static void fmt_log(char *buf, size_t n, double e)
{
    int ie = (int)floor(e + 1e-9);
    int m = (int)round(pow(10.0, e - ie));
    if (ie >= -4 && ie <= 5)
        snprintf(buf, n, "%.*f", ie < 0 ? -ie : 0, m * pow(10.0, ie));
    else
        snprintf(buf, n, "%de%d", m, ie);
}

static double map_x(const axis *a, double v)
{
    return PLOT_L + (v - a->lo) / (a->hi - a->lo) * (PLOT_R - PLOT_L);
}

static double map_y(const axis *a, double v)
{
    if (a->log) v = log10(v);
    return PLOT_B - (v - a->lo) / (a->hi - a->lo) * (PLOT_B - PLOT_T);
}

/* ---- the chart ---- */
static void render(sbuf *b, const char *title, const char *xlabel, const char *ylabel,
                   const cp_plot_series *s, const pts *p, int count)
{
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    size_t total = 0;
    bool integral = true;
    for (int i = 0; i < count; i++)
        for (size_t j = 0; j < p[i].n; j++) {
            integral = integral && p[i].x[j] == floor(p[i].x[j]);
            xmin = fmin(xmin, p[i].x[j]);
            xmax = fmax(xmax, p[i].x[j]);
            ymin = fmin(ymin, p[i].y[j]);
            ymax = fmax(ymax, p[i].y[j]);
            total++;
        }
    axis ax, ay;
    if (!total) {
        linear_axis(&ax, 0, 1, false);
        linear_axis(&ay, 0, 1, false);
    } else {
        linear_axis(&ax, xmin, xmax, integral);
        if (ymin > 0 && ymax / ymin > 100.0)
            log_axis(&ay, ymin, ymax);
        else
            linear_axis(&ay, ymin, ymax, false);
    }

    sb_printf(b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" "
              "font-size=\"13\">\n",
              W, H, W, H);
    /* The clip leaves room for markers on the frame. */
    sb_printf(b, "<defs><clipPath id=\"plotarea\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
                 "height=\"%d\"/></clipPath></defs>\n",
              PLOT_L - 4, PLOT_T - 4, PLOT_R - PLOT_L + 8, PLOT_B - PLOT_T + 8);
    sb_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    if (title && *title) {
        sb_printf(b, "<text x=\"%d\" y=\"30\" text-anchor=\"middle\" font-size=\"18\" "
                     "font-weight=\"bold\">", (PLOT_L + PLOT_R) / 2);
        sb_escaped(b, title);
        sb_printf(b, "</text>\n");
    }

    /* Grid and tick labels. */
    char lab[64];
    sb_printf(b, "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n");
    for (int i = 0; i < ax.nticks; i++) {
        double x = map_x(&ax, ax.tick[i]);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", x, PLOT_T, x, PLOT_B);
    }
    for (int i = 0; i < ay.nticks; i++) {
        double y = PLOT_B - (ay.tick[i] - ay.lo) / (ay.hi - ay.lo) * (PLOT_B - PLOT_T);
        sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", PLOT_L, y, PLOT_R, y);
    }
    sb_printf(b, "</g>\n");

    double xmaxabs = fmax(fabs(ax.lo), fabs(ax.hi)), ymaxabs = fmax(fabs(ay.lo), fabs(ay.hi));
    sb_printf(b, "<g fill=\"#333333\" text-anchor=\"middle\">\n");
    for (int i = 0; i < ax.nticks; i++) {
        fmt_linear(lab, sizeof lab, ax.tick[i], ax.step, xmaxabs);
        sb_printf(b, "<text x=\"%.1f\" y=\"%d\">%s</text>\n", map_x(&ax, ax.tick[i]),
                  PLOT_B + 20, lab);
    }
    sb_printf(b, "</g>\n<g fill=\"#333333\" text-anchor=\"end\">\n");
    for (int i = 0; i < ay.nticks; i++) {
        if (ay.log)
            fmt_log(lab, sizeof lab, ay.tick[i]);
        else
            fmt_linear(lab, sizeof lab, ay.tick[i], ay.step, ymaxabs);
        double y = PLOT_B - (ay.tick[i] - ay.lo) / (ay.hi - ay.lo) * (PLOT_B - PLOT_T);
        sb_printf(b, "<text x=\"%d\" y=\"%.1f\">%s</text>\n", PLOT_L - 8, y + 4.5, lab);
    }
    sb_printf(b, "</g>\n");

    /* Frame and axis labels. */
    sb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                 "stroke=\"#555555\" stroke-width=\"1\"/>\n",
              PLOT_L, PLOT_T, PLOT_R - PLOT_L, PLOT_B - PLOT_T);
    if (xlabel && *xlabel) {
        sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"14\">",
                  (PLOT_L + PLOT_R) / 2, PLOT_B + 46);
        sb_escaped(b, xlabel);
        sb_printf(b, "</text>\n");
    }
    if ((ylabel && *ylabel) || ay.log) {
        int cy = (PLOT_T + PLOT_B) / 2;
        sb_printf(b, "<text x=\"22\" y=\"%d\" text-anchor=\"middle\" font-size=\"14\" "
                     "transform=\"rotate(-90 22 %d)\">", cy, cy);
        if (ylabel) sb_escaped(b, ylabel);
        if (ay.log) sb_printf(b, "%s(log scale)", ylabel && *ylabel ? " " : "");
        sb_printf(b, "</text>\n");
    }

    /* The lines. */
    sb_printf(b, "<g clip-path=\"url(#plotarea)\" fill=\"none\" stroke-width=\"1.6\" "
                 "stroke-linejoin=\"round\">\n");
    for (int i = 0; i < count; i++) {
        const char *col = s[i].color && *s[i].color ? s[i].color : palette[i % 10];
        if (p[i].n >= 2) {
            sb_printf(b, "<polyline stroke=\"");
            sb_escaped(b, col);
            sb_printf(b, "\" points=\"");
            for (size_t j = 0; j < p[i].n; j++)
                sb_printf(b, "%s%.1f,%.1f", j ? " " : "", map_x(&ax, p[i].x[j]),
                          map_y(&ay, p[i].y[j]));
            sb_printf(b, "\"/>\n");
        }
        if (p[i].n >= 1 && p[i].n <= MARKER_MAX) {
            sb_printf(b, "<g fill=\"");
            sb_escaped(b, col);
            sb_printf(b, "\" stroke=\"none\">");
            for (size_t j = 0; j < p[i].n; j++)
                sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>", map_x(&ax, p[i].x[j]),
                          map_y(&ay, p[i].y[j]));
            sb_printf(b, "</g>\n");
        }
    }
    sb_printf(b, "</g>\n");

    if (!total)
        sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"16\" "
                     "fill=\"#888888\" font-style=\"italic\">no data yet</text>\n",
                  (PLOT_L + PLOT_R) / 2, (PLOT_T + PLOT_B) / 2);

    /* Legend. */
    if (count > 0) {
        sb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"white\" "
                     "stroke=\"#bbbbbb\"/>\n",
                  LEGEND_X, PLOT_T, W - LEGEND_X - 12, 12 + 22 * count);
        for (int i = 0; i < count; i++) {
            const char *col = s[i].color && *s[i].color ? s[i].color : palette[i % 10];
            int y = PLOT_T + 20 + 22 * i;
            sb_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke-width=\"3\" stroke=\"",
                      LEGEND_X + 10, y - 4, LEGEND_X + 34, y - 4);
            sb_escaped(b, col);
            sb_printf(b, "\"/>\n<text x=\"%d\" y=\"%d\">", LEGEND_X + 42, y);
            if (s[i].name)
                sb_escaped(b, s[i].name);
            else
                sb_printf(b, "series %d", i);
            if (!p[i].n) sb_printf(b, " (no data)");
            sb_printf(b, "</text>\n");
        }
    }
    sb_printf(b, "</svg>\n");
}

/* ---- atomic write ---- */
cp_status cp_plot_svg_write(const char *path, const char *title, const char *xlabel,
                            const char *ylabel, const cp_plot_series *s, int count)
{
    if (!path || !*path)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_plot_svg_write: NULL or empty path");
    if (count < 0 || (count > 0 && !s))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_plot_svg_write(%s): %d series at %p",
                            path, count, (const void *)s);
    for (int i = 0; i < count; i++)
        if (s[i].n > 0 && !s[i].y)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                                "cp_plot_svg_write(%s): series %d (%s) has %zu points but no y",
                                path, i, s[i].name ? s[i].name : "unnamed", s[i].n);

    cp_status st = CP_OK;
    sbuf b = {NULL, 0, 0, false};
    pts *p = calloc(count > 0 ? (size_t)count : 1, sizeof *p);
    if (!p) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", path);
    for (int i = 0; i < count && st == CP_OK; i++)
        if (!prepare(&s[i], &p[i]))
            st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", path);
    if (st == CP_OK) {
        render(&b, title, xlabel, ylabel, s, p, count);
        if (b.oom)
            st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", path);
        else
            st = cp_write_file_atomic(path, b.p, b.len);
    }
    for (int i = 0; i < count; i++) {
        free(p[i].x);
        free(p[i].y);
    }
    free(p);
    free(b.p);
    return st;
}
