/* The drawing of one mask layer: a body shape given as a signed distance in
 * the mask's own frame (anti-aliased edges: coverage = 0.5 − d/pixel), its
 * colour, pattern and shading, and loops or straps to the crop's sides.
 *
 * The mask's frame: origin at the body's centre, which sits at (0.5, 0.75)
 * of the crop before jitter, units of S, v downwards; the body spans about
 * v ∈ [−0.20, 0.20] (rows 0.55·S..0.95·S, MODEL.md's `face` region) and
 * u ∈ [−0.32, 0.32]. Jitter: centre ±0.03, scale 0.93..1.07, rotation ±6°. */
#include <math.h>
#include <string.h>

#include "data/maskify_internal.h"

#define PI_F 3.14159265358979f
#define LOOP_POINTS 12

typedef struct rgbf {
    float r, g, b;
} rgbf;

typedef struct loop {
    float x[LOOP_POINTS], y[LOOP_POINTS]; /* a polyline in crop units */
} loop;

typedef struct mask_look {
    cp_maskify_kind kind;
    /* pose: crop = centre + scale·R(theta)·(u, v) */
    float cx, cy, scale, cos_t, sin_t;
    float half_w;             /* body half-width */
    int style;                /* N95: 0 cup, 1 folded. cloth: pattern 0..3 */
    rgbf colour, second;      /* body colour; pattern / valve colour */
    float pleat[3];           /* surgical fold lines (fraction of the height) */
    float period, stripe_c, stripe_s; /* cloth pattern */
    int valve;                /* N95: −1 left, 0 none, +1 right */
    int seam;                 /* cloth: a centre seam */
    rgbf loop_colour;
    float loop_radius;        /* crop units */
    loop loops[4];
    int loop_count;
    cp_face_light light;
} mask_look;

static float uni(cp_rng *r, float lo, float hi) { return lo + (hi - lo) * cp_rng_uniform(r); }
static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }
static rgbf rgb(float r, float g, float b) { return (rgbf){r, g, b}; }
static rgbf scale_c(rgbf a, float k) { return rgb(a.r * k, a.g * k, a.b * k); }
static rgbf mix(rgbf a, rgbf b, float t)
{
    return rgb(a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t);
}
static float cover(float d, float px) { return clampf(0.5f - d / px, 0, 1); }

/* A colour from a list, each channel moved by up to ±`spread`. */
static rgbf pick(cp_rng *r, const rgbf *list, int n, float spread)
{
    rgbf c = list[cp_rng_range(r, 0, n - 1)];
    return rgb(clampf(c.r + uni(r, -spread, spread), 0, 255), clampf(c.g + uni(r, -spread, spread), 0, 255),
               clampf(c.b + uni(r, -spread, spread), 0, 255));
}

