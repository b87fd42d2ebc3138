/* The detector as graph nodes, walked from its layer table
 * (cp_detector_layers): the training graph (BCE + soft Dice, gradients,
 * Adam) and the inference graph, and the step that runs them. */
#include "clinpaint/detector.h"
#include "backend/opencl/runtime/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SKIPS = CP_DETECTOR_MAX_LEVELS };

typedef struct det_builder {
    cp_detector *d;
    cp_graph *g;
    cp_node **leaf; /* per model tensor: its leaf node */
    cp_layer_table layers;
} det_builder;

static cp_node *leaf(det_builder *b, const char *layer, const char *part)
{
    char name[CP_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", layer, part);
    for (int i = 0; i < b->d->net->count; i++)
        if (strcmp(b->d->net->tensors[i].name, name) == 0) return b->leaf[i];
    return NULL;
}

/* Every layer in order: op with bias, ELU, skip kept, pool, skip joined. */
static cp_node *network(det_builder *b, cp_node *h)
{
    cp_graph *g = b->g;
    cp_node *skips[MAX_SKIPS];
    int nskips = 0;
    for (int i = 0; i < b->layers.count; i++) {
        const cp_layer *l = &b->layers.layers[i];
        cp_conv_params p = l->kind == CP_LAYER_CONV3   ? cp_conv3_params()
                           : l->kind == CP_LAYER_CONV2 ? cp_conv2_params()
                                                       : cp_up2_params();
        cp_node *w = leaf(b, l->name, "weight"), *bias = leaf(b, l->name, "bias");
        h = l->kind == CP_LAYER_UP2 ? cp_g_conv_transpose2d(g, h, w, bias, &p)
                                    : cp_g_conv2d(g, h, w, bias, &p);
        cp_node_set_name(h, l->name);
        if (l->activation == CP_ACT_ELU) h = cp_g_elu(g, h);
        if (l->skip_save && nskips < MAX_SKIPS) skips[nskips++] = h;
        if (l->pool) h = cp_g_maxpool2(g, h);
        if (l->skip_concat) h = nskips > 0 ? cp_g_concat(g, h, skips[--nskips]) : NULL;
    }
    return h;
}

static cp_status begin(cp_detector *d, int batch, det_builder *b, cp_detector_graph *t)
{
    memset(t, 0, sizeof *t);
    memset(b, 0, sizeof *b);
    if (batch < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "batch %d must be at least 1", batch);
    b->d = d;
    CP_TRY(cp_detector_layers(&d->cfg, &b->layers));
    cp_model *m = d->net;
    b->leaf = calloc((size_t)m->count, sizeof *b->leaf);
    t->grad = calloc((size_t)m->count, sizeof *t->grad);
    cp_status st = b->leaf && t->grad ? cp_graph_create(m->ctx, &b->g)
                                      : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "detector graph");
    if (st != CP_OK) {
        free(b->leaf);
        free(t->grad);
        t->grad = NULL;
        return st;
    }
    t->graph = b->g;
    t->batch = batch;
    for (int i = 0; i < m->count; i++) b->leaf[i] = cp_g_param(b->g, &m->tensors[i].value, 0);
    int s = d->cfg.size;
    t->x = cp_g_input(b->g, "input.x", 4, (int64_t[]){batch, 3, s, s});
    cp_graph_segment(b->g, "detector forward");
    t->logits = network(b, t->x);
    cp_node_set_name(t->logits, "detector.logits");
    t->prob = cp_g_sigmoid(b->g, t->logits);
    cp_g_keep(b->g, t->logits);
    cp_g_keep(b->g, t->prob);
    return CP_OK;
}

static cp_status finish(det_builder *b, cp_detector_graph *t, cp_status st)
{
    free(b->leaf);
    if (st == CP_OK) st = cp_graph_status(t->graph);
    if (st != CP_OK) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", cp_last_error());
        cp_detector_graph_free(t);
        return cp_set_error(st, "building the detector graph: %s", msg);
    }
    return CP_OK;
}

