/* The parameter count of a model configuration, without building it (the
 * memory checks before a run or a checkpoint load use it). */
#include "clinpaint/train.h"

/* Parameters of the model of `c` (weights, biases, batch-norm values), the
 * same layers as cp_model_create builds. */
uint64_t cp_model_config_params(const cp_model_config *c)
{
    const uint64_t bn = c->batchnorm ? 4 : 0, s32 = (uint64_t)c->size / 32;
    const uint64_t f = (uint64_t)c->widths[5] * s32 * s32, lat = (uint64_t)c->latent;
    uint64_t p = 0;
    for (int net = 0; net < 2; net++) { /* the encoders of G (4 channels in) and D (3) */
        uint64_t prev = net == 0 ? 4 : 3;
        for (int i = 0; i < 6; i++) {
            uint64_t w = (uint64_t)c->widths[i];
            bool conv3_bn = net == 0 || i > 0; /* D's first layer has no batch norm */
            p += prev * w * 9 + w + (conv3_bn ? bn * w : 0) + w * w * 4 + w + bn * w;
            prev = w;
        }
    }
    p += f * lat + lat + lat * f + f; /* G's bottleneck */
    p += f + 1;                       /* D's head */
    uint64_t prev = (uint64_t)c->widths[5];
    for (int j = 1; j <= 6; j++) { /* G's decoder */
        uint64_t d = (uint64_t)c->widths[6 - j];
        p += prev * d * 9 + d + bn * d;
        p += j <= 5 ? d * d * 4 + d + bn * d : d * 3 * 4 + 3;
        prev = d;
    }
    return p;
}
