/* The context encoder described once (docs/model.md): the presets and the
 * layer table every other part derives the network from. */
#include "clinpaint/detector.h"
#include "clinpaint/layers.h"
#include "clinpaint/model.h"
#include "backend/opencl/runtime/check.h"

#include <stdio.h>
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
    for (size_t i = 0; name && i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i].name) != 0) continue;
        memset(out, 0, sizeof *out);
        snprintf(out->preset, sizeof out->preset, "%s", name);
        out->size = presets[i].size;
        memcpy(out->widths, presets[i].widths, sizeof out->widths);
        out->latent = presets[i].latent;
        return CP_OK;
    }
    return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                        "unknown preset '%s' (choose tiny, small or base)", name ? name : "");
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

static void add(cp_layer_table *t, int group, const char *prefix, const char *part,
                cp_layer_kind kind, int64_t c_in, int64_t c_out, int64_t hw, bool bn,
                cp_layer_activation act, bool pool)
{
    cp_layer *l = &t->layers[t->count++];
    memset(l, 0, sizeof *l);
    snprintf(l->prefix, sizeof l->prefix, "%s", prefix);
    snprintf(l->part, sizeof l->part, "%s", part);
    snprintf(l->name, sizeof l->name, "%s.%s", prefix, part);
    l->kind = kind;
    l->group = group;
    l->c_in = c_in;
    l->c_out = c_out;
    l->hw = kind == CP_LAYER_DENSE ? 1 : hw;
    l->batchnorm = bn;
    l->activation = act;
    l->pool = pool;
}

/* Six blocks of conv3 -> conv2 (ELU after each), a max pool between
 * blocks. D's first conv has no batch norm (DCGAN practice). */
static void encoder(cp_layer_table *t, int group, const char *net, int64_t c0,
                    const cp_model_config *c, bool first_bn)
{
    char prefix[24];
    int64_t cprev = c0, hw = c->size;
    for (int i = 1; i <= 6; i++) {
        int64_t w = c->widths[i - 1];
        snprintf(prefix, sizeof prefix, "%s.enc%d", net, i);
        add(t, group, prefix, "conv3", CP_LAYER_CONV3, cprev, w, hw,
            c->batchnorm && (i > 1 || first_bn), CP_ACT_ELU, false);
        add(t, group, prefix, "conv2", CP_LAYER_CONV2, w, w, hw, c->batchnorm, CP_ACT_ELU, i < 6);
        cprev = w;
        if (i < 6) hw /= 2;
    }
}

cp_status cp_model_layers(const cp_model_config *c, cp_layer_table *t)
{
    memset(t, 0, sizeof *t);
    CP_TRY(cp_model_config_validate(c));
    int64_t s32 = c->size / 32, f = (int64_t)c->widths[5] * s32 * s32;
    /* G: the masked image and the mask (4 channels) in, 3 channels out. */
    encoder(t, CP_GROUP_G, "G", 4, c, true);
    add(t, CP_GROUP_G, "G.bottleneck", "dense1", CP_LAYER_DENSE, f, c->latent, 1, false,
        CP_ACT_ELU, false);
    add(t, CP_GROUP_G, "G.bottleneck", "dense2", CP_LAYER_DENSE, c->latent, f, 1, false,
        CP_ACT_ELU, false);
    int64_t dprev = c->widths[5], hw = s32;
    char prefix[24];
    for (int j = 1; j <= 6; j++) {
        int64_t d = c->widths[6 - j];
        snprintf(prefix, sizeof prefix, "G.dec%d", j);
        add(t, CP_GROUP_G, prefix, "conv3", CP_LAYER_CONV3, dprev, d, hw, c->batchnorm,
            CP_ACT_ELU, false);
        if (j <= 5) {
            add(t, CP_GROUP_G, prefix, "up2", CP_LAYER_UP2, d, d, hw, c->batchnorm, CP_ACT_ELU,
                false);
            hw *= 2;
        } else {
            add(t, CP_GROUP_G, prefix, "conv2", CP_LAYER_CONV2, d, 3, hw, false, CP_ACT_TANH,
                false);
        }
        dprev = d;
    }
    /* D: an image (3 channels) in, one logit out. */
    encoder(t, CP_GROUP_D, "D", 3, c, false);
    add(t, CP_GROUP_D, "D", "head", CP_LAYER_DENSE, f, 1, 1, false, CP_ACT_NONE, false);
    return CP_OK;
}

cp_status cp_detector_layers(const cp_detector_config *c, cp_layer_table *t)
{
    memset(t, 0, sizeof *t);
    CP_TRY(cp_detector_config_validate(c));
    const int L = c->levels;
    char prefix[24];
    int64_t cprev = 3, hw = c->size;
    for (int i = 1; i <= L; i++) {
        int64_t w = c->widths[i - 1];
        snprintf(prefix, sizeof prefix, "detector.enc%d", i);
        add(t, 0, prefix, "conv3", CP_LAYER_CONV3, cprev, w, hw, false, CP_ACT_ELU, false);
        add(t, 0, prefix, "conv2", CP_LAYER_CONV2, w, w, hw, false, CP_ACT_ELU, i < L);
        t->layers[t->count - 1].skip_save = i < L;
        cprev = w;
        if (i < L) hw /= 2;
    }
    for (int j = L - 1; j >= 1; j--) {
        int64_t w = c->widths[j - 1];
        snprintf(prefix, sizeof prefix, "detector.dec%d", j);
        add(t, 0, prefix, "up2", CP_LAYER_UP2, cprev, w, hw, false, CP_ACT_ELU, false);
        t->layers[t->count - 1].skip_concat = true;
        hw *= 2;
        add(t, 0, prefix, "conv3", CP_LAYER_CONV3, 2 * w, w, hw, false, CP_ACT_ELU, false);
        cprev = w;
    }
    add(t, 0, "detector.head", "conv3", CP_LAYER_CONV3, cprev, 1, hw, false, CP_ACT_NONE, false);
    return CP_OK;
}

int64_t cp_layer_out_hw(const cp_layer *l)
{
    return l->kind == CP_LAYER_DENSE ? 1 : l->kind == CP_LAYER_UP2 ? 2 * l->hw : l->hw;
}

int cp_layer_kernel(const cp_layer *l)
{
    return l->kind == CP_LAYER_CONV3 ? 3 : l->kind == CP_LAYER_DENSE ? 0 : 2;
}
