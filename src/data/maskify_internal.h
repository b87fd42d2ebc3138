/* Internal: the drawing of one mask layer (maskify_draw.c), composited onto
 * a face by maskify.c. */
#ifndef CP_DATA_MASKIFY_INTERNAL_H
#define CP_DATA_MASKIFY_INTERNAL_H

#include "clinpaint/maskify.h"
#include "clinpaint/rng.h"

/* The light on the face's lower half, measured from the face: `side` in
 * [-1, 1] (> 0: the right side of the image is brighter) and `level` (a
 * factor around 1 for the overall brightness). */
typedef struct cp_face_light {
    float side, level;
} cp_face_light;

/* Draws a random mask of `kind` as a premultiplied layer: colour[S*S*3]
 * (already multiplied by the coverage) and alpha[S*S] in [0, 1], both
 * zeroed first. Random choices come from `r`. */
void cp_maskify_draw_layer(cp_maskify_kind kind, int S, cp_rng *r, cp_face_light light,
                           float *colour, float *alpha);

#endif
