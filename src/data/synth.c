/* Synthetic faces: random parameters drawn into an image with signed
 * distances, so that every edge is anti-aliased (coverage = 0.5 − d/pixel).
 *
 * Coordinates are in units of the image side. A face is laid out in a
 * canonical frame (eyes near row 0.42, nose tip ~0.55, mouth ~0.68, chin
 * ~0.89, like an aligned face crop and MODEL.md's `face` mask); a small pose
 * (shift, scale, rotation) maps it into the image. */
#include "clinpaint/synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/image.h"
#include "clinpaint/rng.h"
#include "data/data_internal.h"

#define TAG_SYNTH 0x73796e7468000001ULL /* "synth" */

typedef struct rgbf {
    float r, g, b;
} rgbf;

typedef struct face {
    /* pose: image = pivot + t + s·R(theta)·(canonical − pivot) */
    float tx, ty, scale, cos_t, sin_t;
    rgbf bg0, bg1;
    float bg_dx, bg_dy;
    /* head */
    float cx, cy, a, b, jaw_n;
    rgbf skin;
    float light_x, light_y, light_z, ambient;
    /* hair: style 0 short, 1 long, 2 buzz */
    int hair_style;
    rgbf hair;
    float hair_h0, hair_h1, hair_freq, hair_phase;
    rgbf clothes;
    /* eyes and brows (x offsets from cx, mirrored) */
    float ex, ey, ew, eh, gaze_x, gaze_y;
    rgbf iris;
    int makeup;
    rgbf shadow_col;
    float bx, by, bl, bth, arch, btilt;
    rgbf brow;
    /* nose */
    float ny, nw;
    /* mouth */
    float my, mw, hu, hl, smile, open;
    rgbf lip;
    int beard;
    uint64_t noise_key;
} face;

static float uni(cp_rng *r, float lo, float hi) { return lo + (hi - lo) * cp_rng_uniform(r); }
static rgbf rgb(float r, float g, float b) { return (rgbf){r, g, b}; }
static rgbf mix(rgbf a, rgbf b, float t)
{
    return rgb(a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t);
}
static rgbf scale_c(rgbf a, float k) { return rgb(a.r * k, a.g * k, a.b * k); }
static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

/* Piecewise-linear palette lookup, t in [0, 1]. */
static rgbf palette(const rgbf *p, int n, float t)
{
    float x = clampf(t, 0, 1) * (float)(n - 1);
    int i = (int)x;
    if (i >= n - 1) return p[n - 1];
    return mix(p[i], p[i + 1], x - (float)i);
}

static rgbf random_colour(cp_rng *r, float lo, float hi)
{
    return rgb(uni(r, lo, hi), uni(r, lo, hi), uni(r, lo, hi));
}

/* ---- parameters: upper-face choices first, lower face derived ---- */

