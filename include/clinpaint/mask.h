/* clinpaint: masks (MODEL.md, "Masks"). A mask is S×S floats, 1 = missing
 * (to be filled), 0 = known, row-major. */
#ifndef CLINPAINT_MASK_H
#define CLINPAINT_MASK_H

#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/rng.h"
#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cp_mask_kind {
    CP_MASK_CENTER, /* square of side S/2 in the middle: rows/cols [S/4, S/4 + S/2) */
    CP_MASK_RECT,   /* 1..3 rectangles, each side uniform in [S/8, S/2] */
    CP_MASK_FREE,   /* brush strokes (DeepFill v2 style), 10..45% coverage */
    CP_MASK_FACE,   /* a medical mask on an aligned face: rows ~0.55S..0.95S,
                       cols ~0.18S..0.82S, rounded lower corners, jitter */
    CP_MASK_MIXED,  /* each sample one of the four above, uniformly */
    CP_MASK_KIND_COUNT
} cp_mask_kind;

/* "center", "rect", "free", "face", "mixed". */
const char *cp_mask_kind_name(cp_mask_kind kind);
/* Parses a kind name; false when `name` is none. */
bool cp_mask_kind_parse(const char *name, cp_mask_kind *out);

/* Draws a mask of `kind` into out[S*S] with random numbers from `rng`
 * (CP_MASK_CENTER draws none). CP_ERR_INVALID_ARGUMENT for S < 8 or a bad
 * kind. */
cp_status cp_mask_generate(cp_mask_kind kind, int S, cp_rng *rng, float *out);

/* Where the masks of a run come from. */
typedef struct cp_mask_source cp_mask_source;

/* `spec` is a kind name (see above), the path of an image file (PNG or any
 * format the data loader reads; centre-cropped and resized to S×S like the
 * images, white = missing: luma >= 127.5 after resizing), or a folder of
 * per-image masks matched by relative path without extension (photos/a.jpg
 * takes masks/photos/a.png, or any other supported extension). */
cp_status cp_mask_source_create(const char *spec, int S, cp_mask_source **out);
void cp_mask_source_free(cp_mask_source *src);

/* The mask for sample `sample_index` of the image at `image_relpath` (only
 * used by folder sources). Deterministic: random kinds draw from an RNG
 * seeded with (seed, sample_index). A folder source with no mask for the
 * image fails with CP_ERR_INVALID_ARGUMENT naming both. Thread-safe. */
cp_status cp_mask_source_get(const cp_mask_source *src, const char *image_relpath,
                             uint64_t seed, uint64_t sample_index, float *out);

/* True for folder sources: a mask belongs to its image, so a mirrored image
 * needs the mirrored mask (the loader does that). */
bool cp_mask_source_per_image(const cp_mask_source *src);
int cp_mask_source_size(const cp_mask_source *src);
/* A short description: "center", "file masks/m.png", "folder masks/". */
const char *cp_mask_source_describe(const cp_mask_source *src);

/* Checks up front that every image of a data set has a mask (folder sources;
 * always CP_OK for the others), so that a missing match stops a run at
 * startup rather than mid-epoch. */
struct cp_dataset;
cp_status cp_mask_source_check(const cp_mask_source *src, const struct cp_dataset *ds);

/* Fraction of ones in out[S*S]. */
double cp_mask_coverage(const float *mask, int S);

#ifdef __cplusplus
}
#endif
#endif
