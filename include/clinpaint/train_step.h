/* One training iteration of docs/model.md on a batch already in host
 * memory: upload the batch, G forward, D step, G step, read the logged
 * scalars. The trainer, `clinpaint bench` and tools/measure all step
 * through this one function. */
#ifndef CLINPAINT_TRAIN_STEP_H
#define CLINPAINT_TRAIN_STEP_H

#include "clinpaint/graph.h"
#include "clinpaint/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The values clinpaint logs per iteration (log.csv). */
typedef struct cp_train_scalars {
    float rec, adv, g, d;  /* L_rec, L_adv, L_G, L_D */
    float p_real, p_fake;  /* mean sigmoid(D(x)), mean sigmoid(D(y)) */
} cp_train_scalars;

/* The gradient hook: called once per network and step, group CP_GROUP_D
 * first (after D's gradients, before Adam on D), then CP_GROUP_G (after
 * G's gradients, before Adam on G). Data-parallel training all-reduces
 * there.
 *
 * Contract: when it is called, the work up to that network's gradients
 * has been enqueued on the context's in-order queue (not finished). The
 * gradient of model tensor i with m->tensors[i].group == group is
 * t->grad[i] (NULL for one that does not affect the loss); read it with
 * cp_graph_tensor. The hook may enqueue work on the same queue, or finish
 * the queue and work on the host, and may overwrite those gradients in
 * place; Adam then uses what they hold. It must not write any other
 * memory of the graph (the other network's gradients are not computed
 * yet, or already used). A status other than CP_OK stops the step: the
 * model is then part-updated and should be reloaded. */
typedef cp_status (*cp_gradient_hook)(void *user, cp_model *m, cp_train_graph *t, int group);

typedef struct cp_train_step_options {
    cp_gradient_hook on_gradients; /* NULL: the graph runs in one go */
    void *user;
    cp_graph_profile *profile;     /* non-NULL: the step is profiled into it
                                      (blocks until the device is done) */
} cp_train_step_options;

/* One iteration of t (built by cp_model_build_train for m and planned).
 * images: [N,3,S,S], masks: [N,1,S,S] in host memory (NULL: leave the
 * graph's input as it is, e.g. to time the same batch again). Advances
 * m->step_d and m->step_g by one (Adam's step numbers). out: the logged
 * scalars (NULL: not read back, so nothing waits for the device). o may
 * be NULL. */
cp_status cp_train_step(cp_model *m, cp_train_graph *t, const float *images, const float *masks,
                        const cp_train_step_options *o, cp_train_scalars *out);

#ifdef __cplusplus
}
#endif
#endif