static void draw_params(cp_rng *r, face *f)
{
    static const rgbf skins[] = {{255, 224, 199}, {240, 196, 165}, {222, 170, 130},
                                 {190, 130, 92},  {140, 90, 60},   {92, 60, 42}};
    static const rgbf hairs[] = {{28, 24, 22},   {62, 40, 28},   {105, 70, 42},
                                 {196, 160, 98}, {150, 68, 36},  {165, 162, 158}};
    static const rgbf irises[] = {{80, 50, 30}, {45, 30, 20}, {70, 110, 160},
                                  {80, 120, 70}, {120, 100, 50}, {110, 120, 130}};
    static const rgbf shadows[] = {{120, 70, 140}, {60, 110, 170}, {150, 110, 70}, {90, 140, 90}};

    f->tx = uni(r, -0.03f, 0.03f);
    f->ty = uni(r, -0.025f, 0.025f);
    f->scale = uni(r, 0.94f, 1.06f);
    float th = uni(r, -0.10f, 0.10f); /* about ±6° */
    f->cos_t = cosf(th);
    f->sin_t = sinf(th);

    f->bg0 = random_colour(r, 40, 230);
    f->bg1 = mix(f->bg0, random_colour(r, 40, 230), uni(r, 0.3f, 0.9f));
    float ga = uni(r, 0, 6.2831853f);
    f->bg_dx = cosf(ga);
    f->bg_dy = sinf(ga);

    f->cx = 0.5f;
    f->cy = 0.52f;
    f->a = uni(r, 0.24f, 0.30f);
    f->b = uni(r, 0.345f, 0.395f);
    /* wider faces get squarer jaws */
    f->jaw_n = 1.7f + 8.0f * (f->a - 0.24f) + uni(r, -0.1f, 0.1f);
    f->skin = palette(skins, 6, cp_rng_uniform(r));
    f->skin = rgb(f->skin.r + uni(r, -8, 8), f->skin.g + uni(r, -8, 8), f->skin.b + uni(r, -8, 8));

    float la = uni(r, 0, 6.2831853f), lr = uni(r, 0.25f, 0.65f);
    f->light_x = lr * cosf(la);
    f->light_y = lr * sinf(la) - 0.15f; /* more often from above */
    f->light_z = 1.0f;
    float ln = sqrtf(f->light_x * f->light_x + f->light_y * f->light_y + 1.0f);
    f->light_x /= ln;
    f->light_y /= ln;
    f->light_z /= ln;
    f->ambient = uni(r, 0.35f, 0.55f);

    f->hair_style = (int)cp_rng_range(r, 0, 2);
    f->hair = palette(hairs, 6, cp_rng_uniform(r));
    f->hair_h0 = f->cy - f->b + uni(r, 0.075f, 0.13f);
    f->hair_h1 = uni(r, 0.10f, 0.17f);
    f->hair_freq = uni(r, 38.0f, 62.0f);
    f->hair_phase = uni(r, 0, 6.2831853f);
    f->clothes = random_colour(r, 20, 220);

    /* eyes scale with the face width */
    f->ex = uni(r, 0.100f, 0.125f) * (f->a / 0.27f);
    f->ey = uni(r, 0.40f, 0.435f);
    f->ew = uni(r, 0.040f, 0.052f);
    f->eh = uni(r, 0.015f, 0.025f);
    f->gaze_x = uni(r, -0.25f, 0.25f);
    f->gaze_y = uni(r, -0.15f, 0.15f);
    f->iris = irises[cp_rng_range(r, 0, 5)];
    f->makeup = cp_rng_uniform(r) < 0.25f;
    f->shadow_col = shadows[cp_rng_range(r, 0, 3)];

    f->bx = f->ex + uni(r, -0.005f, 0.01f);
    f->by = f->ey - uni(r, 0.048f, 0.065f);
    f->bl = uni(r, 0.048f, 0.068f);
    f->bth = uni(r, 0.010f, 0.026f);
    f->arch = uni(r, 0.0f, 0.018f);
    f->btilt = uni(r, -0.01f, 0.01f);
    f->brow = mix(f->hair, rgb(20, 15, 12), 0.35f);

    /* lower face: functions of the upper face plus a little noise */
    f->ny = f->ey + uni(r, 0.12f, 0.145f);
    f->nw = 0.25f * f->ex + uni(r, -0.002f, 0.002f);
    f->my = f->ny + 0.06f + 0.5f * (f->b - 0.345f) + 0.35f * (f->ny - f->ey - 0.12f) + uni(r, 0.035f, 0.045f);
    f->mw = 0.52f * f->ex + uni(r, -0.004f, 0.004f);
    f->hu = 0.35f * f->eh + uni(r, 0.002f, 0.004f);
    f->hl = 0.55f * f->eh + uni(r, 0.003f, 0.005f);
    f->smile = 0.9f * (f->arch - 0.006f) + uni(r, -0.002f, 0.002f);
    f->open = f->eh > 0.0225f ? 0.6f * f->eh : 0.0f;
    rgbf lip_base = mix(rgb(205, 105, 110), rgb(120, 55, 55), clampf((255 - f->skin.r) / 160.0f, 0, 1));
    if (f->makeup) lip_base = rgb(185, 30, 50);
    f->lip = mix(f->skin, lip_base, f->makeup ? 0.85f : 0.6f);
    f->beard = f->hair_style != 1 && f->bth > 0.019f;
    f->noise_key = cp_rng_next(r);
}

/* ---- signed distances (negative inside), in canonical units ---- */

