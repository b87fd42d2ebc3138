/* clinpaint model: the context encoder of docs/model.md (generator G and
 * discriminator D), its parameters with their MODEL.md names, initial
 * values, and the graphs that train and run it. */
#ifndef CLINPAINT_MODEL_H
#define CLINPAINT_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/graph.h"
#include "clinpaint/layers.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cp_model_config {
    char preset[16]; /* "tiny", "small", "base" or "custom" */
    int size;        /* S: power of two, 32..512 */
    int widths[6];   /* w1..w6 */
    int latent;      /* L */
    bool batchnorm;
} cp_model_config;

/* The presets of MODEL.md. Unknown name: CP_ERR_INVALID_ARGUMENT. */
cp_status cp_model_config_preset(const char *name, cp_model_config *out);
/* Checks S, widths and L, with a message naming what is wrong. */
cp_status cp_model_config_validate(const cp_model_config *c);

enum { CP_GROUP_G = 0, CP_GROUP_D = 1 };

/* One named tensor of the model: a trainable parameter (with its Adam
 * moments) or a batch-norm running statistic. */
typedef struct cp_model_tensor {
    char name[CP_NAME_MAX]; /* MODEL.md name, e.g. "G.enc1.conv3.weight" */
    int group;              /* CP_GROUP_G or CP_GROUP_D */
    bool trainable;         /* false for running_mean / running_var */
    cp_tensor value, m, v;  /* m, v only when trainable */
    double glorot_a;        /* init bound for weights; 0 for biases */
    float init_const;       /* init value when glorot_a == 0 */
} cp_model_tensor;

typedef struct cp_model {
    cp_context *ctx;
    cp_model_config cfg;
    cp_model_tensor *tensors;
    int count;
    int64_t step_g, step_d; /* Adam steps taken */
} cp_model;

/* Allocates every tensor of G and D on the device (values undefined until
 * cp_model_init or a checkpoint load; moments zero). */
cp_status cp_model_create(cp_context *ctx, const cp_model_config *cfg, cp_model **out);
void cp_model_free(cp_model *m);
/* The tensors of another network's layer table (the detector's), cfg
 * zeroed: init, find, free and the parameter counts work the same. */
cp_status cp_model_create_layers(cp_context *ctx, const cp_layer_table *layers, cp_model **out);
/* Glorot-uniform weights from the seed, zero biases, bn γ = 1, β = 0,
 * running mean 0, variance 1; Adam moments and steps zero. */
cp_status cp_model_init(cp_model *m, uint64_t seed);
cp_model_tensor *cp_model_find(cp_model *m, const char *name);
/* Number of trainable floats of a group. */
size_t cp_model_param_count(const cp_model *m, int group);
/* Device bytes of every tensor of the model: values, and Adam's m and v of
 * the trainable ones. */
uint64_t cp_model_bytes(const cp_model *m);

typedef struct cp_train_options {
    float rec_weight, adv_weight, ctx_weight; /* 0.999, 0.001, 0.1 */
    cp_adam_params adam_g, adam_d;            /* lr 1e-4, β 0.5 / 0.999, ε 1e-8 */
    bool keep_grads;                          /* tests: keep every gradient */
} cp_train_options;
cp_train_options cp_train_defaults(void);

/* One training iteration as one graph, in docs/model.md's order: G
 * forward, D step (D on x and on the detached composite, L_D, gradients
 * into D), D update (Adam on D), G step (D on the composite with the
 * updated D and running statistics kept, L_G, gradients through D into G),
 * G update (Adam on G). Run it with cp_train_step (train_step.h). */
typedef struct cp_train_graph {
    cp_graph *graph;
    cp_node *x, *mask;                 /* inputs: [N,3,S,S], [N,1,S,S] */
    cp_node *g_out, *y;                /* Ĝ and the composite (kept) */
    cp_node *d_real, *d_fake, *d_fake_g; /* logits [N,1] (kept) */
    cp_node *loss_rec, *loss_adv, *loss_g, *loss_d; /* scalars (kept) */
    cp_node *p_real, *p_fake;          /* mean sigmoid(D(x)), mean sigmoid(D(y)) */
    cp_node **grad;                    /* per model tensor: its gradient (D step
                                          for D, G step for G) or NULL */
    int batch;
    /* Segments holding only the Adam updates of D and of G: a step may
     * stop before them (cp_train_step's gradient hook). */
    int d_update_segment, g_update_segment;
} cp_train_graph;

cp_status cp_model_build_train(cp_model *m, int batch, const cp_train_options *o,
                               cp_train_graph *out);
void cp_train_graph_free(cp_train_graph *t);

/* G forward for inference (batch norm with running statistics). With
 * `with_losses`, also D on x and y and MODEL.md's losses for evaluation
 * (no backward, nothing updated). */
typedef struct cp_infer_graph {
    cp_graph *graph;
    cp_node *x, *mask, *g_out, *y;
    cp_node *loss_rec, *loss_adv, *loss_d; /* NULL without losses */
    int batch;
} cp_infer_graph;
cp_status cp_model_build_infer(cp_model *m, int batch, bool with_losses, float ctx_weight,
                               cp_infer_graph *out);
void cp_infer_graph_free(cp_infer_graph *t);

#ifdef __cplusplus
}
#endif
#endif
