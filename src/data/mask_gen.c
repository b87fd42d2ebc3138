/* The generated mask kinds: center, rect, free (brush strokes), face. */
#include <math.h>
#include <string.h>

#include "clinpaint/mask.h"
#include "data/data_internal.h"

static const char *const kind_names[CP_MASK_KIND_COUNT] = {"center", "rect", "free", "face", "mixed"};

const char *cp_mask_kind_name(cp_mask_kind kind)
{
    return (unsigned)kind < CP_MASK_KIND_COUNT ? kind_names[kind] : "?";
}

bool cp_mask_kind_parse(const char *name, cp_mask_kind *out)
{
    for (int k = 0; k < CP_MASK_KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (cp_mask_kind)k;
            return true;
        }
    return false;
}

double cp_mask_coverage(const float *mask, int S)
{
    double ones = 0;
    for (size_t i = 0; i < (size_t)S * S; i++) ones += mask[i] > 0.5f;
    return ones / ((double)S * S);
}

static void fill_rect(float *m, int S, int x0, int y0, int w, int h)
{
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) m[(size_t)y * S + x] = 1.0f;
}

static void gen_center(int S, float *m)
{
    fill_rect(m, S, S / 4, S / 4, S / 2, S / 2);
}

static void gen_rect(int S, cp_rng *r, float *m)
{
    int n = (int)cp_rng_range(r, 1, 3);
    for (int i = 0; i < n; i++) {
        int w = (int)cp_rng_range(r, S / 8, S / 2);
        int h = (int)cp_rng_range(r, S / 8, S / 2);
        int x = (int)cp_rng_range(r, 0, S - w);
        int y = (int)cp_rng_range(r, 0, S - h);
        fill_rect(m, S, x, y, w, h);
    }
}

/* Sets the pixels whose centres lie within `rad` of segment (ax,ay)-(bx,by):
 * a thick line with round ends, so consecutive segments join roundly.
 * Returns how many pixels were newly set. */
static size_t capsule(float *m, int S, float ax, float ay, float bx, float by, float rad)
{
    int x0 = (int)floorf(fminf(ax, bx) - rad), x1 = (int)ceilf(fmaxf(ax, bx) + rad);
    int y0 = (int)floorf(fminf(ay, by) - rad), y1 = (int)ceilf(fmaxf(ay, by) + rad);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > S - 1) x1 = S - 1;
    if (y1 > S - 1) y1 = S - 1;
    float dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    size_t added = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            float px = (float)x + 0.5f - ax, py = (float)y + 0.5f - ay;
            float t = len2 > 0 ? (px * dx + py * dy) / len2 : 0.0f;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            float ex = px - t * dx, ey = py - t * dy;
            if (ex * ex + ey * ey <= rad * rad && m[(size_t)y * S + x] == 0.0f) {
                m[(size_t)y * S + x] = 1.0f;
                added++;
            }
        }
    return added;
}

static float uniformf(cp_rng *r, float lo, float hi) { return lo + (hi - lo) * cp_rng_uniform(r); }

/* Free-form strokes after DeepFill v2: strokes of 4..12 vertices, each
 * segment of random length and turning angle, one brush width per stroke.
 * Segments are added until a coverage drawn in [10%, 40%] is reached; one
 * segment adds at most ~5% of the image, so the result stays below 45%. */
static void gen_free(int S, cp_rng *r, float *m)
{
    const float pi = 3.14159265358979f;
    const double total = (double)S * S;
    double target = 0.10 + 0.30 * cp_rng_uniform(r);
    size_t covered = 0;
    for (int segments = 0; segments < 10000 && (double)covered < target * total;) {
        float x = uniformf(r, 0, (float)S), y = uniformf(r, 0, (float)S);
        float rad = uniformf(r, 0.025f, 0.07f) * (float)S;
        if (rad < 1.0f) rad = 1.0f;
        float angle = uniformf(r, 0, 2 * pi);
        int vertices = (int)cp_rng_range(r, 4, 12);
        for (int v = 0; v < vertices && (double)covered < target * total; v++, segments++) {
            angle += uniformf(r, -pi / 2.5f, pi / 2.5f);
            float len = uniformf(r, 0.05f, 0.25f) * (float)S;
            float nx = x + len * cosf(angle), ny = y + len * sinf(angle);
            if (nx < 0 || ny < 0 || nx > (float)S - 1 || ny > (float)S - 1) {
                angle += pi; /* turn back at the border rather than run along it */
                nx = x + len * cosf(angle);
                ny = y + len * sinf(angle);
            }
            nx = fminf(fmaxf(nx, 0.0f), (float)S - 1);
            ny = fminf(fmaxf(ny, 0.0f), (float)S - 1);
            covered += capsule(m, S, x, y, nx, ny, rad);
            x = nx;
            y = ny;
        }
    }
}

/* Where a medical mask sits on an aligned face crop: from below the nose tip
 * to the chin and from cheek to cheek; each edge jittered by up to 3% of S,
 * the lower corners rounded with a radius of ~15% of S. */
static void gen_face(int S, cp_rng *r, float *m)
{
    const float s = (float)S, j = 0.03f;
    float top = (0.55f + uniformf(r, -j, j)) * s;
    float bottom = (0.95f + uniformf(r, -j, j)) * s;
    float left = (0.18f + uniformf(r, -j, j)) * s;
    float right = (0.82f + uniformf(r, -j, j)) * s;
    float rad = uniformf(r, 0.12f, 0.18f) * s;
    for (int y = 0; y < S; y++) {
        float v = (float)y + 0.5f;
        if (v < top || v >= bottom) continue;
        for (int x = 0; x < S; x++) {
            float u = (float)x + 0.5f;
            if (u < left || u >= right) continue;
            float cy = bottom - rad, cx;
            if (v > cy && (u < left + rad || u > right - rad)) {
                cx = u < left + rad ? left + rad : right - rad;
                if ((u - cx) * (u - cx) + (v - cy) * (v - cy) > rad * rad) continue;
            }
            m[(size_t)y * S + x] = 1.0f;
        }
    }
}

cp_status cp_mask_generate(cp_mask_kind kind, int S, cp_rng *rng, float *out)
{
    if (S < 8 || S > 65536)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "mask size %d out of range (8..65536)", S);
    if ((unsigned)kind >= CP_MASK_KIND_COUNT)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "unknown mask kind %d", (int)kind);
    memset(out, 0, sizeof *out * (size_t)S * S);
    if (kind == CP_MASK_MIXED) kind = (cp_mask_kind)cp_rng_range(rng, 0, 3);
    switch (kind) {
    case CP_MASK_CENTER: gen_center(S, out); break;
    case CP_MASK_RECT: gen_rect(S, rng, out); break;
    case CP_MASK_FREE: gen_free(S, rng, out); break;
    case CP_MASK_FACE: gen_face(S, rng, out); break;
    default: break;
    }
    return CP_OK;
}
