/* The detector's colour augmentation (clinpaint/unmask.h): trained on
 * surgical and N95 masks only, the detector learns their colours rather
 * than "something covers the lower face" and misses cloth masks. Each
 * training sample's mask region is therefore recoloured (hue, saturation
 * and brightness, or a random colour, or a stripe/dot/check pattern of two
 * random colours, keeping the mask's own shading), then the whole image is
 * jittered and sometimes made grey. The target mask is never touched. Every
 * draw is a pure function of (seed, sample id), like the flips, so a resumed
 * run sees the same data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/rng.h"
#include "clinpaint/unmask.h"

#define TAG_DETECT_AUGMENT 0x6d61736b636f6c31ULL /* "maskcol1" */
#define PI_F 3.14159265358979f

enum region_mode { REGION_KEEP, REGION_SHIFT, REGION_SOLID, REGION_PATTERN };

typedef struct detect_look {
    enum region_mode mode;
    float hue, saturation, value;     /* REGION_SHIFT */
    float a[3], b[3];                 /* REGION_SOLID / REGION_PATTERN colours in [0, 1] */
    int pattern;                      /* 0 stripes, 1 dots, 2 checks */
    float period, cos_p, sin_p, phase_x, phase_y, duty;
    bool jitter, gray;                /* the whole image */
    float brightness, contrast, image_saturation;
} detect_look;

static float uni(cp_rng *r, float lo, float hi) { return lo + (hi - lo) * cp_rng_uniform(r); }
static float clamp01(float x) { return x < 0 ? 0 : x > 1 ? 1 : x; }
static float luma(const float *p) { return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]; }

/* Every number is drawn whether used or not, so that one part's draws never
 * depend on another's outcome. */
static void draw_look(uint64_t seed, uint64_t sample_id, int S, detect_look *l)
{
    cp_rng r;
    cp_rng_seed(&r, seed ^ TAG_DETECT_AUGMENT, sample_id);
    memset(l, 0, sizeof *l);
    float u = cp_rng_uniform(&r);
    l->mode = u < 0.15f ? REGION_KEEP : u < 0.40f ? REGION_SHIFT : u < 0.65f ? REGION_SOLID : REGION_PATTERN;
    l->hue = uni(&r, 0, 2 * PI_F);
    l->saturation = uni(&r, 0.3f, 2.5f);
    l->value = uni(&r, 0.5f, 1.3f);
    for (int k = 0; k < 3; k++) l->a[k] = cp_rng_uniform(&r);
    for (int k = 0; k < 3; k++) l->b[k] = cp_rng_uniform(&r);
    l->pattern = (int)cp_rng_range(&r, 0, 2);
    l->period = uni(&r, 3.0f, 10.0f) * (float)S / 64.0f;
    float ang = uni(&r, 0, PI_F);
    l->cos_p = cosf(ang);
    l->sin_p = sinf(ang);
    l->phase_x = uni(&r, 0, 1);
    l->phase_y = uni(&r, 0, 1);
    l->duty = uni(&r, 0.3f, 0.6f);
    l->jitter = cp_rng_uniform(&r) < 0.8f;
    float b = uni(&r, 0.75f, 1.25f), c = uni(&r, 0.75f, 1.25f), s = uni(&r, 0.5f, 1.5f);
    l->brightness = l->jitter ? b : 1.0f;
    l->contrast = l->jitter ? c : 1.0f;
    l->image_saturation = l->jitter ? s : 1.0f;
    l->gray = cp_rng_uniform(&r) < 0.1f;
}

/* Rotation about the grey axis by `angle` (hue), then saturation and value. */
static void shift_colour(const detect_look *l, const float *in, float *out)
{
    const float c = cosf(l->hue), s = sinf(l->hue), k = 1.0f / 3.0f, q = sqrtf(k);
    const float m0 = c + (1 - c) * k, m1 = k * (1 - c) - q * s, m2 = k * (1 - c) + q * s;
    float rot[3] = {m0 * in[0] + m1 * in[1] + m2 * in[2], m2 * in[0] + m0 * in[1] + m1 * in[2],
                    m1 * in[0] + m2 * in[1] + m0 * in[2]};
    float g = luma(rot);
    for (int j = 0; j < 3; j++) out[j] = clamp01((g + (rot[j] - g) * l->saturation) * l->value);
}