/* Superellipse |x/a|^n + |y/b|^n = 1, first-order distance (f − 1)/|∇f|. */
static float sd_superellipse(float x, float y, float a, float b, float n)
{
    float ax = fabsf(x) / a, ay = fabsf(y) / b;
    if (n == 2.0f) {
        float f = sqrtf(ax * ax + ay * ay);
        if (f < 1e-4f) return -fminf(a, b);
        float g = sqrtf((ax / a) * (ax / a) + (ay / b) * (ay / b)) / f;
        return (f - 1.0f) / g;
    }
    float px = powf(ax, n), py = powf(ay, n);
    float f = powf(px + py, 1.0f / n);
    if (f < 1e-4f) return -fminf(a, b);
    float gx = powf(ax, n - 1) / a, gy = powf(ay, n - 1) / b;
    float g = powf(f, 1 - n) * sqrtf(gx * gx + gy * gy);
    return g > 1e-8f ? (f - 1.0f) / g : -fminf(a, b);
}

static float sd_ellipse(float x, float y, float a, float b) { return sd_superellipse(x, y, a, b, 2.0f); }

static float sd_circle(float x, float y, float rad) { return sqrtf(x * x + y * y) - rad; }

static float sd_box(float x, float y, float hw, float hh)
{
    float qx = fabsf(x) - hw, qy = fabsf(y) - hh;
    float ox = fmaxf(qx, 0), oy = fmaxf(qy, 0);
    return sqrtf(ox * ox + oy * oy) + fminf(fmaxf(qx, qy), 0.0f);
}

/* The face outline: an ellipse above the centre line, a superellipse (jaw)
 * below it; both have half-width a at the join. */
static float sd_face(const face *f, float x, float y)
{
    return y <= 0 ? sd_ellipse(x, y, f->a, f->b) : sd_superellipse(x, y, f->a, f->b, f->jaw_n);
}

/* A brow: a thick curve over [-bl, bl] around its centre, thinner at the
 * outer end. `s` is +1 for the right brow (outer end at +x), −1 for the left. */
static float sd_brow(const face *f, float x, float y, float s)
{
    float t = clampf(x / f->bl, -1, 1);
    float outer = 0.5f + 0.5f * t * s; /* 0 inner .. 1 outer */
    float curve = -f->arch * (1 - t * t) + f->btilt * (outer - 0.5f) * 2;
    float th = f->bth * (1.0f - 0.45f * outer) * 0.5f;
    return fmaxf(fabsf(y - curve) - th, fabsf(x) - f->bl);
}

static float cover(float d, float px) { return clampf(0.5f - d / px, 0, 1); }

static void over(rgbf *dst, rgbf c, float alpha)
{
    if (alpha <= 0) return;
    dst->r += (c.r - dst->r) * alpha;
    dst->g += (c.g - dst->g) * alpha;
    dst->b += (c.b - dst->b) * alpha;
}

/* Lambert shading on an ellipsoid around the head. */
static float shade_at(const face *f, float x, float y)
{
    float nx = x / (f->a * 1.25f), ny = (y + 0.03f) / (f->b * 1.25f);
    float r2 = nx * nx + ny * ny;
    if (r2 > 1.0f) {
        float k = 1.0f / sqrtf(r2);
        nx *= k;
        ny *= k;
        r2 = 1.0f;
    }
    float nz = sqrtf(1.0f - r2);
    float d = nx * f->light_x + ny * f->light_y + nz * f->light_z;
    return f->ambient + (1.12f - f->ambient) * fmaxf(d, 0.0f);
}

/* ---- one pixel ---- */

