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
