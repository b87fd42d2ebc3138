/* The model's tensors: names, shapes, allocation and initialisation. */
#include "clinpaint/model.h"
#include "clinpaint/rng.h"
#include "runtime/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cp_status cp_model_config_preset(const char *name, cp_model_config *out)
{
    static const struct {
        const char *name;
        int size, widths[6], latent;
    } presets[] = {
        {"tiny", 64, {16, 32, 64, 64, 128, 128}, 256},
        {"small", 128, {16, 32, 64, 128, 256, 256}, 512},
        {"base", 128, {32, 64, 128, 256, 256, 256}, 512},
    };
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i].name) != 0) continue;
        memset(out, 0, sizeof *out);
        snprintf(out->preset, sizeof out->preset, "%s", name);
        out->size = presets[i].size;
        memcpy(out->widths, presets[i].widths, sizeof out->widths);
        out->latent = presets[i].latent;
        return CP_OK;
    }
    return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                        "unknown preset '%s' (choose tiny, small or base)", name);
}

cp_status cp_model_config_validate(const cp_model_config *c)
{
    if (c->size < 32 || c->size > 512 || (c->size & (c->size - 1)) != 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "image size %d must be a power of two from 32 to 512", c->size);
    for (int i = 0; i < 6; i++)
        if (c->widths[i] < 1 || c->widths[i] > 4096)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT, "width w%d = %d must be in 1..4096",
                                i + 1, c->widths[i]);
    if (c->latent < 1 || c->latent > 65536)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "latent size %d must be in 1..65536",
                            c->latent);
    return CP_OK;
}

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

static void conv(builder *b, int group, const char *prefix, const char *kind, int k, int64_t cin,
                 int64_t cout, bool bn)
{
    int64_t shape[4] = {cout, cin, k, k};
    layer(b, group, prefix, kind, 4, shape, k * k * cin, k * k * cout, cout, bn);
}

static void up2(builder *b, int group, const char *prefix, int64_t cin, int64_t cout, bool bn)
{
    int64_t shape[4] = {cin, cout, 2, 2};
    layer(b, group, prefix, "up2", 4, shape, 4 * cin, 4 * cout, cout, bn);
}

static void dense(builder *b, int group, const char *prefix, const char *kind, int64_t in,
                  int64_t out)
{
    int64_t shape[2] = {out, in};
    layer(b, group, prefix, kind, 2, shape, in, out, out, false);
}

static void encoder(builder *b, int group, const char *net, int c0, const cp_model_config *c,
                    bool first_bn)
{
    char prefix[32];
    int64_t cprev = c0;
    for (int i = 1; i <= 6; i++) {
        snprintf(prefix, sizeof prefix, "%s.enc%d", net, i);
        conv(b, group, prefix, "conv3", 3, cprev, c->widths[i - 1],
             c->batchnorm && (i > 1 || first_bn));
        conv(b, group, prefix, "conv2", 2, c->widths[i - 1], c->widths[i - 1], c->batchnorm);
        cprev = c->widths[i - 1];
    }
}

cp_status cp_model_create(cp_context *ctx, const cp_model_config *cfg, cp_model **out)
{
    *out = NULL;
    CP_TRY(cp_model_config_validate(cfg));
    cp_model *m = calloc(1, sizeof *m);
    if (!m) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "model");
    m->ctx = ctx;
    m->cfg = *cfg;
    builder b = {m, 0, CP_OK};
    const cp_model_config *c = cfg;
    int64_t s32 = c->size / 32, f = (int64_t)c->widths[5] * s32 * s32;
    /* G */
    encoder(&b, CP_GROUP_G, "G", 4, c, true);
    dense(&b, CP_GROUP_G, "G.bottleneck", "dense1", f, c->latent);
    dense(&b, CP_GROUP_G, "G.bottleneck", "dense2", c->latent, f);
    int64_t dprev = c->widths[5];
    char prefix[32];
    for (int j = 1; j <= 6; j++) {
        int64_t d = c->widths[6 - j];
        snprintf(prefix, sizeof prefix, "G.dec%d", j);
        conv(&b, CP_GROUP_G, prefix, "conv3", 3, dprev, d, c->batchnorm);
        if (j <= 5)
            up2(&b, CP_GROUP_G, prefix, d, d, c->batchnorm);
        else
            conv(&b, CP_GROUP_G, prefix, "conv2", 2, d, 3, false);
        dprev = d;
    }
    /* D */
    encoder(&b, CP_GROUP_D, "D", 3, c, false);
    dense(&b, CP_GROUP_D, "D", "head", f, 1);
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
