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
/* The "device" object of a config.json (name, platform, driver). */
struct cJSON;
void cp_run_json_device(struct cJSON *j, const cp_device_info *dev);
/* Writes j (then deleted) as out_dir/name with a final newline, atomically. */
cp_status cp_run_write_json(const char *out_dir, const char *name, struct cJSON *j);
/* samples/epoch_NNN.png: rows of (masked input | output | ground truth). */
cp_status cp_run_write_samples(const char *path, cp_inpainter *ip, const cp_dataset *test,
                               const cp_mask_source *masks, int S, int count, uint64_t seed);

/* ---- what both trainers share (run_common.c) ---- */

/* A message through a config's on_message (none: nothing). */
void cp_run_say(void (*on_message)(void *user, const char *text), void *user, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* mkdir that accepts an existing folder (not an existing file). */
cp_status cp_run_make_dir(const char *path);
/* out_dir created and claimed (cp_run_folder_claim), with samples/ and ckpt/. */
cp_status cp_run_folder_prepare(const char *out_dir, const char *resume, bool overwrite,
                                int *lock_fd);
/* On resume: metrics.csv keeps the rows up to `step` (one history). */
cp_status cp_run_trim_metrics(const char *out_dir, const char *header, uint64_t step);
/* samples/epoch_NNN.png (epoch + 1) at an epoch's end, else samples/step_NNNNNN.png. */
void cp_run_sample_path(char *buf, size_t size, const char *out_dir, bool epoch_end,
                        uint64_t epoch, uint64_t step);
/* A checkpoint's metadata value as a whole number / a float (NULL, empty
 * or trailing characters: false). */
bool cp_meta_parse_u64(const char *v, uint64_t *out);
bool cp_meta_parse_float(const char *v, float *out);
/* Appends `row` to out_dir/metrics.csv (the header first in a new file),
 * on disk before it returns. */
cp_status cp_run_append_metrics(const char *out_dir, const char *header, const char *row);
/* The log synced (when st is CP_OK) and closed; *log = NULL. Returns st or
 * the first failure. */
cp_status cp_run_close_log(FILE **log, const char *path, cp_status st);
/* A checkpoint's position and run settings as metadata text. */
typedef struct cp_run_position_text {
    char epoch[32], batch[32], step[32], seed[32], batch_size[16], epochs[16];
} cp_run_position_text;
void cp_run_position_fill(cp_run_position_text *t, uint64_t epoch, uint64_t batch, uint64_t step,
                          uint64_t seed, int batch_size, int epochs);
/* The end of a run: last (size bytes) = out_dir/ckpt/last.safetensors, and
 * st, or CP_ERR_INTERRUPTED naming it when a stop request ended the run. */
cp_status cp_run_last_checkpoint(cp_status st, bool interrupted, uint64_t step,
                                 const char *out_dir, char *last, size_t size);
#endif
