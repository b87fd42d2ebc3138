/* G and D as graph nodes, walked from the layer table (model_layers.c), and
 * the training and inference graphs built from them. */
#include "clinpaint/layers.h"
#include "clinpaint/model.h"
#include "backend/opencl/runtime/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct net_builder {
    cp_model *m;
    cp_graph *g;
    cp_node **leaf; /* per model tensor: its leaf node in this graph */
    cp_layer_table layers;
} net_builder;

static cp_node *leaf(net_builder *b, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static cp_node *leaf(net_builder *b, const char *fmt, ...)
{
    char name[CP_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    for (int i = 0; i < b->m->count; i++)
        if (strcmp(b->m->tensors[i].name, name) == 0) return b->leaf[i];
    return NULL;
}

static const cp_bn_params bn_params = {1e-5f, 0.1f};

/* One layer of the table: (reshape,) op with bias, its batch norm, its
 * activation, its pool. */
static cp_node *apply_layer(net_builder *b, const cp_layer *l, cp_node *h, cp_bn_mode mode)
{
    cp_graph *g = b->g;
    int64_t n = cp_node_shape(h)[0];
    /* Dense layers take the flattened map; a conv after a dense one, the map. */
    if (l->kind == CP_LAYER_DENSE && cp_node_ndim(h) != 2) {
        int64_t flat[2] = {n, l->c_in};
        h = cp_g_reshape(g, h, 2, flat);
    } else if (l->kind != CP_LAYER_DENSE && cp_node_ndim(h) != 4) {
        int64_t map[4] = {n, l->c_in, l->hw, l->hw};
        h = cp_g_reshape(g, h, 4, map);
    }
    cp_node *w = leaf(b, "%s.weight", l->name), *bias = leaf(b, "%s.bias", l->name);
    cp_conv_params p = l->kind == CP_LAYER_CONV3   ? cp_conv3_params()
                       : l->kind == CP_LAYER_CONV2 ? cp_conv2_params()
                                                   : cp_up2_params();
    if (l->kind == CP_LAYER_DENSE)
        h = cp_g_dense(g, h, w, bias);
    else if (l->kind == CP_LAYER_UP2)
        h = cp_g_conv_transpose2d(g, h, w, bias, &p);
    else
        h = cp_g_conv2d(g, h, w, bias, &p);
    cp_node_set_name(h, l->name);
    if (l->batchnorm) {
        h = cp_g_batchnorm(g, h, leaf(b, "%s.bn_%s.weight", l->prefix, l->part),
                           leaf(b, "%s.bn_%s.bias", l->prefix, l->part),
                           leaf(b, "%s.bn_%s.running_mean", l->prefix, l->part),
                           leaf(b, "%s.bn_%s.running_var", l->prefix, l->part), &bn_params, mode);
        char name[CP_NAME_MAX];
        snprintf(name, sizeof name, "%s.bn_%s", l->prefix, l->part);
        cp_node_set_name(h, name);
    }
    if (l->activation == CP_ACT_ELU) h = cp_g_elu(g, h);
    if (l->activation == CP_ACT_TANH) h = cp_g_tanh(g, h);
    if (l->pool) h = cp_g_maxpool2(g, h);
    return h;
}

/* Every layer of one network of the table, in order. */
static cp_node *network(net_builder *b, int group, cp_node *h, cp_bn_mode mode)
{
    for (int i = 0; i < b->layers.count; i++)
        if (b->layers.layers[i].group == group) h = apply_layer(b, &b->layers.layers[i], h, mode);
    return h;
}

/* G sees the known pixels and the mask; its output is an image. */
static cp_node *generator(net_builder *b, cp_node *x, cp_node *mask, cp_bn_mode mode)
{
    cp_node *h = cp_g_concat(b->g, cp_g_mask_known(b->g, x, mask), mask);
    h = network(b, CP_GROUP_G, h, mode);
    cp_node_set_name(h, "G.out");
    return h;
}

/* D: one logit per image. */
static cp_node *discriminator(net_builder *b, cp_node *img, cp_bn_mode mode)
{
    return network(b, CP_GROUP_D, img, mode);
}

static cp_status begin(cp_model *m, net_builder *b)
{
    b->m = m;
    CP_TRY(cp_model_layers(&m->cfg, &b->layers));
    b->leaf = calloc((size_t)m->count, sizeof *b->leaf);
    if (!b->leaf) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "graph");
    cp_status st = cp_graph_create(m->ctx, &b->g);
    if (st != CP_OK) {
        free(b->leaf);
        return st;
    }
    for (int i = 0; i < m->count; i++) {
        cp_model_tensor *t = &m->tensors[i];
        b->leaf[i] = t->trainable ? cp_g_param(b->g, &t->value, t->group)
                                  : cp_g_buffer(b->g, &t->value);
    }
    return CP_OK;
}

static void inputs(net_builder *b, int batch, cp_node **x, cp_node **mask)
{
    int s = b->m->cfg.size;
    int64_t xs[4] = {batch, 3, s, s}, ms[4] = {batch, 1, s, s};
    *x = cp_g_input(b->g, "input.x", 4, xs);
    *mask = cp_g_input(b->g, "input.mask", 4, ms);
}

cp_train_options cp_train_defaults(void)
{
    cp_adam_params adam = {1e-4f, 0.5f, 0.999f, 1e-8f};
    return (cp_train_options){.rec_weight = 0.999f, .adv_weight = 0.001f, .ctx_weight = 0.1f,
                              .adam_g = adam, .adam_d = adam, .keep_grads = false};
}

/* Records the gradients of `group` and appends their Adam updates. */
static cp_status optimise(net_builder *b, cp_train_graph *t, int group, const cp_adam_params *p,
                          int64_t *step, bool keep)
{
    cp_model *m = b->m;
    for (int i = 0; i < m->count; i++) {
        cp_model_tensor *mt = &m->tensors[i];
        if (!mt->trainable || mt->group != group) continue;
        cp_node *grad = cp_g_grad(b->leaf[i]);
        t->grad[i] = grad;
        if (!grad) continue; /* does not affect the loss */
        if (keep) cp_g_keep(b->g, grad);
        CP_TRY(cp_g_adam(b->g, b->leaf[i], grad, &mt->m, &mt->v, p, step));
    }
    return CP_OK;
}

cp_status cp_model_build_train(cp_model *m, int batch, const cp_train_options *o,
                               cp_train_graph *t)
{
    memset(t, 0, sizeof *t);
    if (batch < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "batch %d must be at least 1", batch);
    if (m->cfg.batchnorm && batch < 2)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "batch normalisation needs a batch of at least 2");
    net_builder b;
    CP_TRY(begin(m, &b));
    t->graph = b.g;
    t->batch = batch;
    t->grad = calloc((size_t)m->count, sizeof *t->grad);
    cp_graph *g = b.g;
    cp_status st = t->grad ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "graph");

    inputs(&b, batch, &t->x, &t->mask);
    cp_graph_segment(g, "G forward");
    t->g_out = generator(&b, t->x, t->mask, CP_BN_TRAIN);
    t->y = cp_g_composite(g, t->g_out, t->x, t->mask);

    cp_graph_segment(g, "D step");
    t->d_real = discriminator(&b, t->x, CP_BN_TRAIN);
    t->d_fake = discriminator(&b, cp_g_stop_gradient(g, t->y), CP_BN_TRAIN);
    t->loss_d = cp_g_add(g, 1.0f, cp_g_loss_bce(g, t->d_real, 1), 1.0f,
                         cp_g_loss_bce(g, t->d_fake, 0));
    t->p_real = cp_g_mean(g, cp_g_sigmoid(g, t->d_real));
    t->p_fake = cp_g_mean(g, cp_g_sigmoid(g, t->d_fake));
    if (st == CP_OK) st = cp_g_backward(g, t->loss_d, CP_GROUP_D, NULL, 0);
    /* Its own segment, so a step can stop between gradients and update. */
    t->d_update_segment = cp_graph_segment(g, "D update");
    if (st == CP_OK) st = optimise(&b, t, CP_GROUP_D, &o->adam_d, &m->step_d, o->keep_grads);

    cp_graph_segment(g, "G step");
    t->d_fake_g = discriminator(&b, t->y, CP_BN_TRAIN_NO_UPDATE);
    t->loss_adv = cp_g_loss_bce(g, t->d_fake_g, 1);
    t->loss_rec = cp_g_loss_rec(g, t->g_out, t->x, t->mask, o->ctx_weight);
    t->loss_g = cp_g_add(g, o->rec_weight, t->loss_rec, o->adv_weight, t->loss_adv);
    if (st == CP_OK) st = cp_g_backward(g, t->loss_g, CP_GROUP_G, NULL, 0);
    t->g_update_segment = cp_graph_segment(g, "G update");
    if (st == CP_OK) st = optimise(&b, t, CP_GROUP_G, &o->adam_g, &m->step_g, o->keep_grads);

    cp_node *kept[] = {t->g_out, t->y, t->d_real, t->d_fake, t->d_fake_g, t->loss_rec,
                       t->loss_adv, t->loss_g, t->loss_d, t->p_real, t->p_fake};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) cp_g_keep(g, kept[i]);
    free(b.leaf);
    if (st == CP_OK) st = cp_graph_status(g);
    if (st != CP_OK) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", cp_last_error());
        cp_train_graph_free(t);
        return cp_set_error(st, "building the training graph: %s", msg);
    }
    return CP_OK;
}

