/* clinpaint: evaluating a model on a split (MODEL.md's metrics), as
 * `clinpaint eval` and the trainer's per-epoch metrics do. */
#ifndef CLINPAINT_EVALUATE_H
#define CLINPAINT_EVALUATE_H

#include <stdint.h>

#include "clinpaint/dataset.h"
#include "clinpaint/inpaint.h"
#include "clinpaint/mask.h"
#include "clinpaint/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* MODEL.md's metrics over (up to max_images of) a split. With
 * `mean_fill`, also the mean-colour fill floor into *floor. */
cp_status cp_evaluate(cp_inpainter *ip, const cp_dataset *ds, const cp_mask_source *masks,
                      int S, uint64_t seed, uint64_t max_images, int threads,
                      cp_epoch_metrics *out, cp_epoch_metrics *floor);

/* One evaluated image (3×S×S in [-1, 1]: the image as evaluated, after any
 * re-framing; its mask, 1×S×S; the model's composite), `index` counting
 * from 0 in evaluation order. A status other than CP_OK stops the
 * evaluation with it. */
typedef cp_status (*cp_eval_each_fn)(void *user, uint64_t index, const float *image,
                                     const float *mask, const float *composite, int S);

/* What cp_evaluate_framed evaluates: masks from `seed`, at most max_images
 * (0: all), and the split re-framed at `zoom` with centre shifts of `shift`
 * (cp_loader_options' reframe_zoom, reframe_shift; zoom 0: as it is), in
 * grayscale with `gray`. `each` (optional) sees every evaluated image, e.g.
 * to write them out for another tool's floor. */
typedef struct cp_eval_request {
    uint64_t seed, max_images;
    int threads;
    float zoom, shift;
    bool gray;
    cp_eval_each_fn each;
    void *user;
} cp_eval_request;
/* cp_evaluate with re-framing and, when `diffusion` is non-NULL, the
 * diffusion fill's metrics (cp_diffusion_fill) as a second floor. */
cp_status cp_evaluate_framed(cp_inpainter *ip, const cp_dataset *ds, const cp_mask_source *masks,
                             int S, const cp_eval_request *rq, cp_epoch_metrics *out,
                             cp_epoch_metrics *floor, cp_epoch_metrics *diffusion);

#ifdef __cplusplus
}
#endif
#endif