static void draw_eye(const face *f, rgbf *c, float x, float y, float s, float px, float shade)
{
    float dx = x - s * f->ex, dy = y - f->ey;
    if (fabsf(dx) > f->ew * 1.6f || fabsf(dy) > f->eh * 3.2f) return;
    if (f->makeup) {
        float d = sd_ellipse(dx, dy + f->eh * 0.9f, f->ew * 1.15f, f->eh * 1.6f);
        over(c, scale_c(mix(f->skin, f->shadow_col, 0.7f), shade), 0.75f * cover(d, px * 3));
    }
    float white_d = sd_ellipse(dx, dy, f->ew, f->eh);
    float lash_d = sd_ellipse(dx, dy - f->eh * 0.08f, f->ew + 0.004f, f->eh + 0.0045f);
    rgbf lash = mix(f->brow, rgb(15, 10, 10), 0.5f);
    over(c, scale_c(lash, shade), cover(lash_d, px) * (dy < 0 ? 1.0f : 0.45f));
    over(c, scale_c(rgb(238, 236, 230), shade), cover(white_d, px));
    float ir = f->eh * 0.98f;
    float ix = dx - f->gaze_x * (f->ew - ir), iy = dy - f->gaze_y * f->eh;
    over(c, scale_c(f->iris, shade), cover(fmaxf(sd_circle(ix, iy, ir), white_d), px));
    over(c, rgb(10, 8, 8), cover(fmaxf(sd_circle(ix, iy, ir * 0.45f), white_d), px));
    over(c, rgb(255, 255, 255),
         0.85f * cover(fmaxf(sd_circle(ix - ir * 0.35f, iy + ir * 0.35f, ir * 0.22f), white_d), px));
}

static void draw_mouth(const face *f, rgbf *c, float x, float y, float px, float shade)
{
    float dx = x - f->cx, dy = y - f->my;
    if (fabsf(dx) > f->mw * 1.3f || fabsf(dy) > 0.08f) return;
    float t = clampf(dx / f->mw, -1, 1), w = 1 - t * t;
    float corner = -f->smile * t * t;
    float bow = 1.0f - 0.35f * expf(-(t / 0.18f) * (t / 0.18f));
    float top = corner - f->hu * w * bow - f->open * 0.5f * w;
    float bot = corner + f->hl * powf(w, 0.7f) + f->open * w;
    float lips_d = fmaxf(fmaxf(top - dy, dy - bot), fabsf(dx) - f->mw);
    over(c, scale_c(f->lip, shade), cover(lips_d, px));
    /* a highlight on the lower lip */
    float hl_d = sd_ellipse(dx, dy - (corner + f->open * w + f->hl * 0.45f), f->mw * 0.35f, f->hl * 0.25f);
    over(c, scale_c(mix(f->lip, rgb(255, 255, 255), 0.35f), shade), 0.6f * cover(hl_d, px * 2));
    rgbf dark = scale_c(f->lip, 0.35f);
    if (f->open > 0) {
        float in_top = corner - f->open * 0.5f * w, in_bot = corner + f->open * w;
        float in_d = fmaxf(fmaxf(in_top - dy, dy - in_bot), fabsf(dx) - f->mw * 0.92f);
        over(c, scale_c(rgb(60, 20, 25), shade), cover(in_d, px));
        float teeth_d = fmaxf(fmaxf(in_top - dy, dy - (in_top + f->open * 0.55f * w)),
                              fabsf(dx) - f->mw * 0.7f);
        over(c, scale_c(rgb(235, 230, 215), shade), cover(fmaxf(teeth_d, in_d), px));
    } else {
        float line_d = fmaxf(fabsf(dy - corner) - 0.0025f, fabsf(dx) - f->mw * 0.98f);
        over(c, scale_c(dark, shade), cover(line_d, px));
    }
}

static void draw_nose(const face *f, rgbf *c, float x, float y, float px, float shade)
{
    float dx = x - f->cx, dy = y - f->ny;
    if (fabsf(dx) > 0.08f || dy < -0.2f || dy > 0.05f) return;
    rgbf dark = scale_c(f->skin, 0.62f * shade);
    /* the side of the nose away from the light, as a soft line */
    float side = f->light_x > 0 ? -1.0f : 1.0f;
    float lx = side * (f->nw * 0.75f) * clampf((dy + 0.12f) / 0.12f, 0.2f, 1.0f);
    float line_d = fmaxf(fabsf(dx - lx) - 0.004f, fmaxf(-0.1f - dy, dy + 0.01f));
    over(c, dark, 0.4f * cover(line_d, px * 3));
    /* shadow under the tip, nostrils, a highlight on the tip */
    over(c, dark, 0.5f * cover(sd_ellipse(dx, dy - 0.012f, f->nw * 1.3f, 0.012f), px * 2.5f));
    rgbf nostril = scale_c(f->skin, 0.3f * shade);
    over(c, nostril, cover(sd_ellipse(dx - f->nw * 0.55f, dy - 0.006f, f->nw * 0.42f, 0.0075f), px));
    over(c, nostril, cover(sd_ellipse(dx + f->nw * 0.55f, dy - 0.006f, f->nw * 0.42f, 0.0075f), px));
    over(c, scale_c(mix(f->skin, rgb(255, 255, 255), 0.3f), shade),
         0.35f * cover(sd_ellipse(dx, dy + 0.016f, f->nw * 0.5f, 0.012f), px * 3));
}

