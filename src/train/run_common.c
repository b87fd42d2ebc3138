/* Pieces both trainers (the context encoder's, trainer.c, and the mask
 * detector's, detect_train.c) need in the same form: messages, the run
 * folder's layout, metadata numbers, metrics rows and the log's close. */
#include "backend/opencl/runtime/check.h"
#include "train/train_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cp_run_say(void (*on_message)(void *user, const char *text), void *user, const char *fmt, ...)
{
    if (!on_message) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    on_message(user, buf);
}

cp_status cp_run_make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return CP_OK;
        return cp_set_error(CP_ERR_IO, "%s exists and is not a folder", path);
    }
    return cp_set_error(CP_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
}

cp_status cp_run_folder_prepare(const char *out_dir, const char *resume, bool overwrite,
                                int *lock_fd)
{
    CP_TRY(cp_run_make_dir(out_dir));
    CP_TRY(cp_run_folder_claim(out_dir, resume, overwrite, lock_fd));
    char path[1100];
    snprintf(path, sizeof path, "%s/samples", out_dir);
    CP_TRY(cp_run_make_dir(path));
    snprintf(path, sizeof path, "%s/ckpt", out_dir);
    return cp_run_make_dir(path);
}

cp_status cp_run_trim_metrics(const char *out_dir, const char *header, uint64_t step)
{
    char path[1100], *kept;
    snprintf(path, sizeof path, "%s/metrics.csv", out_dir);
    CP_TRY(cp_run_csv_keep_to_step(path, header, 1, step, &kept));
    free(kept);
    return CP_OK;
}

void cp_run_sample_path(char *buf, size_t size, const char *out_dir, bool epoch_end,
                        uint64_t epoch, uint64_t step)
{
    if (epoch_end)
        snprintf(buf, size, "%s/samples/epoch_%03" PRIu64 ".png", out_dir, epoch + 1);
    else
        snprintf(buf, size, "%s/samples/step_%06" PRIu64 ".png", out_dir, step);
}

bool cp_meta_parse_u64(const char *v, uint64_t *out)
{
    if (!v || !*v) return false;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end) return false;
    *out = x;
    return true;
}

bool cp_meta_parse_float(const char *v, float *out)
{
    if (!v || !*v) return false;
    char *end;
    double x = strtod(v, &end);
    if (*end) return false;
    *out = (float)x;
    return true;
}

cp_status cp_run_append_metrics(const char *out_dir, const char *header, const char *row)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.csv", out_dir);
    struct stat sb;
    bool fresh = stat(path, &sb) != 0 || sb.st_size == 0;
    FILE *f = fopen(path, "a");
    if (!f) return cp_set_error(CP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    bool ok = (!fresh || fputs(header, f) >= 0) && fputs(row, f) >= 0;
    cp_status st = ok ? cp_run_sync_file(f, path)
                      : cp_set_error(CP_ERR_IO, "writing %s failed: %s", path, strerror(errno));
    if (fclose(f) != 0 && st == CP_OK)
        st = cp_set_error(CP_ERR_IO, "writing %s failed: %s", path, strerror(errno));
    return st;
}

cp_status cp_run_close_log(FILE **log, const char *path, cp_status st)
{
    if (*log && st == CP_OK) st = cp_run_sync_file(*log, path);
    if (*log && fclose(*log) != 0 && st == CP_OK)
        st = cp_set_error(CP_ERR_IO, "writing %s failed: %s", path, strerror(errno));
    *log = NULL;
    return st;
}

void cp_run_position_fill(cp_run_position_text *t, uint64_t epoch, uint64_t batch, uint64_t step,
                          uint64_t seed, int batch_size, int epochs)
{
    snprintf(t->epoch, sizeof t->epoch, "%" PRIu64, epoch);
    snprintf(t->batch, sizeof t->batch, "%" PRIu64, batch);
    snprintf(t->step, sizeof t->step, "%" PRIu64, step);
    snprintf(t->seed, sizeof t->seed, "%" PRIu64, seed);
    snprintf(t->batch_size, sizeof t->batch_size, "%d", batch_size);
    snprintf(t->epochs, sizeof t->epochs, "%d", epochs);
}

cp_status cp_run_last_checkpoint(cp_status st, bool interrupted, uint64_t step,
                                 const char *out_dir, char *last, size_t size)
{
    snprintf(last, size, "%s/ckpt/last.safetensors", out_dir ? out_dir : ".");
    if (st == CP_OK && interrupted)
        st = cp_set_error(CP_ERR_INTERRUPTED, "stopped at step %" PRIu64 "; state saved to %s",
                          step, last);
    return st;
}
