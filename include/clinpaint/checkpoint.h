/* clinpaint checkpoints: the model's tensors under MODEL.md's names, Adam
 * moments as opt.G.m.<name> / opt.G.v.<name> (likewise opt.D.*), and the
 * configuration and run state in the safetensors __metadata__.
 * Opens in PyTorch, NumPy or any safetensors reader. */
#ifndef CLINPAINT_CHECKPOINT_H
#define CLINPAINT_CHECKPOINT_H

#include "clinpaint/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_CHECKPOINT_FORMAT "clinpaint-checkpoint-1"

/* Extra metadata (run state, options) stored with the model. */
typedef struct cp_meta_entry {
    const char *key, *value;
} cp_meta_entry;

/* Saves atomically (temporary file, fsync, rename): a failure leaves any
 * previous file at `path` intact. Metadata always holds format, preset,
 * size, widths, latent, batchnorm, step_g and step_d. */
cp_status cp_checkpoint_save(const cp_model *m, const char *path, const cp_meta_entry *extra,
                             int extra_count);

typedef struct cp_checkpoint cp_checkpoint;

/* Opens and validates a checkpoint: a clinpaint checkpoint of a valid
 * configuration; anything else is refused with a message naming the file. */
cp_status cp_checkpoint_open(const char *path, cp_checkpoint **out);
void cp_checkpoint_close(cp_checkpoint *c);
const cp_model_config *cp_checkpoint_config(const cp_checkpoint *c);
/* A metadata value, or NULL. */
const char *cp_checkpoint_meta(const cp_checkpoint *c, const char *key);
/* True when the file holds Adam moments (it can resume training). */
bool cp_checkpoint_has_optimizer(const cp_checkpoint *c);

/* Creates the model of the checkpoint's configuration on `ctx` and loads
 * every tensor; shapes must match the configuration. With
 * `with_optimizer`, Adam moments and steps too (an error if absent). */
cp_status cp_checkpoint_load_model(const cp_checkpoint *c, cp_context *ctx,
                                   bool with_optimizer, cp_model **out);

#ifdef __cplusplus
}
#endif
#endif