/* Hair texture: faint strands. */
static rgbf hair_at(const face *f, float x, float y, float shade)
{
    float k = 1.0f + 0.07f * sinf(x * f->hair_freq + f->hair_phase + 9.0f * y * y) +
              0.04f * sinf(x * f->hair_freq * 1.7f + 5.0f * y + 1.3f * f->hair_phase);
    return scale_c(f->hair, k * (0.55f + 0.5f * shade));
}

/* Beard, nose, mouth, eyes and brows; (x, y) relative to the face centre. */
static void draw_features(const face *f, rgbf *c, float x, float y, float face_d, float px, float shade)
{
    if (f->beard) {
        /* the top edge rises from below the nose to the sideburns */
        float t = x / f->a;
        float d = fmaxf(face_d + 0.004f, f->ny - f->cy + 0.035f - 0.05f * t * t - y);
        over(c, hair_at(f, x * 1.7f, y, shade), 0.88f * cover(d, px * 2));
    }
    draw_nose(f, c, x + f->cx, y + f->cy, px, shade);
    draw_mouth(f, c, x + f->cx, y + f->cy, px, shade);
    for (int s = -1; s <= 1; s += 2) {
        draw_eye(f, c, x, y + f->cy, (float)s, px, shade);
        float d = sd_brow(f, (x - (float)s * f->bx) * (float)s, y + f->cy - f->by, 1.0f);
        over(c, scale_c(f->brow, 0.6f + 0.4f * shade), cover(d, px));
    }
}

static rgbf pixel(const face *f, float u, float v, float px)
{
    rgbf c = mix(f->bg0, f->bg1, clampf(0.5f + (u - 0.5f) * f->bg_dx + (v - 0.5f) * f->bg_dy, 0, 1));
    /* canonical coordinates, relative to the face centre */
    float pu = u - 0.5f - f->tx, pv = v - 0.55f - f->ty;
    float x = (f->cos_t * pu + f->sin_t * pv) / f->scale + 0.5f - f->cx;
    float y = (-f->sin_t * pu + f->cos_t * pv) / f->scale + 0.55f - f->cy;
    float shade = shade_at(f, x, y);

    if (f->hair_style == 1) { /* long hair behind the head */
        float d = fminf(sd_ellipse(x, y + 0.035f, f->a + 0.055f, f->b + 0.05f),
                        sd_box(x, y + 0.035f - (f->b + 0.1f) * 0.5f, f->a + 0.06f, (f->b + 0.1f) * 0.5f));
        over(&c, hair_at(f, x, y, shade * 0.85f), cover(d, px));
    }
    float neck_w = f->a * 0.5f;
    over(&c, scale_c(f->skin, 0.72f * shade), cover(sd_box(x, y - (f->b + 0.3f) * 0.5f - 0.1f, neck_w, (f->b + 0.3f) * 0.5f), px));
    float clothes_d = fmaxf(sd_superellipse(x, y - 0.7f, 0.46f, 0.3f, 3.0f),
                            -sd_ellipse(x, y - f->b - 0.04f, neck_w * 1.25f, 0.07f));
    over(&c, scale_c(f->clothes, 0.6f + 0.4f * shade), cover(clothes_d, px));
    /* ears, then the face over their inner half */
    for (int s = -1; s <= 1; s += 2) {
        float d = sd_ellipse(x - s * f->a * 0.97f, y - (f->ey - f->cy) - 0.045f, 0.036f, 0.064f);
        over(&c, scale_c(f->skin, 0.9f * shade), cover(d, px));
    }
    float face_d = sd_face(f, x, y);
    over(&c, scale_c(f->skin, shade), cover(face_d, px));
    if (face_d < 0.02f) draw_features(f, &c, x, y, face_d, px, shade);
    {
        /* the cap above the hairline, which comes down at the temples */
        float t = x / f->a;
        float hairline = f->hair_h0 - f->cy + f->hair_h1 * t * t * t * t;
        float cap = sd_ellipse(x, y + 0.028f, f->a + 0.035f, f->b + 0.045f);
        float d = fmaxf(cap, y - hairline);
        float alpha = f->hair_style == 2 ? 0.6f : 1.0f;
        over(&c, hair_at(f, x, y, shade), alpha * cover(d, px));
    }
    return c;
}

