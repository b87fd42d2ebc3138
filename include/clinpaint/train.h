/* clinpaint training: MODEL.md's iterations over a folder of images, with
 * the run folder of logs, figures and checkpoints. */
#ifndef CLINPAINT_TRAIN_H
#define CLINPAINT_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/model.h"
#include "clinpaint/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cp_train_progress {
    uint64_t epoch, epochs;          /* 0-based epoch, total */
    uint64_t batch, batches;         /* within the epoch: next batch, batches per epoch */
    uint64_t step;                   /* iterations done in the whole run */
    double elapsed_s, images_per_s, eta_s;
    float rec, adv, g, d, p_real, p_fake; /* the last iteration's values */
    int replicas;                    /* data-parallel replicas (1: one device) */
    double comm_share;               /* of the time so far, the share spent
                                        averaging gradients (0 with one replica) */
} cp_train_progress;

typedef struct cp_epoch_metrics {
    uint64_t epoch, step;
    double hole_psnr, psnr, ssim, hole_l1; /* test split, MODEL.md */
    double rec, adv, d;                    /* test split losses */
    uint64_t images;                       /* 0 when the test split is empty */
} cp_epoch_metrics;

typedef struct cp_train_config {
    const char *data_dir;  /* folder of images (read recursively) */
    const char *out_dir;   /* the run folder */
    const char *mask_spec; /* center|rect|free|face|mixed|PNG|DIR */
    const char *resume;    /* checkpoint to continue from, or NULL */
    bool overwrite;        /* out_dir may hold another run: its run files are deleted first
                              (without this or resume, such a folder is refused) */
    cp_model_config model;
    int batch, epochs; /* with resume, epochs 0 keeps the checkpoint's */
    uint64_t seed;
    cp_train_options opts;
    double max_minutes;     /* stop (saving) after this long; 0: no limit */
    uint64_t max_steps;     /* stop after this many iterations in total; 0: none */
    int sample_count;       /* test images in each samples grid */
    int eval_batch;         /* batch of the per-epoch evaluation */
    uint64_t eval_max_images; /* cap on test images evaluated per epoch; 0: all */
    int threads;            /* data threads; 0: default */
    int augment;            /* cp_augment of the training samples; -1: framing for
                               the face mask, none otherwise (resume: from the
                               checkpoint, none when it predates the setting) */
    const volatile int *stop; /* non-zero: finish the iteration, save, stop */
    /* Data parallelism (clinpaint/dist.h): this process's replica; NULL
     * for one device. `batch` stays the global batch and must divide by
     * the replica count; replica 0 writes the run folder. */
    struct cp_comm *comm;
    const char *replica_devices; /* for config.json: the device selectors, or NULL */
    void *user;
    void (*on_progress)(void *user, const cp_train_progress *p); /* every iteration */
    void (*on_epoch)(void *user, const cp_epoch_metrics *m);     /* after each evaluation */
    void (*on_message)(void *user, const char *text);            /* notes and warnings */
} cp_train_config;

/* MODEL.md's defaults: preset base, batch 8, 20 epochs, center masks,
 * seed 1, Adam lr 1e-4, β 0.5/0.999, λ 0.999/0.001/0.1. */
cp_train_config cp_train_config_defaults(void);

typedef struct cp_train_result {
    uint64_t step, epoch, batch; /* position reached (next iteration) */
    uint64_t steps_this_run;
    double seconds, images_per_s;
    bool finished;   /* every epoch done */
    bool time_limit; /* stopped by max_minutes or max_steps */
    bool step_limit; /* ... and it was max_steps */
    bool interrupted;
    double best_hole_psnr;
    char last_checkpoint[1100];
    int replicas;          /* data-parallel replicas (1: one device) */
    double comm_seconds;   /* of `seconds`, time spent averaging gradients */
} cp_train_result;

/* Trains. The run folder is locked for the run (flock on out_dir/.lock): a
 * folder in use by another process is refused (CP_ERR_IO), as is a folder
 * that holds a run unless resuming or `overwrite` (CP_ERR_INVALID_ARGUMENT).
 * Returns CP_ERR_INTERRUPTED after a stop request (the state is
 * saved), CP_ERR_NUMERIC when a loss becomes NaN or Inf (nothing saved after
 * the last good checkpoint), CP_ERR_OUT_OF_DEVICE_MEMORY before starting
 * when the batch does not fit (the message gives the largest that does). */
cp_status cp_train(cp_context *ctx, const cp_train_config *cfg, cp_train_result *result);

/* Device bytes one training iteration needs at `batch` (model, optimizer,
 * activations), and the largest batch that fits the device (0 if none). */
cp_status cp_train_memory(cp_context *ctx, const cp_model_config *cfg, int batch,
                          uint64_t *bytes, int *largest_batch);

/* ---- host memory, before anything is allocated (host_memory.c) ---- */

/* Parameters of the model a configuration describes (no allocation). */
uint64_t cp_model_config_params(const cp_model_config *cfg);

/* Available host memory in bytes (MemAvailable on Linux), 0 if unknown. */
uint64_t cp_host_memory_available(void);

typedef struct cp_host_memory {
    uint64_t model;        /* weights and both Adam moments */
    uint64_t checkpoint;   /* a checkpoint built or read whole in memory */
    uint64_t device_model; /* on a CPU device: the model and its gradients */
    uint64_t decode;       /* worst-case decoding buffers × threads */
    uint64_t prefetch;     /* batches decoded ahead */
    uint64_t cache;        /* the loader's decoded-image cache */
    uint64_t total, available; /* available 0: unknown */
} cp_host_memory;

/* Host bytes a training run of `cfg` at `batch` with `threads` decoding
 * threads (0: default) needs, from the configuration alone. `dev` may be
 * NULL (then no device memory is counted as host memory). */
cp_status cp_train_host_memory(const cp_device_info *dev, const cp_model_config *cfg, int batch,
                               int threads, cp_host_memory *out);

/* CP_ERR_OUT_OF_HOST_MEMORY when that, plus `extra` bytes (activations on a
 * CPU device), exceeds the available memory: the message gives both in GiB,
 * the parts, and the largest batch that fits if a smaller one does. CP_OK
 * when it fits or the available memory is unknown. Call it before creating
 * the model. */
cp_status cp_train_check_host_memory(const cp_device_info *dev, const cp_model_config *cfg,
                                     int batch, int threads, uint64_t extra);

#ifdef __cplusplus
}
#endif
#endif
