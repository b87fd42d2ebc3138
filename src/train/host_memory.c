/* Host memory a training run needs, estimated from its configuration alone
 * (no allocation), against what the machine has available: so that an
 * absurd model (--widths 4096,...) is refused with a message instead of
 * exhausting memory or tripping a driver's assertion. */
#include "clinpaint/image.h"
#include "clinpaint/train.h"
#include "data/dataset_internal.h"
#include "backend/opencl/runtime/check.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A conservative worst case of one decoding thread at the pixel budget
 * (cp_image_max_pixels): a 16-bit RGBA image held whole while decoding
 * (8 B/px, e.g. interlaced PNG), a working copy (8 B/px) and the 8-bit RGB
 * result (3 B/px). */
#define DECODE_BYTES_PER_PIXEL 19u
/* The loader's defaults (cp_loader_defaults): a 1 GiB decoded-image cache,
 * max(2, threads) batches decoded ahead plus the one being used. */
#define LOADER_CACHE_BYTES ((uint64_t)1 << 30)

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

uint64_t cp_host_memory_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb = 0;
        bool found = false;
        while (!found && fgets(line, sizeof line, f))
            found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
        fclose(f); /* read-only: nothing to flush */
        if (found) return (uint64_t)kb * 1024;
    }
#ifdef _SC_AVPHYS_PAGES
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && size > 0) return (uint64_t)pages * (uint64_t)size;
#endif
    return 0; /* unknown */
}

cp_status cp_train_host_memory(const cp_device_info *dev, const cp_model_config *cfg, int batch,
                               int threads, cp_host_memory *out)
{
    memset(out, 0, sizeof *out);
    if (batch < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "batch %d: must be at least 1", batch);
    if (threads <= 0) threads = cp_default_threads();
    const uint64_t params = cp_model_config_params(cfg), S2 = (uint64_t)cfg->size * cfg->size;
    /* Weights and both Adam moments; a checkpoint is built (and read back on
     * resume) whole in host memory, so one copy of all three is on the host
     * whatever the device. On a CPU device the device memory is host memory
     * too: the model and its gradients live there. */
    out->model = params * 4 * 3;
    out->checkpoint = params * 4 * 3;
    bool cpu = dev && dev->type == CL_DEVICE_TYPE_CPU;
    out->device_model = cpu ? out->model + params * 4 : 0;
    out->decode = (uint64_t)threads * (uint64_t)cp_image_max_pixels() * DECODE_BYTES_PER_PIXEL;
    uint64_t slots = (uint64_t)(threads > 2 ? threads : 2) + 1;
    out->prefetch = slots * (uint64_t)batch * S2 * 4 * 4; /* images (3) and masks (1), floats */
    out->cache = LOADER_CACHE_BYTES;
    out->total = out->model + out->checkpoint + out->device_model + out->decode + out->prefetch +
                 out->cache;
    out->available = cp_host_memory_available();
    return CP_OK;
}

static double gib(uint64_t b) { return (double)b / (1u << 30); }

cp_status cp_train_check_host_memory(const cp_device_info *dev, const cp_model_config *cfg,
                                     int batch, int threads, uint64_t extra)
{
    cp_host_memory h;
    CP_TRY(cp_train_host_memory(dev, cfg, batch, threads, &h));
    if (h.available == 0 || h.total + extra <= h.available) return CP_OK;
    /* Only the prefetch queue (and, on CPU devices, `extra`: activations)
     * grows with the batch: is there a batch that fits? */
    int largest = 0;
    for (int b = batch / 2; b >= 1 && largest == 0; b /= 2) {
        cp_host_memory hb;
        CP_TRY(cp_train_host_memory(dev, cfg, b, threads, &hb));
        if (hb.total + extra / (uint64_t)batch * (uint64_t)b <= h.available) largest = b;
    }
    char hint[96] = "";
    if (largest > 0)
        snprintf(hint, sizeof hint, "; a batch of %d fits (--batch %d)", largest, largest);
    else
        snprintf(hint, sizeof hint, "; try a smaller --preset or --widths");
    return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY,
                        "this model needs %.2f GiB of host memory at batch %d, %.2f GiB available "
                        "(%llu parameters: weights and Adam state %.2f GiB, checkpoint copy %.2f "
                        "GiB, on the CPU device %.2f GiB, activations %.2f GiB; image decoding "
                        "%.2f GiB; prefetched batches %.2f GiB; decoded-image cache %.2f GiB)%s",
                        gib(h.total + extra), batch, gib(h.available),
                        (unsigned long long)cp_model_config_params(cfg), gib(h.model),
                        gib(h.checkpoint), gib(h.device_model), gib(extra), gib(h.decode),
                        gib(h.prefetch), gib(h.cache), hint);
}