static uint8_t to_byte(float v, float noise)
{
    float b = v + noise + 0.5f;
    return (uint8_t)(b <= 0 ? 0 : b >= 255 ? 255 : (int)b);
}

cp_status cp_synth_face(uint64_t seed, uint64_t index, int S, uint8_t *out)
{
    if (S < CP_SYNTH_MIN_SIZE || S > CP_SYNTH_MAX_SIZE)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "synthetic face size %d out of range (%d..%d)", S,
                            CP_SYNTH_MIN_SIZE, CP_SYNTH_MAX_SIZE);
    face f;
    cp_rng r;
    cp_rng_seed(&r, seed, cp_mix64(TAG_SYNTH, index));
    draw_params(&r, &f);
    const float px = 1.0f / ((float)S * f.scale);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            rgbf c = pixel(&f, ((float)x + 0.5f) / (float)S, ((float)y + 0.5f) / (float)S, px);
            /* a little sensor noise, the same for the three channels */
            uint64_t h = cp_mix64(f.noise_key, (uint64_t)y * (uint64_t)S + (uint64_t)x);
            float n = ((float)(h & 0xff) / 255.0f - 0.5f) * 4.0f;
            uint8_t *p = out + ((size_t)y * S + x) * 3;
            p[0] = to_byte(c.r, n);
            p[1] = to_byte(c.g, n);
            p[2] = to_byte(c.b, n);
        }
    return CP_OK;
}

/* mkdir -p. */
static cp_status make_dirs(const char *dir)
{
    char *p = strdup(dir);
    if (!p) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    cp_status st = CP_OK;
    for (char *s = p + 1;; s++) {
        char ch = *s;
        if (ch != '/' && ch != '\0') continue;
        *s = '\0';
        struct stat sb;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            st = cp_set_error(CP_ERR_IO, "cannot create folder '%s': %s", p, strerror(errno));
        } else if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            st = cp_set_error(CP_ERR_IO, "'%s' exists and is not a folder", p);
        }
        *s = ch;
        if (st != CP_OK || ch == '\0') break;
    }
    free(p);
    return st;
}

cp_status cp_synth_write_dataset(const char *dir, uint64_t count, int S, uint64_t seed)
{
    if (count == 0) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "synthetic data set: count must be at least 1");
    if (count > 100000000ULL)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "synthetic data set: count %llu too large",
                            (unsigned long long)count);
    if (S < CP_SYNTH_MIN_SIZE || S > CP_SYNTH_MAX_SIZE)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "synthetic face size %d out of range (%d..%d)", S,
                            CP_SYNTH_MIN_SIZE, CP_SYNTH_MAX_SIZE);
    CP_DATA_TRY(make_dirs(dir));
    cp_image img;
    CP_DATA_TRY(cp_image_alloc(S, S, &img));
    cp_status st = CP_OK;
    char name[64];
    for (uint64_t i = 0; i < count && st == CP_OK; i++) {
        st = cp_synth_face(seed, i, S, img.pixels);
        snprintf(name, sizeof name, "face_%06llu.png", (unsigned long long)i);
        char *path = cp_path_join(dir, name);
        if (st == CP_OK && !path) st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        if (st == CP_OK) st = cp_image_write_png(path, &img);
        free(path);
    }
    cp_image_free(&img);
    return st;
}
