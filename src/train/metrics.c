/* Evaluation metrics (MODEL.md, "Metrics"): PSNR (hole and whole image),
 * SSIM on luma (Gaussian window, valid region, population moments), hole L1,
 * and the mean-colour fill used as a floor. Host side, double accumulation. */
#include "clinpaint/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/runtime/check.h"

#define SSIM_R 5 /* window radius: 11 = 2·5 + 1 */

/* [-1, 1] -> [0, 255], clipped, not rounded. NaN stays NaN. */
static inline double to255(float v)
{
    double d = ((double)v + 1.0) * 127.5;
    if (d < 0.0) return 0.0;
    if (d > 255.0) return 255.0;
    return d;
}

static inline bool is_hole(float m) { return m >= 0.5f; }

static double psnr_of(double sse, size_t count)
{
    double mse = sse / (double)count;
    if (mse < CP_METRICS_MSE_FLOOR) mse = CP_METRICS_MSE_FLOOR;
    return 10.0 * log10(255.0 * 255.0 / mse);
}

static cp_status check_args(const char *fn, const void *y, const void *x, int S,
                            int min_s)
{
    if (!y || !x)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s: NULL image", fn);
    if (S < min_s || S > 65536)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s: image size S = %d out of range (%d..65536)", fn,
                            S, min_s);
    return CP_OK;
}

/* Sums over one image: squared error over all values and over the hole, the
 * absolute error over the hole and the number of hole pixels. */
typedef struct {
    double sse_all, sse_hole, sae_hole;
    size_t hole_pixels;
} err_sums;

static err_sums error_sums(const float *y, const float *x, const float *mask, int S)
{
    err_sums e = {0.0, 0.0, 0.0, 0};
    size_t plane = (size_t)S * (size_t)S;
    if (mask)
        for (size_t i = 0; i < plane; i++) e.hole_pixels += is_hole(mask[i]);
    for (size_t c = 0; c < 3; c++) {
        const float *yc = y + c * plane, *xc = x + c * plane;
        for (size_t i = 0; i < plane; i++) {
            double d = to255(yc[i]) - to255(xc[i]);
            e.sse_all += d * d;
            if (mask && is_hole(mask[i])) {
                e.sse_hole += d * d;
                e.sae_hole += fabs(d);
            }
        }
    }
    return e;
}

cp_status cp_psnr(const float *y, const float *x, const float *mask, int S,
                  double *out)
{
    CP_TRY(check_args("cp_psnr", y, x, S, 1));
    if (!out) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_psnr: NULL out");
    err_sums e = error_sums(y, x, mask, S);
    if (!mask)
        *out = psnr_of(e.sse_all, 3 * (size_t)S * (size_t)S);
    else
        *out = e.hole_pixels ? psnr_of(e.sse_hole, 3 * e.hole_pixels) : NAN;
    return CP_OK;
}

cp_status cp_hole_l1(const float *y, const float *x, const float *mask, int S,
                     double *out)
{
    CP_TRY(check_args("cp_hole_l1", y, x, S, 1));
    if (!mask || !out)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_hole_l1: NULL mask or out");
    err_sums e = error_sums(y, x, mask, S);
    *out = e.hole_pixels ? e.sae_hole / (3.0 * (double)e.hole_pixels) : NAN;
    return CP_OK;
}

/* Normalised 1-D Gaussian (σ = 1.5, radius 5); the 11×11 window is its outer
 * product, which then sums to 1 as well. */
static void gauss_1d(double g[CP_SSIM_WINDOW])
{
    double sum = 0.0;
    for (int i = 0; i < CP_SSIM_WINDOW; i++) {
        double d = (double)(i - SSIM_R);
        g[i] = exp(-d * d / (2.0 * 1.5 * 1.5));
        sum += g[i];
    }
    for (int i = 0; i < CP_SSIM_WINDOW; i++) g[i] /= sum;
}

static void luma(const float *img, size_t plane, double *out)
{
    for (size_t i = 0; i < plane; i++)
        out[i] = 0.299 * to255(img[i]) + 0.587 * to255(img[plane + i]) +
                 0.114 * to255(img[2 * plane + i]);
}

