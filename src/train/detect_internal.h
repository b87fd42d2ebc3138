/* Internal: the detector's data (maskify's folders), its evaluation and
 * sample grids, shared by its trainer and `clinpaint eval`. */
#ifndef CP_DETECT_INTERNAL_H
#define CP_DETECT_INTERNAL_H

#include "clinpaint/dataset.h"
#include "clinpaint/mask.h"
#include "clinpaint/unmask.h"

/* A split of a maskified folder: DIR/masked (the images), DIR/mask (their
 * masks, by name) and, when asked for and present, DIR/original (every
 * split, for the negatives). */
typedef struct cp_detect_data {
    cp_dataset *images;
    cp_mask_source *masks;
    cp_dataset *originals; /* NULL without */
} cp_detect_data;

cp_status cp_detect_data_open(const char *dir, cp_split split, int S, bool originals,
                              cp_detect_data *out);
void cp_detect_data_free(cp_detect_data *d);

/* The original of a masked image: the index of relative path `rel` in ds
 * (maskify writes both as NAME.png; data sets are sorted by relative path). */
bool cp_detect_find_original(const cp_dataset *ds, const char *rel, size_t *at);

/* Replaces sample k of a loader batch by its unmasked original with an
 * empty mask when the hash of (seed, sample id) falls under `share`:
 * deterministic, so a resumed run sees the same. Mirrored like the sample.
 * *replaced counts them. */
cp_status cp_detect_negatives(const cp_detect_data *d, const cp_batch *b, uint64_t seed,
                              float share, float *images, float *masks, int *replaced);

/* Pixel counts of prob >= threshold against masks >= 0.5 added to m, and
 * the ratios recomputed. */
void cp_detect_count(cp_detect_metrics *m, const float *prob, const float *masks, size_t pixels,
                     float threshold);

/* Evaluation with a planned inference graph. */
cp_status cp_detect_evaluate_with(cp_detector *d, cp_detector_graph *inf,
                                  const cp_detect_data *data, float threshold,
                                  uint64_t max_images, int threads, cp_detect_metrics *out);

/* samples/...png: `count` test images, rows of image | predicted mask |
 * true mask. */
cp_status cp_detect_write_samples(const char *path, cp_detector *d, cp_detector_graph *inf,
                                  const cp_detect_data *data, int count);

#endif
