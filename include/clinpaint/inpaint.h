/* clinpaint inpainting: run the generator on host images and masks. */
#ifndef CLINPAINT_INPAINT_H
#define CLINPAINT_INPAINT_H

#include "clinpaint/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cp_inpainter cp_inpainter;

/* Up to `batch` images per run. With `with_losses`, runs also D and gives
 * L_rec (weighted by ctx_weight), L_adv and L_D of each run. */
cp_status cp_inpainter_create(cp_model *m, int batch, bool with_losses, float ctx_weight,
                              cp_inpainter **out);
void cp_inpainter_free(cp_inpainter *p);
int cp_inpainter_batch(const cp_inpainter *p);

typedef struct cp_eval_losses {
    float rec, adv, d;
} cp_eval_losses;

/* images n×3×S×S and masks n×1×S×S in [-1, 1] / {0, 1}, 1 <= n <= batch.
 * Writes the composite y (n×3×S×S) and, if non-NULL, G's raw output and
 * the batch's losses (means over the n images). */
cp_status cp_inpainter_run(cp_inpainter *p, int n, const float *images, const float *masks,
                           float *y, float *g_out, cp_eval_losses *losses);

#ifdef __cplusplus
}
#endif
#endif
