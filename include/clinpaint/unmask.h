/* clinpaint's unmask workflow: train the mask detector on maskify's
 * folders (`clinpaint train --task detect`), measure it (`clinpaint eval
 * --task detect`), and restore masked faces (`clinpaint unmask`: detect,
 * threshold, dilate, inpaint, paste back the hole). */
#ifndef CLINPAINT_UNMASK_H
#define CLINPAINT_UNMASK_H

#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/dataset.h"
#include "clinpaint/detector.h"
#include "clinpaint/inpaint.h"
#include "clinpaint/metrics.h"
#include "clinpaint/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- training the detector (detect_train.c) ---- */

typedef struct cp_detect_progress {
    uint64_t epoch, epochs, batch, batches, step;
    double elapsed_s, images_per_s, eta_s;
    float loss; /* the last iteration's BCE + Dice */
} cp_detect_progress;

/* Pixel counts of thresholded predictions against true masks, and what
 * follows from them (over every pixel of the images evaluated). */
typedef struct cp_detect_metrics {
    uint64_t epoch, step, images;
    uint64_t tp, fp, fn, tn;
    double iou;      /* tp / (tp + fp + fn); 1 when both are empty */
    double dice;     /* 2 tp / (2 tp + fp + fn); 1 when both are empty */
    double accuracy; /* (tp + tn) / pixels */
} cp_detect_metrics;

typedef struct cp_detect_train_config {
    const char *data_dir; /* maskify's output: DIR/masked and DIR/mask (DIR/original
                             for the negatives) */
    const char *out_dir;  /* the run folder */
    const char *resume;   /* checkpoint to continue from, or NULL */
    bool overwrite;       /* as cp_train_config's */
    cp_detector_config model;
    int batch, epochs; /* with resume, epochs 0 keeps the checkpoint's */
    uint64_t seed;
    cp_detector_train_options opts;
    /* Share of training samples shown as the unmasked original with an
     * empty mask (needs DIR/original), so that a face without a mask gives
     * an empty detection. 0: none. */
    float negatives;
    /* Colour augmentation of the training samples (cp_detect_augment), so
     * that kinds of mask unseen in training are found too. Default on. */
    bool augment;
    double max_minutes;   /* 0: no limit */
    uint64_t max_steps;   /* 0: none */
    int sample_count;     /* test images in each sample grid */
    uint64_t eval_max_images; /* 0: the whole test split */
    int threads;
    const volatile int *stop;
    void *user;
    void (*on_progress)(void *user, const cp_detect_progress *p);
    void (*on_epoch)(void *user, const cp_detect_metrics *m);
    void (*on_message)(void *user, const char *text);
} cp_detect_train_config;

/* Detector preset tiny, batch 8, 10 epochs, seed 1, Adam lr 1e-3, β 0.9 /
 * 0.999, Dice weight 1, negatives 0.125, colour augmentation, 6 samples. */
cp_detect_train_config cp_detect_train_config_defaults(void);

typedef struct cp_detect_result {
    uint64_t step, epoch, batch, steps_this_run;
    double seconds, images_per_s;
    bool finished, time_limit, step_limit, interrupted;
    double best_iou;
    char last_checkpoint[1100];
} cp_detect_result;

/* Trains the detector. The run folder is that of cp_train (lock, refusal
 * of another run, --overwrite, resume) with config.json, log.csv (step,
 * epoch, loss, images/s), loss.svg, metrics.csv (IoU, Dice, accuracy per
 * epoch on the test split), samples/epoch_NNN.png (rows: image | predicted
 * mask | true mask) and ckpt/{last,best}.safetensors (best: highest IoU).
 * Errors as cp_train (CP_ERR_INTERRUPTED after a stop request, state saved;
 * CP_ERR_NUMERIC on a non-finite loss). */
cp_status cp_detect_train(cp_context *ctx, const cp_detect_train_config *cfg,
                          cp_detect_result *result);

/* ---- the detector's colour augmentation (detect_augment.c) ---- */

/* Recolours one training sample in place: image [3,S,S] in [-1, 1], mask
 * [S,S] in [0, 1] (not changed). Inside the mask: kept, hue/saturation/
 * brightness shifted, a random colour, or a stripe, dot or check pattern
 * of two random colours (the mask's shading kept); then the whole image's
 * brightness, contrast and saturation jittered, sometimes grey. A pure
 * function of (seed, sample_id): a resumed run sees the same samples. */
void cp_detect_augment(uint64_t seed, uint64_t sample_id, int S, float *image, const float *mask);
/* "colour" (on) or "none"; parse accepts colour, color and none. */
const char *cp_detect_augment_name(bool on);
cp_status cp_detect_augment_parse(const char *name, bool *on);

/* ---- evaluation (detect_eval.c) ---- */

/* The detector on (up to max_images of; 0: all) the split of a maskified
 * folder, thresholded at `threshold`. */
cp_status cp_detect_evaluate(cp_detector *d, const char *data_dir, cp_split split,
                             float threshold, uint64_t max_images, int threads,
                             cp_detect_metrics *out);

/* ---- from probabilities to the hole (unmask.c) ---- */

/* The detector's probabilities prob (D×D) resampled bilinearly (pixel
 * centres aligned) to S×S, thresholded (>= threshold is hole) and dilated
 * by `dilate` pixels (a disc of that radius, in S×S pixels): mask (S×S,
 * 1 = hole). *pixels: hole pixels after dilation. */
cp_status cp_unmask_hole(const float *prob, int D, int S, float threshold, int dilate,
                         float *mask, size_t *pixels);

/* The default dilation for a context encoder of side S: 1 px per 64 px,
 * rounded (1 at 64, 2 at 128, 4 at 256; 0 below 32). maskify's masks are
 * exact, so a fixed few pixels only made the hole bigger at small sizes
 * (notes/unmask.md: 3 px cost 1.9 dB at 64 px); a photo's soft mask edge
 * scales with the face, so the margin does too. */
int cp_unmask_default_dilation(int S);

/* ---- the whole chain against the truth (unmask_eval.c) ---- */

/* `clinpaint eval --task unmask`: on each image of a split of a maskified
 * folder, at the context encoder's size, the unmasked face against
 * DIR/original with three holes: the detected one (threshold, dilate), the
 * true mask (oracle), and the true mask filled with the mean colour of the
 * known pixels (floor). Hole metrics are over the true mask in all three
 * rows (what the mask hid); the detected row also counts pixels the
 * detector missed, which keep the mask's colour. */
typedef struct cp_unmask_eval {
    cp_metrics detected, oracle, floor;
    cp_detect_metrics detection; /* the dilated detected hole against the true mask, at S */
    uint64_t images;
} cp_unmask_eval;

cp_status cp_unmask_evaluate(cp_detector *d, cp_inpainter *ip, int S, const char *data_dir,
                             cp_split split, float threshold, int dilate, uint64_t max_images,
                             cp_unmask_eval *out);

#ifdef __cplusplus
}
#endif
#endif
