/* The diffusion fill: the hole as the smoothest surface that meets the
 * known pixels around it, a floor that any learned fill should beat (and
 * one that does not care how the face is framed). */
#include <math.h>
#include <stdlib.h>

#include "clinpaint/metrics.h"
#include "backend/opencl/runtime/check.h"

cp_status cp_diffusion_fill(const float *x, const float *mask, int S, float *out)
{
    if (!x || !mask || !out || S < 1)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_diffusion_fill: NULL argument or S < 1");
    CP_TRY(cp_mean_fill(x, mask, S, out));
    const size_t plane = (size_t)S * S;
    size_t holes = 0;
    for (size_t i = 0; i < plane; i++) holes += mask[i] >= 0.5f;
    if (holes == 0 || holes == plane) return CP_OK; /* nothing to solve, or nothing to solve from */
    int *idx = malloc(sizeof *idx * holes);
    if (!idx) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "cp_diffusion_fill: out of host memory");
    size_t n = 0;
    for (size_t i = 0; i < plane; i++)
        if (mask[i] >= 0.5f) idx[n++] = (int)i;
    /* the optimal SOR factor for a square grid of side S */
    const float omega = 2.0f / (1.0f + sinf(3.14159265f / (float)S));
    for (int c = 0; c < 3; c++) {
        float *o = out + (size_t)c * plane;
        for (int sweep = 0; sweep < CP_DIFFUSION_MAX_SWEEPS; sweep++) {
            float moved = 0.0f;
            for (size_t k = 0; k < n; k++) {
                int i = idx[k], yy = i / S, xx = i % S, m = 0;
                float sum = 0.0f;
                if (xx > 0) sum += o[i - 1], m++;
                if (xx + 1 < S) sum += o[i + 1], m++;
                if (yy > 0) sum += o[i - S], m++;
                if (yy + 1 < S) sum += o[i + S], m++;
                if (m == 0) continue; /* S == 1 */
                float d = omega * (sum / (float)m - o[i]);
                o[i] += d;
                moved = fmaxf(moved, fabsf(d));
            }
            if (moved < 1e-5f) break;
        }
    }
    free(idx);
    return CP_OK;
}
