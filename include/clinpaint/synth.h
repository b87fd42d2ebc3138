/* clinpaint: synthetic faces, a data set that needs no download.
 *
 * Each face is drawn from random parameters (face shape, skin tone, eyes,
 * brows, nose, mouth, hair, beard, make-up, background, lighting, a small pose
 * change). The lower face is predictable from the upper face, so that
 * inpainting it is learnable: skin tone and lighting are shared, features are
 * symmetric, mouth width follows eye spacing, lip thickness follows eye
 * height, the smile follows the brow arch, lipstick comes with eye shadow, a
 * beard (in the hair colour) with short hair and thick brows, an open mouth
 * with wide eyes, and the jaw shape with the face width. */
#ifndef CLINPAINT_SYNTH_H
#define CLINPAINT_SYNTH_H

#include <stdint.h>

#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_SYNTH_MIN_SIZE 16
#define CP_SYNTH_MAX_SIZE 1024

/* Draws face `index` of the set `seed` as S×S RGB (HWC, S*S*3 bytes), S in
 * [16, 1024]. The same (seed, index, S) gives the same bytes. */
cp_status cp_synth_face(uint64_t seed, uint64_t index, int S, uint8_t *rgb);

/* Writes faces 0..count-1 as DIR/face_000000.png ..., creating DIR (and its
 * parents) when missing. CP_ERR_INVALID_ARGUMENT for count 0 or a size out of
 * range, CP_ERR_IO when a file cannot be written. */
cp_status cp_synth_write_dataset(const char *dir, uint64_t count, int S, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
