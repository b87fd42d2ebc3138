/* MODEL.md's metrics of a model over a split, optionally re-framed, beside
 * the mean-colour and diffusion fills of the same images and masks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/metrics.h"
#include "backend/opencl/runtime/check.h"
#include "train/train_internal.h"

cp_status cp_evaluate_framed(cp_inpainter *ip, const cp_dataset *ds, const cp_mask_source *masks,
                             int S, const cp_eval_request *rq, cp_epoch_metrics *out,
                             cp_epoch_metrics *floor, cp_epoch_metrics *diffusion)
{
    const uint64_t seed = rq->seed, max_images = rq->max_images;
    memset(out, 0, sizeof *out);
    if (floor) memset(floor, 0, sizeof *floor);
    if (diffusion) memset(diffusion, 0, sizeof *diffusion);
    cp_loader_options lo = cp_loader_defaults();
    lo.size = S;
    lo.batch = cp_inpainter_batch(ip);
    lo.seed = seed;
    lo.train = false;
    lo.threads = rq->threads;
    lo.reframe_zoom = rq->zoom;
    lo.reframe_shift = rq->shift;
    lo.reframe_gray = rq->gray;
    lo.cache_bytes = 0; /* one pass: caching would only cost memory */
    lo.masks = masks;
    lo.mask_seed = seed ^ UINT64_C(0x6576616c); /* "eval": other masks than training's */
    cp_loader *ld;
    CP_TRY(cp_loader_create(ds, &lo, &ld));
    size_t px = (size_t)S * S, cap = (size_t)lo.batch;
    float *y = malloc(cap * 3 * px * sizeof *y), *fill = malloc(3 * px * sizeof *fill);
    cp_status st = y && fill ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "evaluation");
    cp_metrics_acc acc, facc, dacc;
    cp_metrics_init(&acc);
    cp_metrics_init(&facc);
    cp_metrics_init(&dacc);
    double rec = 0, adv = 0, d = 0;
    uint64_t seen = 0, batches = cp_loader_batches_per_epoch(ld);
    for (uint64_t b = 0; b < batches && st == CP_OK; b++) {
        const cp_batch *bt;
        st = cp_loader_next(ld, &bt);
        if (st != CP_OK) break;
        int n = bt->n;
        if (max_images && seen + (uint64_t)n > max_images) n = (int)(max_images - seen);
        if (n <= 0) break;
        cp_eval_losses l;
        st = cp_inpainter_run(ip, n, bt->images, bt->masks, y, NULL, &l);
        rec += (double)l.rec * n;
        adv += (double)l.adv * n;
        d += (double)l.d * n;
        for (int i = 0; i < n && st == CP_OK; i++) {
            const float *xi = bt->images + (size_t)i * 3 * px, *mi = bt->masks + (size_t)i * px;
            st = cp_metrics_add(&acc, y + (size_t)i * 3 * px, xi, mi, S);
            if (st == CP_OK && rq->each)
                st = rq->each(rq->user, seen + (uint64_t)i, xi, mi, y + (size_t)i * 3 * px, S);
            if (st == CP_OK && floor) {
                st = cp_mean_fill(xi, mi, S, fill);
                if (st == CP_OK) st = cp_metrics_add(&facc, fill, xi, mi, S);
            }
            if (st == CP_OK && diffusion) {
                st = cp_diffusion_fill(xi, mi, S, fill);
                if (st == CP_OK) st = cp_metrics_add(&dacc, fill, xi, mi, S);
            }
        }
        seen += (uint64_t)n;
    }
    cp_loader_free(ld);
    free(y);
    free(fill);
    if (st != CP_OK) return st;
    cp_metrics r;
    CP_TRY(cp_metrics_result(&acc, &r));
    *out = (cp_epoch_metrics){0, 0, r.hole_psnr, r.psnr, r.ssim, r.hole_l1,
                              seen ? rec / (double)seen : NAN, seen ? adv / (double)seen : NAN,
                              seen ? d / (double)seen : NAN, seen};
    if (floor) {
        CP_TRY(cp_metrics_result(&facc, &r));
        *floor = (cp_epoch_metrics){0, 0, r.hole_psnr, r.psnr, r.ssim, r.hole_l1, NAN, NAN, NAN, seen};
    }
    if (diffusion) {
        CP_TRY(cp_metrics_result(&dacc, &r));
        *diffusion = (cp_epoch_metrics){0, 0, r.hole_psnr, r.psnr, r.ssim, r.hole_l1, NAN, NAN, NAN, seen};
    }
    return CP_OK;
}