cp_status cp_ssim_luma(const float *y, const float *x, int S, double *out)
{
    CP_TRY(check_args("cp_ssim_luma", y, x, S, CP_SSIM_WINDOW));
    if (!out) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_ssim_luma: NULL out");
    const size_t n = (size_t)S, plane = n * n, V = n - 2 * SSIM_R;
    /* ly, lx: luma; h: the horizontal pass of the five quantities
     * (X, Y, X², Y², XY), each S rows × V columns. */
    double *ly = malloc(sizeof *ly * plane * 2);
    double *h = malloc(sizeof *h * n * V * 5);
    if (!ly || !h) {
        free(ly);
        free(h);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY,
                            "cp_ssim_luma: out of host memory (S = %d)", S);
    }
    double *lx = ly + plane;
    luma(y, plane, ly);
    luma(x, plane, lx);
    double g[CP_SSIM_WINDOW];
    gauss_1d(g);

    double *hx = h, *hy = h + n * V, *hxx = h + 2 * n * V, *hyy = h + 3 * n * V,
           *hxy = h + 4 * n * V;
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < V; c++) {
            double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
            const double *px = lx + r * n + c, *py = ly + r * n + c;
            for (int k = 0; k < CP_SSIM_WINDOW; k++) {
                double a = px[k], b = py[k], w = g[k];
                sx += w * a;
                sy += w * b;
                sxx += w * a * a;
                syy += w * b * b;
                sxy += w * a * b;
            }
            size_t o = r * V + c;
            hx[o] = sx;
            hy[o] = sy;
            hxx[o] = sxx;
            hyy[o] = syy;
            hxy[o] = sxy;
        }

    const double C1 = (0.01 * 255.0) * (0.01 * 255.0);
    const double C2 = (0.03 * 255.0) * (0.03 * 255.0);
    double total = 0.0;
    for (size_t r = 0; r < V; r++)
        for (size_t c = 0; c < V; c++) {
            double mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
            for (int k = 0; k < CP_SSIM_WINDOW; k++) {
                size_t o = (r + (size_t)k) * V + c;
                double w = g[k];
                mx += w * hx[o];
                my += w * hy[o];
                exx += w * hxx[o];
                eyy += w * hyy[o];
                exy += w * hxy[o];
            }
            double vx = exx - mx * mx, vy = eyy - my * my, cxy = exy - mx * my;
            total += ((2.0 * mx * my + C1) * (2.0 * cxy + C2)) /
                     ((mx * mx + my * my + C1) * (vx + vy + C2));
        }
    free(ly);
    free(h);
    *out = total / (double)(V * V);
    return CP_OK;
}

void cp_metrics_init(cp_metrics_acc *acc)
{
    if (acc) memset(acc, 0, sizeof *acc);
}

cp_status cp_metrics_add(cp_metrics_acc *acc, const float *y, const float *x,
                         const float *mask, int S)
{
    CP_TRY(check_args("cp_metrics_add", y, x, S, CP_SSIM_WINDOW));
    if (!acc || !mask)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_metrics_add: NULL accumulator or mask");
    double ssim;
    CP_TRY(cp_ssim_luma(y, x, S, &ssim));
    err_sums e = error_sums(y, x, mask, S);
    acc->sum_psnr += psnr_of(e.sse_all, 3 * (size_t)S * (size_t)S);
    acc->sum_ssim += ssim;
    acc->images++;
    if (e.hole_pixels) {
        acc->sum_hole_psnr += psnr_of(e.sse_hole, 3 * e.hole_pixels);
        acc->sum_hole_l1 += e.sae_hole / (3.0 * (double)e.hole_pixels);
        acc->images_with_hole++;
    }
    return CP_OK;
}

void cp_metrics_merge(cp_metrics_acc *acc, const cp_metrics_acc *other)
{
    if (!acc || !other) return;
    acc->sum_hole_psnr += other->sum_hole_psnr;
    acc->sum_psnr += other->sum_psnr;
    acc->sum_ssim += other->sum_ssim;
    acc->sum_hole_l1 += other->sum_hole_l1;
    acc->images += other->images;
    acc->images_with_hole += other->images_with_hole;
}

cp_status cp_metrics_result(const cp_metrics_acc *acc, cp_metrics *out)
{
    if (!acc || !out)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_metrics_result: NULL accumulator or out");
    double n = (double)acc->images, nh = (double)acc->images_with_hole;
    out->psnr = acc->images ? acc->sum_psnr / n : NAN;
    out->ssim = acc->images ? acc->sum_ssim / n : NAN;
    out->hole_psnr = acc->images_with_hole ? acc->sum_hole_psnr / nh : NAN;
    out->hole_l1 = acc->images_with_hole ? acc->sum_hole_l1 / nh : NAN;
    out->images = acc->images;
    out->images_with_hole = acc->images_with_hole;
    return CP_OK;
}

cp_status cp_mean_fill(const float *x, const float *mask, int S, float *out)
{
    if (!mask || !out)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "cp_mean_fill: NULL mask or out");
    CP_TRY(check_args("cp_mean_fill", x, out, S, 1));
    const size_t plane = (size_t)S * (size_t)S;
    for (size_t c = 0; c < 3; c++) {
        const float *xc = x + c * plane;
        float *oc = out + c * plane;
        double sum = 0.0;
        size_t known = 0;
        for (size_t i = 0; i < plane; i++)
            if (!is_hole(mask[i])) {
                sum += xc[i];
                known++;
            }
        float fill = known ? (float)(sum / (double)known) : 0.0f;
        for (size_t i = 0; i < plane; i++) oc[i] = is_hole(mask[i]) ? fill : xc[i];
    }
    return CP_OK;
}