void cp_train_graph_free(cp_train_graph *t)
{
    cp_graph_free(t->graph);
    free(t->grad);
    memset(t, 0, sizeof *t);
}

cp_status cp_model_build_infer(cp_model *m, int batch, bool with_losses, float ctx_weight,
                               cp_infer_graph *t)
{
    memset(t, 0, sizeof *t);
    if (batch < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "batch %d must be at least 1", batch);
    net_builder b;
    CP_TRY(begin(m, &b));
    t->graph = b.g;
    t->batch = batch;
    inputs(&b, batch, &t->x, &t->mask);
    cp_graph_segment(b.g, "G forward");
    t->g_out = generator(&b, t->x, t->mask, CP_BN_EVAL);
    t->y = cp_g_composite(b.g, t->g_out, t->x, t->mask);
    cp_g_keep(b.g, t->g_out);
    cp_g_keep(b.g, t->y);
    if (with_losses) {
        cp_graph_segment(b.g, "D forward");
        cp_node *real = discriminator(&b, t->x, CP_BN_EVAL);
        cp_node *fake = discriminator(&b, t->y, CP_BN_EVAL);
        t->loss_rec = cp_g_loss_rec(b.g, t->g_out, t->x, t->mask, ctx_weight);
        t->loss_adv = cp_g_loss_bce(b.g, fake, 1);
        t->loss_d = cp_g_add(b.g, 1.0f, cp_g_loss_bce(b.g, real, 1), 1.0f,
                             cp_g_loss_bce(b.g, fake, 0));
        cp_g_keep(b.g, t->loss_rec);
        cp_g_keep(b.g, t->loss_adv);
        cp_g_keep(b.g, t->loss_d);
    }
    free(b.leaf);
    cp_status st = cp_graph_status(b.g);
    if (st != CP_OK) cp_infer_graph_free(t);
    return st;
}

void cp_infer_graph_free(cp_infer_graph *t)
{
    cp_graph_free(t->graph);
    memset(t, 0, sizeof *t);
}