/* A saturated or pastel fabric colour. */
static rgbf fabric_colour(cp_rng *r)
{
    float h = uni(r, 0, 6), s = uni(r, 0.25f, 0.85f), v = uni(r, 60, 235);
    float f = h - floorf(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    switch ((int)h % 6) {
    case 0: return rgb(v, t, p);
    case 1: return rgb(q, v, p);
    case 2: return rgb(p, v, t);
    case 3: return rgb(p, q, v);
    case 4: return rgb(t, p, v);
    default: return rgb(v, p, q);
    }
}

/* ---- the body, in the mask's frame ---- */

static float sd_superellipse(float x, float y, float a, float b, float n)
{
    float k = powf(powf(fabsf(x) / a, n) + powf(fabsf(y) / b, n), 1.0f / n);
    return (k - 1.0f) * fminf(a, b);
}

/* Top and bottom edges of the surgical and folded shapes at t = u/half_w. */
static float sd_body(const mask_look *m, float u, float v, float *t_out, float *p_out)
{
    float t = clampf(u / m->half_w, -1, 1), top, bottom, d;
    switch (m->kind) {
    case CP_MASKIFY_SURGICAL:
        top = -0.20f + 0.035f * t * t;
        bottom = 0.20f - 0.075f * t * t;
        d = fmaxf(fabsf(u) - m->half_w, fmaxf(top - v, v - bottom));
        break;
    case CP_MASKIFY_N95:
        if (m->style == 0) { /* a moulded cup */
            top = -0.195f;
            bottom = 0.195f;
            d = sd_superellipse(u, v, m->half_w, 0.195f, 2.3f);
        } else { /* a folded KN95: peaks over the nose and at the chin */
            top = -0.205f + 0.075f * fabsf(t);
            bottom = 0.20f - 0.09f * fabsf(t);
            d = fmaxf(fabsf(u) - m->half_w, fmaxf(top - v, v - bottom));
        }
        break;
    default: /* cloth: a straight top, a rounded chin */
        top = -0.19f + 0.03f * t * t;
        bottom = 0.205f;
        d = fmaxf(top - v, sd_superellipse(u, v - 0.01f, m->half_w, 0.195f, 2.6f));
        break;
    }
    *t_out = t;
    *p_out = clampf((v - top) / (bottom - top), 0, 1);
    return d;
}

/* Light on a surface that wraps around the lower face: brightest in the
 * middle, darker towards the cheeks and under the chin, brighter on the side
 * the face is lit from. */
static float shading(const mask_look *m, float t, float p)
{
    float wrap = 0.78f + 0.22f * cosf(fminf(fabsf(t), 1.0f) * PI_F * 0.5f);
    float side = 1.0f + 0.16f * m->light.side * t;
    float chin = 1.0f - 0.14f * fmaxf(0.0f, p - 0.7f) / 0.3f;
    return wrap * side * chin * m->light.level;
}

static rgbf surgical_colour(const mask_look *m, float d, float t, float p)
{
    float k = 1.0f;
    for (int i = 0; i < 3; i++) { /* a fold: a shadow below it, a highlight above */
        float e = p - m->pleat[i];
        if (e > 0) k -= 0.22f * expf(-(e / 0.03f) * (e / 0.03f));
        else k += 0.07f * expf(-(e / 0.02f) * (e / 0.02f));
    }
    if (d > -0.016f) k *= 0.92f;                     /* the bound edge */
    if (p < 0.06f && fabsf(t) < 0.35f) k *= 1.05f;   /* the nose wire */
    return scale_c(m->colour, k);
}

static rgbf n95_colour(const mask_look *m, float u, float v, float d, float t, float p, float px,
                       float *valve_cover, rgbf *valve)
{
    float k = 1.0f;
    if (m->style == 0) { /* a dome */
        float rr = (u / m->half_w) * (u / m->half_w) + (v / 0.195f) * (v / 0.195f);
        k = 0.82f + 0.25f * sqrtf(fmaxf(0.0f, 1.0f - rr));
    } else { /* centre seam and the horizontal fold */
        k -= 0.30f * cover(fabsf(u) - 0.0035f, px);
        k -= 0.10f * expf(-((p - 0.45f) / 0.03f) * ((p - 0.45f) / 0.03f));
        if (fabsf(u) > m->half_w - 0.022f && fabsf(u) < m->half_w - 0.014f) k *= 0.9f;
    }
    if (d > -0.012f) k *= 0.9f;
    *valve_cover = 0;
    if (m->valve) {
        float vx = u - (float)m->valve * 0.12f, vy = v - 0.06f, r = sqrtf(vx * vx + vy * vy);
        *valve_cover = cover(r - 0.048f, px);
        float kv = r < 0.03f ? 0.85f : 1.0f;
        if (r < 0.028f && fabsf(vy) < 0.004f) kv = 0.5f; /* the slot */
        *valve = scale_c(m->second, kv);
    }
    (void)t;
    return scale_c(m->colour, k);
}

static rgbf cloth_colour(const mask_look *m, float u, float v, float px)
{
    float a = 0;
    switch (m->style) {
    case 1: { /* stripes */
        float s = (u * m->stripe_c + v * m->stripe_s) / m->period;
        a = cover((fabsf(s - floorf(s) - 0.5f) - 0.22f) * m->period, px);
        break;
    }
    case 2: { /* dots */
        float gx = u / m->period, gy = v / m->period;
        float dx = (gx - floorf(gx) - 0.5f) * m->period, dy = (gy - floorf(gy) - 0.5f) * m->period;
        a = cover(sqrtf(dx * dx + dy * dy) - m->period * 0.24f, px);
        break;
    }
    case 3: { /* checks: two crossing bands at half strength each */
        float gx = u / m->period, gy = v / m->period;
        float bx = cover((fabsf(gx - floorf(gx) - 0.5f) - 0.25f) * m->period, px);
        float by = cover((fabsf(gy - floorf(gy) - 0.5f) - 0.25f) * m->period, px);
        a = 0.5f * (bx + by);
        break;
    }
    default: break;
    }
    rgbf c = mix(m->colour, m->second, a);
    if (m->seam) c = scale_c(c, 1.0f - 0.25f * cover(fabsf(u) - 0.003f, px));
    return c;
}

/* ---- loops and straps, in crop units ---- */

static void make_loop(loop *l, float x0, float y0, float x1, float y1, float sag)
{
    float mx = 0.5f * (x0 + x1), my = 0.5f * (y0 + y1) + sag;
    for (int i = 0; i < LOOP_POINTS; i++) { /* a quadratic Bézier curve */
        float s = (float)i / (LOOP_POINTS - 1), w = 1 - s;
        l->x[i] = w * w * x0 + 2 * w * s * mx + s * s * x1;
        l->y[i] = w * w * y0 + 2 * w * s * my + s * s * y1;
    }
}

static float sd_loop(const loop *l, float x, float y, float radius)
{
    float best = 1e9f;
    for (int i = 0; i + 1 < LOOP_POINTS; i++) {
        float ax = l->x[i], ay = l->y[i], dx = l->x[i + 1] - ax, dy = l->y[i + 1] - ay;
        float len2 = dx * dx + dy * dy;
        float s = len2 > 0 ? clampf(((x - ax) * dx + (y - ay) * dy) / len2, 0, 1) : 0;
        float ex = x - ax - s * dx, ey = y - ay - s * dy;
        best = fminf(best, ex * ex + ey * ey);
    }
    return sqrtf(best) - radius;
}

/* The crop position of the frame point (u, v). */
static void to_crop(const mask_look *m, float u, float v, float *x, float *y)
{
    *x = m->cx + m->scale * (m->cos_t * u - m->sin_t * v);
    *y = m->cy + m->scale * (m->sin_t * u + m->cos_t * v);
}

/* Ear loops (surgical, cloth) run from the body's upper and lower corners
 * to an ear at the crop's side; straps (N95) run almost level to the sides.
 * They end a little past the crop's edge, so they reach it. */
static void make_loops(mask_look *m, cp_rng *r)
{
    m->loop_count = 0;
    for (int side = -1; side <= 1; side += 2) {
        float edge = side < 0 ? -0.03f : 1.03f, w = (float)side * (m->half_w - 0.012f);
        float ux, uy, lx, ly;
        if (m->kind == CP_MASKIFY_N95) {
            to_crop(m, w, -0.09f, &ux, &uy);
            to_crop(m, w, 0.09f, &lx, &ly);
            make_loop(&m->loops[m->loop_count++], ux, uy, edge, uy + uni(r, -0.015f, 0.01f), 0.005f);
            make_loop(&m->loops[m->loop_count++], lx, ly, edge, ly + uni(r, -0.03f, 0.0f), 0.0f);
        } else {
            float top = m->kind == CP_MASKIFY_SURGICAL ? -0.165f : -0.16f;
            to_crop(m, w, top + 0.015f, &ux, &uy);
            to_crop(m, w, 0.09f, &lx, &ly);
            float ear_top = uy + uni(r, -0.015f, 0.01f), ear_bottom = ear_top + uni(r, 0.05f, 0.09f);
            make_loop(&m->loops[m->loop_count++], ux, uy, edge, ear_top, 0.012f);
            make_loop(&m->loops[m->loop_count++], lx, ly, edge, ear_bottom, -0.01f);
        }
    }
}

/* ---- parameters ---- */

static void draw_look(cp_maskify_kind kind, cp_rng *r, cp_face_light light, mask_look *m)
{
    static const rgbf surgical[] = {{120, 170, 215}, {150, 195, 228}, {125, 195, 170}, {236, 238, 240},
                                    {38, 38, 44},    {232, 182, 200}};
    static const rgbf respirator[] = {{240, 240, 236}, {226, 222, 208}, {175, 177, 182}, {40, 40, 44},
                                      {160, 185, 215}};
    static const rgbf valves[] = {{200, 200, 200}, {90, 90, 95}, {240, 240, 240}, {230, 140, 40}};
    static const rgbf elastic[] = {{235, 235, 235}, {40, 40, 40}, {200, 205, 230}, {230, 215, 120}};
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->light = light;
    float theta = uni(r, -6.0f, 6.0f) * PI_F / 180.0f;
    m->cos_t = cosf(theta);
    m->sin_t = sinf(theta);
    m->cx = 0.5f + uni(r, -0.03f, 0.03f);
    m->cy = 0.75f + uni(r, -0.03f, 0.03f);
    m->scale = uni(r, 0.93f, 1.07f);
    m->half_w = uni(r, 0.30f, 0.33f);
    m->loop_radius = uni(r, 0.005f, 0.008f);
    switch (kind) {
    case CP_MASKIFY_SURGICAL:
        m->colour = pick(r, surgical, 6, 8);
        for (int i = 0; i < 3; i++) m->pleat[i] = 0.30f + 0.19f * (float)i + uni(r, -0.03f, 0.03f);
        m->loop_colour = cp_rng_uniform(r) < 0.6f ? rgb(238, 238, 236) : scale_c(m->colour, 0.9f);
        break;
    case CP_MASKIFY_N95:
        m->style = (int)cp_rng_range(r, 0, 1);
        m->half_w = uni(r, 0.28f, 0.31f);
        m->colour = pick(r, respirator, 5, 6);
        m->valve = cp_rng_uniform(r) < 0.35f ? (cp_rng_uniform(r) < 0.5f ? -1 : 1) : 0;
        m->second = pick(r, valves, 4, 6);
        m->loop_colour = pick(r, elastic, 4, 6);
        m->loop_radius = uni(r, 0.006f, 0.009f);
        break;
    default:
        m->style = (int)cp_rng_range(r, 0, 3);
        m->colour = fabric_colour(r);
        m->second = fabric_colour(r);
        m->period = uni(r, 0.045f, 0.09f);
        float a = uni(r, 0, PI_F);
        m->stripe_c = cosf(a);
        m->stripe_s = sinf(a);
        m->seam = cp_rng_uniform(r) < 0.5f;
        m->loop_colour = cp_rng_uniform(r) < 0.5f ? m->colour : rgb(35, 35, 38);
        m->loop_radius = uni(r, 0.007f, 0.010f);
        break;
    }
    make_loops(m, r);
}

static void blend(float *colour, float *alpha, rgbf c, float a)
{
    if (a <= 0) return;
    colour[0] = c.r * a + colour[0] * (1 - a);
    colour[1] = c.g * a + colour[1] * (1 - a);
    colour[2] = c.b * a + colour[2] * (1 - a);
    *alpha = a + *alpha * (1 - a);
}

void cp_maskify_draw_layer(cp_maskify_kind kind, int S, cp_rng *r, cp_face_light light, float *colour,
                           float *alpha)
{
    mask_look m;
    draw_look(kind, r, light, &m);
    memset(colour, 0, sizeof *colour * (size_t)S * S * 3);
    memset(alpha, 0, sizeof *alpha * (size_t)S * S);
    const float px_crop = 1.0f / (float)S, px = px_crop / m.scale;
    /* the loops' radius is at least half a pixel, so they stay visible */
    const float loop_r = fmaxf(m.loop_radius, 0.5f * px_crop);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float X = ((float)x + 0.5f) / (float)S, Y = ((float)y + 0.5f) / (float)S;
            float *c = colour + ((size_t)y * S + x) * 3, *a = alpha + (size_t)y * S + x;
            /* loops first: the body covers where they are attached */
            for (int i = 0; i < m.loop_count; i++) {
                float d = sd_loop(&m.loops[i], X, Y, loop_r);
                if (d < px_crop) blend(c, a, scale_c(m.loop_colour, m.light.level), cover(d, px_crop));
            }
            float dx = X - m.cx, dy = Y - m.cy;
            float u = (m.cos_t * dx + m.sin_t * dy) / m.scale, v = (-m.sin_t * dx + m.cos_t * dy) / m.scale;
            float t, p, d = sd_body(&m, u, v, &t, &p);
            if (d >= px) continue;
            rgbf body;
            float valve_cover = 0;
            rgbf valve = {0, 0, 0};
            if (kind == CP_MASKIFY_SURGICAL) body = surgical_colour(&m, d, t, p);
            else if (kind == CP_MASKIFY_N95) body = n95_colour(&m, u, v, d, t, p, px, &valve_cover, &valve);
            else body = cloth_colour(&m, u, v, px);
            float k = shading(&m, t, p);
            blend(c, a, scale_c(body, k), cover(d, px));
            if (valve_cover > 0) blend(c, a, scale_c(valve, k), valve_cover * cover(d, px));
        }
}
