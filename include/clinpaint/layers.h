/* The model's layers, described once. Every place that needs the
 * architecture (the parameters and their checkpoint names, the forward
 * graphs, the benchmark's layer list, the measure tools, tuning's shapes)
 * walks this table instead of writing the network out again. A layer kind
 * or a second model is added here and in the one builder that fills it. */
#ifndef CLINPAINT_LAYERS_H
#define CLINPAINT_LAYERS_H

#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cp_model_config;
struct cp_detector_config;

typedef enum cp_layer_kind {
    CP_LAYER_CONV3 = 0, /* 3×3 convolution, stride 1, pad 1 */
    CP_LAYER_CONV2,     /* 2×2 convolution, stride 1, pad 0 top/left, 1 bottom/right */
    CP_LAYER_UP2,       /* 2×2 transposed convolution, stride 2 */
    CP_LAYER_DENSE      /* fully connected, on the flattened input */
} cp_layer_kind;

typedef enum cp_layer_activation { CP_ACT_NONE = 0, CP_ACT_ELU, CP_ACT_TANH } cp_layer_activation;

/* One layer: its op, then its batch norm (when it has one), then its
 * activation, then a 2×2 max pool (when `pool`). */
typedef struct cp_layer {
    char name[40];       /* "G.enc1.conv3": tensors are name.weight and name.bias */
    char prefix[24];     /* "G.enc1"; batch norm tensors are prefix.bn_<part>.* */
    char part[16];       /* "conv3", "conv2", "up2", "dense1", "dense2", "head" */
    cp_layer_kind kind;
    int group;           /* the network: CP_GROUP_G or CP_GROUP_D (model.h) */
    int64_t c_in, c_out; /* channels; dense: input and output features */
    int64_t hw;          /* input height = width; 1 for dense */
    bool batchnorm;
    cp_layer_activation activation;
    bool pool;
    /* U-Nets (the detector): skip_save keeps this layer's output (after
     * its activation, before its pool) for a skip connection; skip_concat
     * concatenates the most recently kept one, not yet used, after this
     * layer's activation (the next layer's c_in counts both). */
    bool skip_save, skip_concat;
} cp_layer;

enum { CP_LAYERS_MAX = 64 };

/* Every layer of the model, network by network, in execution (and
 * checkpoint) order. */
typedef struct cp_layer_table {
    cp_layer layers[CP_LAYERS_MAX];
    int count;
} cp_layer_table;

/* The context encoder of docs/model.md for a configuration: G's encoder,
 * bottleneck and decoder, then D's encoder and head. Checks the
 * configuration first (cp_model_config_validate). */
cp_status cp_model_layers(const struct cp_model_config *c, cp_layer_table *out);

/* The mask detector of clinpaint/detector.h: encoder levels of conv3 ->
 * conv2 (ELU after each; the output kept for a skip, then a pool, except
 * at the bottom), decoder levels of up2 (ELU, then the skip concatenated)
 * -> conv3 (ELU), and a conv3 head to one logit per pixel. Group 0. */
cp_status cp_detector_layers(const struct cp_detector_config *c, cp_layer_table *out);

/* Output height = width of a layer (its input's for conv3/conv2, twice it
 * for up2, 1 for dense); before any pool. */
int64_t cp_layer_out_hw(const cp_layer *l);
/* Kernel size (3, 2, 2) for the convolutions, 0 for dense. */
int cp_layer_kernel(const cp_layer *l);

#ifdef __cplusplus
}
#endif
#endif