cp_detector_train_options cp_detector_train_defaults(void)
{
    return (cp_detector_train_options){.adam = {1e-3f, 0.9f, 0.999f, 1e-8f}, .dice_weight = 1.0f};
}

cp_status cp_detector_build_train(cp_detector *d, int batch, const cp_detector_train_options *o,
                                  cp_detector_graph *t)
{
    det_builder b;
    CP_TRY(begin(d, batch, &b, t));
    int s = d->cfg.size;
    t->target = cp_g_input(b.g, "input.mask", 4, (int64_t[]){batch, 1, s, s});
    t->loss = cp_g_loss_bce_dice(b.g, t->logits, t->target, o->dice_weight);
    cp_g_keep(b.g, t->loss);
    cp_status st = cp_g_backward(b.g, t->loss, 0, NULL, 0);
    cp_graph_segment(b.g, "detector update");
    cp_model *m = d->net;
    for (int i = 0; i < m->count && st == CP_OK; i++) {
        cp_model_tensor *mt = &m->tensors[i];
        t->grad[i] = cp_g_grad(b.leaf[i]);
        if (!t->grad[i]) continue;
        if (o->keep_grads) cp_g_keep(b.g, t->grad[i]);
        st = cp_g_adam(b.g, b.leaf[i], t->grad[i], &mt->m, &mt->v, &o->adam, &m->step_g);
    }
    return finish(&b, t, st);
}

cp_status cp_detector_build_infer(cp_detector *d, int batch, cp_detector_graph *t)
{
    det_builder b;
    CP_TRY(begin(d, batch, &b, t));
    return finish(&b, t, CP_OK);
}

void cp_detector_graph_free(cp_detector_graph *t)
{
    cp_graph_free(t->graph);
    free(t->grad);
    memset(t, 0, sizeof *t);
}

cp_status cp_detector_train_step(cp_detector *d, cp_detector_graph *t, const float *images,
                                 const float *masks, float *loss)
{
    if (!t->loss) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "detector step: not a training graph");
    cp_context *ctx = d->net->ctx;
    cp_tensor v;
    if (images) {
        CP_TRY(cp_graph_tensor(t->graph, t->x, &v));
        CP_TRY(cp_tensor_upload(ctx, &v, images));
    }
    if (masks) {
        CP_TRY(cp_graph_tensor(t->graph, t->target, &v));
        CP_TRY(cp_tensor_upload(ctx, &v, masks));
    }
    d->net->step_g++; /* read by the Adam nodes when they are enqueued */
    CP_TRY(cp_graph_run(t->graph));
    return loss ? cp_graph_read_scalars(t->graph, &t->loss, 1, loss) : CP_OK;
}

cp_status cp_detector_predict(cp_detector *d, cp_detector_graph *t, const float *images, int n,
                              float *prob)
{
    if (n < 1 || n > t->batch)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "detector: %d images for a batch of %d", n,
                            t->batch);
    if (t->loss)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "detector: predict runs an inference graph (cp_detector_build_infer)");
    cp_context *ctx = d->net->ctx;
    size_t s = (size_t)d->cfg.size, plane = s * s, b = (size_t)t->batch;
    /* No batch statistics in the detector: a partial batch is padded with
     * zeros, which changes nothing for the images given. */
    float *in = calloc(b * 3 * plane, sizeof *in), *out = malloc(b * plane * sizeof *out);
    cp_status st = in && out ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "detector batch");
    if (st == CP_OK) memcpy(in, images, (size_t)n * 3 * plane * sizeof *in);
    cp_tensor v;
    if (st == CP_OK) st = cp_graph_tensor(t->graph, t->x, &v);
    if (st == CP_OK) st = cp_tensor_upload(ctx, &v, in);
    if (st == CP_OK) st = cp_graph_run(t->graph);
    if (st == CP_OK) st = cp_graph_tensor(t->graph, t->prob, &v);
    if (st == CP_OK) st = cp_tensor_download(ctx, &v, out);
    if (st == CP_OK) memcpy(prob, out, (size_t)n * plane * sizeof *prob);
    free(in);
    free(out);
    return st;
}
