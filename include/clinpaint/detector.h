/* clinpaint's mask detector: a small encoder-decoder with skip connections
 * (a U-Net built from the context encoder's blocks: conv3, conv2, 2×2 max
 * pool, up2, ELU and channel concatenation) that gives, per pixel, the
 * probability that a medical mask covers it. Trained with per-pixel binary
 * cross-entropy plus a soft Dice term (cp_loss_bce_dice) and Adam on
 * maskify's pairs; used by `clinpaint unmask` to find the hole the context
 * encoder fills. Tensors are named detector.*; docs/checkpoints.md. */
#ifndef CLINPAINT_DETECTOR_H
#define CLINPAINT_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/checkpoint.h"
#include "clinpaint/graph.h"
#include "clinpaint/layers.h"
#include "clinpaint/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_DETECTOR_FORMAT "clinpaint-detector-1"
enum { CP_DETECTOR_MAX_LEVELS = 5 };

typedef struct cp_detector_config {
    char preset[16]; /* "tiny", "small" or "custom" */
    int size;        /* input height = width, a power of two, 16..512 */
    int levels;      /* resolutions of the encoder, 2..5 */
    int widths[CP_DETECTOR_MAX_LEVELS]; /* channels per level (levels used) */
} cp_detector_config;

/* "tiny": 64 px, widths 8,16,32,64; "small": 128 px, 12,24,48,96.
 * Unknown name: CP_ERR_INVALID_ARGUMENT. */
cp_status cp_detector_config_preset(const char *name, cp_detector_config *out);
/* Size, levels (size / 2^(levels-1) >= 4) and widths, with a message. */
cp_status cp_detector_config_validate(const cp_detector_config *c);

/* The detector's parameters live in a cp_model (group 0) whose tensors come
 * from cp_detector_layers; step_g counts its Adam steps. */
typedef struct cp_detector {
    cp_detector_config cfg;
    cp_model *net;
} cp_detector;

cp_status cp_detector_create(cp_context *ctx, const cp_detector_config *cfg, cp_detector **out);
void cp_detector_free(cp_detector *d);
/* Glorot-uniform weights from the seed, zero biases, Adam state zero. */
cp_status cp_detector_init(cp_detector *d, uint64_t seed);

typedef struct cp_detector_train_options {
    cp_adam_params adam; /* lr 1e-3, β 0.9 / 0.999, ε 1e-8 */
    float dice_weight;   /* 1 */
    bool keep_grads;     /* tests: keep every gradient */
} cp_detector_train_options;
cp_detector_train_options cp_detector_train_defaults(void);

/* Training (loss, gradients, Adam) or inference graph of the detector. */
typedef struct cp_detector_graph {
    cp_graph *graph;
    cp_node *x;       /* input [N,3,S,S] in [-1, 1] */
    cp_node *target;  /* input [N,1,S,S] in {0, 1}; NULL for inference */
    cp_node *logits;  /* [N,1,S,S] (kept) */
    cp_node *prob;    /* sigmoid(logits) (kept) */
    cp_node *loss;    /* scalar (kept); NULL for inference */
    cp_node **grad;   /* per model tensor: its gradient, or NULL */
    int batch;
} cp_detector_graph;

cp_status cp_detector_build_train(cp_detector *d, int batch, const cp_detector_train_options *o,
                                  cp_detector_graph *out);
cp_status cp_detector_build_infer(cp_detector *d, int batch, cp_detector_graph *out);
void cp_detector_graph_free(cp_detector_graph *t);

/* One training iteration of a planned training graph: uploads images
 * [N,3,S,S] and masks [N,1,S,S] (NULL: as they are), runs, applies Adam,
 * and reads the loss into *loss (NULL: not read). */
cp_status cp_detector_train_step(cp_detector *d, cp_detector_graph *t, const float *images,
                                 const float *masks, float *loss);
/* Runs a planned graph (either kind) on `n` <= batch images and writes
 * the mask probabilities [n,1,S,S] to `prob`. */
cp_status cp_detector_predict(cp_detector *d, cp_detector_graph *t, const float *images, int n,
                              float *prob);

/* Checkpoints: the tensors under their detector.* names, Adam's moments as
 * opt.detector.m.<name> / opt.detector.v.<name>, and in the metadata
 * format = CP_DETECTOR_FORMAT, preset, size, levels, widths, step, plus
 * `extra`. Atomic, as cp_checkpoint_save. */
cp_status cp_detector_save(const cp_detector *d, const char *path, const cp_meta_entry *extra,
                           int extra_count);
/* Loads a detector checkpoint (with the Adam state when `with_optimizer`;
 * an error if it has none). A context-encoder checkpoint or any other file
 * is refused with a message naming the file. */
cp_status cp_detector_load(cp_context *ctx, const char *path, bool with_optimizer,
                           cp_detector **out);
/* A metadata value of a detector checkpoint, copied into buf (false when
 * the file cannot be read or has no such key). */
bool cp_detector_meta(const char *path, const char *key, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
