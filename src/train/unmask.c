/* From the detector's probabilities to the hole the context encoder fills
 * (clinpaint/unmask.h): resample, threshold, dilate. Dilation removes the
 * colour rim a mask's soft edge would leave around the fill. */
#include "clinpaint/unmask.h"
#include "backend/opencl/runtime/check.h"

#include <stdlib.h>
#include <string.h>

/* prob at S×S pixel (x, y), bilinear with centres aligned, edges clamped. */
static float sample(const float *prob, int D, int S, int x, int y)
{
    float fx = ((float)x + 0.5f) * (float)D / (float)S - 0.5f;
    float fy = ((float)y + 0.5f) * (float)D / (float)S - 0.5f;
    if (fx < 0) fx = 0;
    if (fy < 0) fy = 0;
    if (fx > (float)(D - 1)) fx = (float)(D - 1);
    if (fy > (float)(D - 1)) fy = (float)(D - 1);
    int x0 = (int)fx, y0 = (int)fy;
    int x1 = x0 + 1 < D ? x0 + 1 : x0, y1 = y0 + 1 < D ? y0 + 1 : y0;
    float ax = fx - (float)x0, ay = fy - (float)y0;
    float top = (1 - ax) * prob[(size_t)y0 * D + x0] + ax * prob[(size_t)y0 * D + x1];
    float bot = (1 - ax) * prob[(size_t)y1 * D + x0] + ax * prob[(size_t)y1 * D + x1];
    return (1 - ay) * top + ay * bot;
}

int cp_unmask_default_dilation(int S) { return S > 0 ? (S + 32) / 64 : 0; }

cp_status cp_unmask_hole(const float *prob, int D, int S, float threshold, int dilate,
                         float *mask, size_t *pixels)
{
    *pixels = 0;
    if (D < 1 || S < 1 || dilate < 0 || dilate > S)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "unmask: sizes %d, %d and dilation %d (0..%d)", D, S, dilate, S);
    size_t plane = (size_t)S * S;
    uint8_t *core = malloc(plane);
    if (!core) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "unmask hole");
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) core[(size_t)y * S + x] = sample(prob, D, S, x, y) >= threshold;
    /* Dilation by a disc: a pixel is hole when a core pixel lies within
     * `dilate` of it. */
    const int r = dilate, r2 = r * r;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            bool hole = false;
            for (int dy = -r; dy <= r && !hole; dy++) {
                int yy = y + dy;
                if (yy < 0 || yy >= S) continue;
                for (int dx = -r; dx <= r; dx++) {
                    int xx = x + dx;
                    if (xx < 0 || xx >= S || dx * dx + dy * dy > r2) continue;
                    if (core[(size_t)yy * S + xx]) {
                        hole = true;
                        break;
                    }
                }
            }
            mask[(size_t)y * S + x] = hole ? 1.0f : 0.0f;
            *pixels += hole;
        }
    free(core);
    return CP_OK;
}
