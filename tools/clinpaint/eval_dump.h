/* clinpaint eval --dump: every evaluated image, its mask and the model's
 * composite as PNGs, so that another tool (tools/measure/telea_floor.py)
 * can score its own fill on exactly the images and masks eval used. */
#ifndef CLINPAINT_EVAL_DUMP_H
#define CLINPAINT_EVAL_DUMP_H

#include <stdint.h>

#include "clinpaint/status.h"

/* Creates `dir` (with its parents) or accepts an empty folder; a folder that
 * holds anything is refused, so that no file of the user's is replaced. */
cp_status eval_dump_prepare(const char *dir);

/* A cp_eval_each_fn; `user` is the folder. */
cp_status eval_dump_image(void *user, uint64_t index, const float *image, const float *mask,
                          const float *composite, int S);

#endif
