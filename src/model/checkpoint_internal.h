/* Internal: the checks on a checkpoint's metadata (checkpoint_meta.c). */
#ifndef CP_CHECKPOINT_INTERNAL_H
#define CP_CHECKPOINT_INTERNAL_H

#include "clinpaint/model.h"
#include "clinpaint/safetensors.h"

/* Checks every metadata field clinpaint reads, present or not, before
 * anything trusts it: integers strictly (digits only, no sign, in range),
 * reals finite and in range, widths as six integers, the mask setting a
 * short printable string. Fills the model configuration (size, widths,
 * latent, batchnorm; preset for display). CP_ERR_FORMAT naming the file and
 * the key otherwise. */
cp_status cp_checkpoint_check_meta(const cp_st_file *f, const char *path, cp_model_config *cfg);

/* Strict unsigned decimal: digits only, no sign or spaces, no overflow,
 * within [lo, hi]. */
bool cp_parse_u64_strict(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

#endif
