/* G and D of MODEL.md as graph nodes, and the training and inference
 * graphs built from them. */
#include "clinpaint/model.h"
#include "runtime/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct net_builder {
    cp_model *m;
    cp_graph *g;
    cp_node **leaf; /* per model tensor: its leaf node in this graph */
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

/* conv (or up2) with bias, then its batch norm if the model has one. */
static cp_node *conv_bn(net_builder *b, const char *prefix, const char *kind, cp_node *x,
                        cp_bn_mode mode)
{
    cp_conv_params p = strcmp(kind, "conv3") == 0   ? cp_conv3_params()
                       : strcmp(kind, "conv2") == 0 ? cp_conv2_params()
                                                    : cp_up2_params();
    cp_node *w = leaf(b, "%s.%s.weight", prefix, kind), *bias = leaf(b, "%s.%s.bias", prefix, kind);
    cp_node *h = strcmp(kind, "up2") == 0 ? cp_g_conv_transpose2d(b->g, x, w, bias, &p)
                                          : cp_g_conv2d(b->g, x, w, bias, &p);
    char name[CP_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", prefix, kind);
    cp_node_set_name(h, name);
    cp_node *gamma = leaf(b, "%s.bn_%s.weight", prefix, kind);
    if (!gamma) return h;
    h = cp_g_batchnorm(b->g, h, gamma, leaf(b, "%s.bn_%s.bias", prefix, kind),
                       leaf(b, "%s.bn_%s.running_mean", prefix, kind),
                       leaf(b, "%s.bn_%s.running_var", prefix, kind), &bn_params, mode);
    snprintf(name, sizeof name, "%s.bn_%s", prefix, kind);
    cp_node_set_name(h, name);
    return h;
}

static cp_node *encoder(net_builder *b, const char *net, cp_node *h, cp_bn_mode mode)
{
    char prefix[32];
    for (int i = 1; i <= 6; i++) {
        snprintf(prefix, sizeof prefix, "%s.enc%d", net, i);
        h = cp_g_elu(b->g, conv_bn(b, prefix, "conv3", h, mode));
        h = cp_g_elu(b->g, conv_bn(b, prefix, "conv2", h, mode));
        if (i < 6) h = cp_g_maxpool2(b->g, h);
    }
    return h;
}

static cp_node *generator(net_builder *b, cp_node *x, cp_node *mask, cp_bn_mode mode)
{
    const cp_model_config *c = &b->m->cfg;
    cp_graph *g = b->g;
    int64_t n = cp_node_shape(x)[0], s32 = c->size / 32;
    cp_node *h = cp_g_concat(g, cp_g_mask_known(g, x, mask), mask);
    h = encoder(b, "G", h, mode);
    int64_t flat[2] = {n, (int64_t)c->widths[5] * s32 * s32};
    h = cp_g_reshape(g, h, 2, flat);
    h = cp_g_elu(g, cp_g_dense(g, h, leaf(b, "G.bottleneck.dense1.weight"),
                               leaf(b, "G.bottleneck.dense1.bias")));
    h = cp_g_elu(g, cp_g_dense(g, h, leaf(b, "G.bottleneck.dense2.weight"),
                               leaf(b, "G.bottleneck.dense2.bias")));
    int64_t map[4] = {n, c->widths[5], s32, s32};
    h = cp_g_reshape(g, h, 4, map);
    char prefix[32];
    for (int j = 1; j <= 6; j++) {
        snprintf(prefix, sizeof prefix, "G.dec%d", j);
        h = cp_g_elu(g, conv_bn(b, prefix, "conv3", h, mode));
        if (j <= 5) h = cp_g_elu(g, conv_bn(b, prefix, "up2", h, mode));
    }
    h = cp_g_tanh(g, conv_bn(b, "G.dec6", "conv2", h, mode));
    cp_node_set_name(h, "G.out");
    return h;
}

static cp_node *discriminator(net_builder *b, cp_node *img, cp_bn_mode mode)
{
    const cp_model_config *c = &b->m->cfg;
    int64_t n = cp_node_shape(img)[0], s32 = c->size / 32;
    cp_node *h = encoder(b, "D", img, mode);
    int64_t flat[2] = {n, (int64_t)c->widths[5] * s32 * s32};
    h = cp_g_reshape(b->g, h, 2, flat);
    h = cp_g_dense(b->g, h, leaf(b, "D.head.weight"), leaf(b, "D.head.bias"));
    return h;
}

static cp_status begin(cp_model *m, net_builder *b)
{
    b->m = m;
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
    if (st == CP_OK) st = optimise(&b, t, CP_GROUP_D, &o->adam_d, &m->step_d, o->keep_grads);

    cp_graph_segment(g, "G step");
    t->d_fake_g = discriminator(&b, t->y, CP_BN_TRAIN_NO_UPDATE);
    t->loss_adv = cp_g_loss_bce(g, t->d_fake_g, 1);
    t->loss_rec = cp_g_loss_rec(g, t->g_out, t->x, t->mask, o->ctx_weight);
    t->loss_g = cp_g_add(g, o->rec_weight, t->loss_rec, o->adv_weight, t->loss_adv);
    if (st == CP_OK) st = cp_g_backward(g, t->loss_g, CP_GROUP_G, NULL, 0);
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