/* Pattern weight of colour b at pixel (x, y): 0 or 1. */
static float pattern_at(const detect_look *l, int x, int y)
{
    float px = ((float)x * l->cos_p + (float)y * l->sin_p) / l->period + l->phase_x;
    float py = (-(float)x * l->sin_p + (float)y * l->cos_p) / l->period + l->phase_y;
    float fx = px - floorf(px), fy = py - floorf(py);
    switch (l->pattern) {
    case 0: return fx < l->duty ? 1.0f : 0.0f;
    case 1: {
        float dx = fx - 0.5f, dy = fy - 0.5f;
        return dx * dx + dy * dy < l->duty * l->duty * 0.5f ? 1.0f : 0.0f;
    }
    default: return (((long)floorf(px) + (long)floorf(py)) & 1) ? 1.0f : 0.0f;
    }
}

static void recolour_region(const detect_look *l, int S, float *img, const float *mask)
{
    const size_t plane = (size_t)S * S;
    double lsum = 0, wsum = 0;
    for (size_t i = 0; i < plane; i++) {
        if (mask[i] <= 0) continue;
        float p[3] = {(img[i] + 1) * 0.5f, (img[plane + i] + 1) * 0.5f, (img[2 * plane + i] + 1) * 0.5f};
        lsum += (double)(luma(p) * mask[i]);
        wsum += (double)mask[i];
    }
    if (wsum <= 0) return; /* no mask (a negative): nothing to recolour */
    const float mean = (float)(lsum / wsum) > 0.02f ? (float)(lsum / wsum) : 0.02f;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            size_t i = (size_t)y * S + x;
            float w = mask[i] < 0 ? 0 : mask[i] > 1 ? 1 : mask[i];
            if (w <= 0) continue;
            float p[3] = {(img[i] + 1) * 0.5f, (img[plane + i] + 1) * 0.5f, (img[2 * plane + i] + 1) * 0.5f};
            float q[3];
            if (l->mode == REGION_SHIFT) {
                shift_colour(l, p, q);
            } else { /* a new colour that keeps the mask's folds and shadows */
                float shade = luma(p) / mean, t = l->mode == REGION_PATTERN ? pattern_at(l, x, y) : 0;
                shade = shade < 0.3f ? 0.3f : shade > 1.6f ? 1.6f : shade;
                for (int j = 0; j < 3; j++) q[j] = clamp01((l->a[j] + (l->b[j] - l->a[j]) * t) * shade);
            }
            for (int j = 0; j < 3; j++) img[j * plane + i] = 2 * (p[j] + (q[j] - p[j]) * w) - 1;
        }
}

static void jitter_image(const detect_look *l, int S, float *img)
{
    const size_t plane = (size_t)S * S;
    double sum = 0;
    for (size_t i = 0; i < plane; i++) {
        float p[3] = {img[i], img[plane + i], img[2 * plane + i]};
        sum += (double)luma(p);
    }
    /* In [-1, 1]: brightness scales (v + 1), contrast acts about the mean. */
    const float mean = ((float)(sum / (double)plane) + 1) * l->brightness - 1;
    for (size_t i = 0; i < plane; i++) {
        float p[3];
        for (int j = 0; j < 3; j++) p[j] = (img[j * plane + i] + 1) * l->brightness - 1;
        float g = luma(p);
        for (int j = 0; j < 3; j++) {
            float v = l->gray ? g : g + (p[j] - g) * l->image_saturation;
            v = (v - mean) * l->contrast + mean;
            img[j * plane + i] = v < -1 ? -1 : v > 1 ? 1 : v;
        }
    }
}

void cp_detect_augment(uint64_t seed, uint64_t sample_id, int S, float *image, const float *mask)
{
    detect_look l;
    draw_look(seed, sample_id, S, &l);
    if (l.mode != REGION_KEEP) recolour_region(&l, S, image, mask);
    if (l.jitter || l.gray) jitter_image(&l, S, image);
}

const char *cp_detect_augment_name(bool on) { return on ? "colour" : "none"; }

cp_status cp_detect_augment_parse(const char *name, bool *on)
{
    if (name && (strcmp(name, "colour") == 0 || strcmp(name, "color") == 0)) {
        *on = true;
        return CP_OK;
    }
    if (name && strcmp(name, "none") == 0) {
        *on = false;
        return CP_OK;
    }
    return cp_set_error(CP_ERR_INVALID_ARGUMENT, "augmentation '%s' with --task detect: choose colour or none",
                        name ? name : "(null)");
}
