/* clinpaint: evaluation metrics (MODEL.md, "Metrics"). Host side, plain C,
 * double accumulation.
 *
 * Images are one sample in NCHW order without the N: 3×S×S floats in
 * [-1, 1]; masks are S×S floats, 1 = hole (missing), 0 = known (a value
 * >= 0.5 counts as hole). Before any metric an image value v is mapped to
 * the 0..255 scale as (v + 1)·127.5 and clipped to [0, 255] (not rounded).
 * NaN inputs are not rejected: they propagate into the result as NaN.
 *
 * Every metric is computed per image, then averaged over images. */
#ifndef CLINPAINT_METRICS_H
#define CLINPAINT_METRICS_H

#include <stdint.h>

#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The floor of the mean squared error in PSNR; identical images score
 * 10·log10(255² / 1e-10) ≈ 148.13 dB. */
#define CP_METRICS_MSE_FLOOR 1e-10
/* SSIM window side (Gaussian, σ = 1.5); S must be at least this. */
#define CP_SSIM_WINDOW 11

/* Averages over the images added so far. */
typedef struct cp_metrics {
    double hole_psnr;  /* PSNR over the hole pixels, dB (NaN if no image had a hole) */
    double psnr;       /* PSNR over the whole image, dB */
    double ssim;       /* SSIM on luma, valid region */
    double hole_l1;    /* mean |y - x| over the hole pixels, 0..255 scale (NaN if none) */
    int64_t images;           /* images added */
    int64_t images_with_hole; /* images in the hole averages (non-empty hole) */
} cp_metrics;

/* Running sums; zero-initialise (or cp_metrics_init) before use. Plain data:
 * accumulators of several threads can be merged with cp_metrics_merge. */
typedef struct cp_metrics_acc {
    double sum_hole_psnr, sum_psnr, sum_ssim, sum_hole_l1;
    int64_t images, images_with_hole;
} cp_metrics_acc;

void cp_metrics_init(cp_metrics_acc *acc);

/* Adds one image: the composite y against the ground truth x (each 3×S×S)
 * with its mask (S×S). An image whose hole is empty counts in the whole-image
 * metrics only. CP_ERR_INVALID_ARGUMENT for NULL pointers or S < 11. */
cp_status cp_metrics_add(cp_metrics_acc *acc, const float *y, const float *x,
                         const float *mask, int S);

/* Adds the sums of `other` into `acc`. */
void cp_metrics_merge(cp_metrics_acc *acc, const cp_metrics_acc *other);

/* The averages. With no image every metric is NaN; with no image that had a
 * hole hole_psnr and hole_l1 are NaN. CP_ERR_INVALID_ARGUMENT for NULL. */
cp_status cp_metrics_result(const cp_metrics_acc *acc, cp_metrics *out);

/* ---- single-image metrics ---- */

/* PSNR = 10·log10(255² / max(MSE, 1e-10)) of one image. mask == NULL: over
 * all 3·S·S values; otherwise over the 3·|hole| values of the hole pixels,
 * and *out = NaN when the hole is empty. */
cp_status cp_psnr(const float *y, const float *x, const float *mask, int S,
                  double *out);

/* Mean |y - x| over the hole pixels (all three channels), 0..255 scale; NaN
 * when the hole is empty. */
cp_status cp_hole_l1(const float *y, const float *x, const float *mask, int S,
                     double *out);

/* SSIM on luma Y = 0.299R + 0.587G + 0.114B (of the clipped 0..255 values):
 * 11×11 Gaussian window (σ = 1.5, weights summing to 1), valid region only
 * ((S-10)×(S-10) positions, no padding), C1 = (0.01·255)², C2 = (0.03·255)²,
 * population (biased) moments; the mean of the SSIM map. Same as skimage's
 * structural_similarity(gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False, data_range=255) on the luma images.
 * CP_ERR_INVALID_ARGUMENT for S < 11. */
cp_status cp_ssim_luma(const float *y, const float *x, int S, double *out);

/* The mean-colour fill, a floor for the metrics: known pixels of x are
 * copied, every hole pixel gets, per channel, the mean of that channel over
 * the known pixels of the image (0 when the whole image is hole). out
 * (3×S×S) may be x itself. */
cp_status cp_mean_fill(const float *x, const float *mask, int S, float *out);

/* The diffusion fill, a classical floor (in the spirit of Telea's and
 * Navier-Stokes inpainting, without their edge terms): known pixels of x are
 * copied and the hole, per channel, is the harmonic function (4-neighbour
 * discrete Laplace equation) that matches the known pixels around it,
 * solved by successive over-relaxation from the mean-colour fill for at
 * most CP_DIFFUSION_MAX_SWEEPS sweeps, stopping early when no pixel moves
 * more than 1e-5. Neighbours outside the image are left out (a free edge).
 * out (3×S×S) may be x itself. */
#define CP_DIFFUSION_MAX_SWEEPS 2000
cp_status cp_diffusion_fill(const float *x, const float *mask, int S, float *out);

#ifdef __cplusplus
}
#endif
#endif
