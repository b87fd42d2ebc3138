/* Framing augmentation: photos people take are framed, lit and coloured
 * unlike CelebA's aligned crops, and a context encoder's dense bottleneck
 * ties what it learned to where things sit in the frame. Training samples
 * are therefore re-framed (zoom, shift, rotation about the centre) and
 * recoloured, each from a draw that is a pure function of (seed, epoch,
 * position), like the flips, so that a resumed run sees the same data. */
#include <math.h>
#include <string.h>

#include "clinpaint/dataset.h"
#include "clinpaint/rng.h"
#include "data/data_internal.h"

#define TAG_AUGMENT 0x6672616d696e6731ULL /* "framing1" */
#define PI_F 3.14159265358979f

static const char *const AUGMENT_NAMES[8] = {
    "none", "geometry", "colour", "geometry+colour", "gray", "geometry+gray", "colour+gray", "framing",
};

const char *cp_augment_name(cp_augment a)
{
    return (unsigned)a < 8 ? AUGMENT_NAMES[a] : NULL;
}

static int augment_part(const char *s, size_t n)
{
    static const char *const parts[3] = {"geometry", "colour", "gray"};
    for (int i = 0; i < 3; i++)
        if (strlen(parts[i]) == n && strncmp(s, parts[i], n) == 0) return 1 << i;
    return 0;
}

cp_status cp_augment_parse(const char *name, cp_augment *out)
{
    if (name && strcmp(name, "none") == 0) {
        *out = CP_AUGMENT_NONE;
        return CP_OK;
    }
    if (name && strcmp(name, "framing") == 0) {
        *out = CP_AUGMENT_FRAMING;
        return CP_OK;
    }
    int set = 0;
    for (const char *p = name; p && *p;) {
        size_t n = strcspn(p, "+,");
        int bit = augment_part(p, n);
        if (!bit || (set & bit)) {
            set = 0;
            break;
        }
        set |= bit;
        p += n;
        if (*p && !*++p) set = 0; /* a trailing separator */
    }
    if (!set)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "augmentation '%s': choose none, framing, or parts among geometry, colour "
                            "and gray joined by '+'", name ? name : "(null)");
    *out = (cp_augment)set;
    return CP_OK;
}

/* Mirror about the edge pixels (…, 2, 1, 0, 1, 2, …), any distance out. */
static int reflect(int i, int S)
{
    if (S == 1) return 0;
    int period = 2 * (S - 1);
    i %= period;
    if (i < 0) i += period;
    return i > S - 1 ? period - i : i;
}

void cp_reframe_rgb(const uint8_t *src, int S, const cp_framing *f, uint8_t *dst)
{
    const float c = 0.5f * (float)S, cs = cosf(f->angle), sn = sinf(f->angle);
    const float inv = 1.0f / f->zoom, ox = c + f->shift_x * (float)S, oy = c + f->shift_y * (float)S;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            /* output pixel centre -> source position (inverse of the framing) */
            float dx = ((float)x + 0.5f - ox) * inv, dy = ((float)y + 0.5f - oy) * inv;
            float sx = cs * dx + sn * dy + c - 0.5f, sy = -sn * dx + cs * dy + c - 0.5f;
            float fx0 = floorf(sx), fy0 = floorf(sy);
            float fx = sx - fx0, fy = sy - fy0;
            int x0 = (int)fx0, y0 = (int)fy0;
            int xa = reflect(x0, S), xb = reflect(x0 + 1, S);
            int ya = reflect(y0, S), yb = reflect(y0 + 1, S);
            uint8_t *o = dst + ((size_t)y * S + x) * 3;
            for (int k = 0; k < 3; k++) {
                float a = src[((size_t)ya * S + xa) * 3 + k], b = src[((size_t)ya * S + xb) * 3 + k];
                float d = src[((size_t)yb * S + xa) * 3 + k], e = src[((size_t)yb * S + xb) * 3 + k];
                float v = (a + (b - a) * fx) * (1.0f - fy) + (d + (e - d) * fx) * fy;
                o[k] = (uint8_t)(v >= 255.0f ? 255 : v <= 0.0f ? 0 : (int)(v + 0.5f));
            }
        }
}

static float uniform(cp_rng *r, float lo, float hi) { return lo + (hi - lo) * cp_rng_uniform(r); }

void cp_augment_draw(uint64_t seed, uint64_t epoch, uint64_t position, cp_augment_params *out)
{
    cp_rng r;
    cp_rng_seed(&r, seed ^ TAG_AUGMENT, cp_mix64(epoch, position));
    memset(out, 0, sizeof *out);
    /* Every number is drawn whether used or not, so that the draws of one
     * part never depend on the outcome of another. */
    out->reframe = cp_rng_uniform(&r) < 0.75f;
    float lz = uniform(&r, logf(0.7f), logf(1.5f));
    float sx = uniform(&r, -0.08f, 0.08f), sy = uniform(&r, -0.08f, 0.08f);
    float ang = uniform(&r, -10.0f, 10.0f) * (PI_F / 180.0f);
    out->frame = out->reframe ? (cp_framing){expf(lz), sx, sy, ang} : (cp_framing){1.0f, 0, 0, 0};
    out->jitter = cp_rng_uniform(&r) < 0.8f;
    float b = uniform(&r, 0.8f, 1.2f), c = uniform(&r, 0.8f, 1.2f), s = uniform(&r, 0.6f, 1.4f);
    out->brightness = out->jitter ? b : 1.0f;
    out->contrast = out->jitter ? c : 1.0f;
    out->saturation = out->jitter ? s : 1.0f;
    out->gray = cp_rng_uniform(&r) < 0.15f;
}

void cp_augment_keep(cp_augment_params *p, int parts)
{
    if (!(parts & CP_AUGMENT_GEOMETRY)) {
        p->reframe = false;
        p->frame = (cp_framing){1.0f, 0, 0, 0};
    }
    if (!(parts & CP_AUGMENT_COLOUR)) {
        p->jitter = false;
        p->brightness = p->contrast = p->saturation = 1.0f;
    }
    if (!(parts & CP_AUGMENT_GRAY)) p->gray = false;
}

static float luma(const float *p) { return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]; }

static uint8_t to_byte(float v) { return (uint8_t)(v >= 255.0f ? 255 : v <= 0.0f ? 0 : (int)(v + 0.5f)); }

void cp_augment_apply(const uint8_t *src, int S, const cp_augment_params *p, uint8_t *dst)
{
    const size_t n = (size_t)S * S;
    if (p->reframe) cp_reframe_rgb(src, S, &p->frame, dst);
    else memcpy(dst, src, n * 3);
    if (!p->jitter && !p->gray) return;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        float px[3] = {dst[i * 3], dst[i * 3 + 1], dst[i * 3 + 2]};
        sum += luma(px);
    }
    const float mean = (float)(sum / (double)n) * p->brightness;
    for (size_t i = 0; i < n; i++) {
        float px[3];
        for (int k = 0; k < 3; k++) px[k] = (float)dst[i * 3 + k] * p->brightness;
        float g = luma(px);
        for (int k = 0; k < 3; k++) {
            float v = p->gray ? g : g + (px[k] - g) * p->saturation;
            dst[i * 3 + k] = to_byte((v - mean) * p->contrast + mean);
        }
    }
}
