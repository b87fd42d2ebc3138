/* The model's tensors (from the layer table): names, shapes, allocation and
 * initialisation. */
#include "clinpaint/layers.h"
#include "clinpaint/model.h"
#include "clinpaint/rng.h"
#include "backend/opencl/runtime/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the list of tensors, in MODEL.md order ---- */

typedef struct builder {
    cp_model *m;
    int cap;
    cp_status st;
} builder;

static cp_model_tensor *add(builder *b, int group, bool trainable, const char *name, int ndim,
                            const int64_t *shape)
{
    if (b->st != CP_OK) return NULL;
    cp_model *m = b->m;
    if (m->count == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        cp_model_tensor *grown = realloc(m->tensors, (size_t)cap * sizeof *grown);
        if (!grown) {
            b->st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "model tensors");
            return NULL;
        }
        m->tensors = grown;
        b->cap = cap;
    }
    cp_model_tensor *t = &m->tensors[m->count];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->group = group;
    t->trainable = trainable;
    b->st = cp_tensor_create(m->ctx, ndim, shape, name, &t->value);
    if (b->st == CP_OK && trainable) {
        char mn[CP_NAME_MAX + 8];
        snprintf(mn, sizeof mn, "m.%s", name);
        b->st = cp_tensor_create(m->ctx, ndim, shape, mn, &t->m);
        if (b->st == CP_OK) {
            snprintf(mn, sizeof mn, "v.%s", name);
            b->st = cp_tensor_create(m->ctx, ndim, shape, mn, &t->v);
        }
    }
    m->count++; /* counted even on failure, so cp_model_free releases it */
    return b->st == CP_OK ? t : NULL;
}

/* A convolution (or transposed, or dense) layer: weight and bias, then its
 * batch norm when the model has one there. */
static void layer(builder *b, int group, const char *prefix, const char *kind, int ndim,
                  const int64_t *wshape, int64_t fan_in, int64_t fan_out, int64_t c_out, bool bn)
{
    char name[CP_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s.weight", prefix, kind);
    cp_model_tensor *w = add(b, group, true, name, ndim, wshape);
    if (w) w->glorot_a = sqrt(6.0 / (double)(fan_in + fan_out));
    snprintf(name, sizeof name, "%s.%s.bias", prefix, kind);
    add(b, group, true, name, 1, &c_out);
    if (!bn) return;
    static const char *const bn_names[4] = {"weight", "bias", "running_mean", "running_var"};
    static const float bn_init[4] = {1, 0, 0, 1};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.bn_%s.%s", prefix, kind, bn_names[i]);
        cp_model_tensor *t = add(b, group, i < 2, name, 1, &c_out);
        if (t) t->init_const = bn_init[i];
    }
}

/* The tensors of one layer of the table. */
static void layer_tensors(builder *b, const cp_layer *l)
{
    int64_t ci = l->c_in, co = l->c_out;
    switch (l->kind) {
    case CP_LAYER_CONV3:
    case CP_LAYER_CONV2: {
        int64_t k = cp_layer_kernel(l), shape[4] = {co, ci, k, k};
        layer(b, l->group, l->prefix, l->part, 4, shape, k * k * ci, k * k * co, co, l->batchnorm);
        break;
    }
    case CP_LAYER_UP2: {
        int64_t shape[4] = {ci, co, 2, 2};
        layer(b, l->group, l->prefix, l->part, 4, shape, 4 * ci, 4 * co, co, l->batchnorm);
        break;
    }
    case CP_LAYER_DENSE: {
        int64_t shape[2] = {co, ci};
        layer(b, l->group, l->prefix, l->part, 2, shape, ci, co, co, false);
        break;
    }
    }
}

cp_status cp_model_create(cp_context *ctx, const cp_model_config *cfg, cp_model **out)
{
    *out = NULL;
    cp_layer_table table;
    CP_TRY(cp_model_layers(cfg, &table));
    CP_TRY(cp_model_create_layers(ctx, &table, out));
    (*out)->cfg = *cfg;
    return CP_OK;
}

cp_status cp_model_create_layers(cp_context *ctx, const cp_layer_table *layers, cp_model **out)
{
    *out = NULL;
    cp_model *m = calloc(1, sizeof *m);
    if (!m) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "model");
    m->ctx = ctx;
    builder b = {m, 0, CP_OK};
    for (int i = 0; i < layers->count; i++) layer_tensors(&b, &layers->layers[i]);
    if (b.st != CP_OK) {
        cp_model_free(m);
        return b.st;
    }
    *out = m;
    return CP_OK;
}

void cp_model_free(cp_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->count; i++) {
        cp_tensor_free(m->ctx, &m->tensors[i].value);
        cp_tensor_free(m->ctx, &m->tensors[i].m);
        cp_tensor_free(m->ctx, &m->tensors[i].v);
    }
    free(m->tensors);
    free(m);
}

cp_model_tensor *cp_model_find(cp_model *m, const char *name)
{
    for (int i = 0; i < m->count; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

size_t cp_model_param_count(const cp_model *m, int group)
{
    size_t n = 0;
    for (int i = 0; i < m->count; i++)
        if (m->tensors[i].trainable && m->tensors[i].group == group)
            n += cp_tensor_numel(&m->tensors[i].value);
    return n;
}

uint64_t cp_model_bytes(const cp_model *m)
{
    uint64_t b = 0;
    for (int i = 0; i < m->count; i++)
        b += cp_tensor_numel(&m->tensors[i].value) * sizeof(float) *
             (m->tensors[i].trainable ? 3 : 1);
    return b;
}

cp_status cp_model_init(cp_model *m, uint64_t seed)
{
    cp_rng rng;
    cp_rng_seed(&rng, seed, 1 /* stream: initialisation */);
    size_t cap = 0;
    float *host = NULL;
    cp_status st = CP_OK;
    for (int i = 0; i < m->count && st == CP_OK; i++) {
        cp_model_tensor *t = &m->tensors[i];
        size_t n = cp_tensor_numel(&t->value);
        if (n > cap) {
            float *grown = realloc(host, n * sizeof *host);
            if (!grown) {
                st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "model init");
                break;
            }
            host = grown;
            cap = n;
        }
        if (t->glorot_a > 0) {
            float a = (float)t->glorot_a;
            for (size_t k = 0; k < n; k++) host[k] = a * (2.0f * cp_rng_uniform(&rng) - 1.0f);
            st = cp_tensor_upload(m->ctx, &t->value, host);
        } else {
            st = cp_tensor_fill(m->ctx, &t->value, t->init_const);
        }
        if (st == CP_OK && t->trainable) st = cp_tensor_fill(m->ctx, &t->m, 0.0f);
        if (st == CP_OK && t->trainable) st = cp_tensor_fill(m->ctx, &t->v, 0.0f);
    }
    free(host);
    m->step_g = m->step_d = 0;
    if (st == CP_OK) st = cp_context_finish(m->ctx);
    return st;
}
