/* Internal: pieces of the trainer shared by its files. */
#ifndef CP_TRAIN_INTERNAL_H
#define CP_TRAIN_INTERNAL_H

#include <stdio.h>

#include "clinpaint/evaluate.h"
#include "clinpaint/dataset.h"
#include "clinpaint/inpaint.h"
#include "clinpaint/mask.h"
#include "clinpaint/train.h"

/* Bytes needed at `batch` and the largest batch that fits (== batch when
 * it fits, 0 when none does). */
cp_status cp_train_check_memory(cp_model *m, int batch, uint64_t *needed, int *largest);

/* The loss history, for log.csv and loss.svg. */
typedef struct cp_loss_history {
    double *step, *rec, *g, *d;
    size_t n, cap;
} cp_loss_history;
void cp_history_free(cp_loss_history *h);
bool cp_history_add(cp_loss_history *h, double step, double rec, double g, double d);
/* Opens log.csv for writing. When resuming (keep_to_step > 0), the whole
 * rows of an existing log up to that step are kept verbatim and loaded into
 * h; later rows (from after the checkpoint) and a torn last line are
 * dropped (the file is rewritten atomically), as the run redoes those
 * steps. */
cp_status cp_history_open_log(cp_loss_history *h, const char *path, uint64_t keep_to_step,
                              FILE **log);

/* ---- the run folder (run_folder.c) ---- */

/* Before anything is written: refuses a folder locked by another process,
 * and one that holds a run unless `resume` is that run's checkpoint
 * (dir/ckpt/...) or overwrite. No writes. */
cp_status cp_run_folder_check(const char *dir, const char *resume, bool overwrite);
/* After the folder exists: takes the lock (dir/.lock, flock LOCK_EX |
 * LOCK_NB) for the whole run, checks again and, with overwrite (unless
 * resuming the folder's own run), deletes the previous run's files.
 * *lock_fd for release. */
cp_status cp_run_folder_claim(const char *dir, const char *resume, bool overwrite, int *lock_fd);
void cp_run_folder_release(int lock_fd);
/* Rewrites the CSV at path (atomically; a missing file stays missing) as
 * `header` plus its whole lines whose column step_col is <= keep_to_step,
 * steps rising. *kept: the new text (caller frees). */
cp_status cp_run_csv_keep_to_step(const char *path, const char *header, int step_col,
                                  uint64_t keep_to_step, char **kept);
/* fflush + fsync of a log, CP_ERR_IO naming path. */
cp_status cp_run_sync_file(FILE *f, const char *path);

/* Run-folder files. */
cp_status cp_run_write_config(const char *out_dir, const cp_train_config *cfg,
                              const cp_device_info *dev);
cp_status cp_run_write_loss_svg(const char *out_dir, const cp_loss_history *h);
/* samples/epoch_NNN.png: rows of (masked input | output | ground truth). */
cp_status cp_run_write_samples(const char *path, cp_inpainter *ip, const cp_dataset *test,
                               const cp_mask_source *masks, int S, int count, uint64_t seed);
#endif
