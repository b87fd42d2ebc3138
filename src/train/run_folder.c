/* The run folder belongs to one run: a lock against a second writer, a
 * refusal to mix a new run into an old one, and the CSV logs cut back to
 * the checkpoint's step on resume, so the folder is always one history. */
#define _DEFAULT_SOURCE /* flock */
#include "backend/opencl/runtime/check.h"
#include "train/train_internal.h"
#include "util/file_atomic.h"
#include "clinpaint/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The files a run writes (besides samples/ and the lock). */
static const char *const RUN_FILES[] = {"config.json", "log.csv", "metrics.csv", "loss.svg",
                                        "ckpt/last.safetensors", "ckpt/best.safetensors"};
#define RUN_FILE_COUNT (sizeof RUN_FILES / sizeof RUN_FILES[0])

static bool exists(const char *dir, const char *rel)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* The first run file found in dir, or NULL. */
static const char *run_file_in(const char *dir)
{
    for (size_t i = 0; i < RUN_FILE_COUNT; i++)
        if (exists(dir, RUN_FILES[i])) return RUN_FILES[i];
    return NULL;
}

static cp_status in_use(const char *dir)
{
    return cp_set_error(CP_ERR_IO,
                        "run folder %s is in use by another clinpaint process (it holds "
                        "%s/.lock); wait for it to finish or choose another --out",
                        dir, dir);
}

static cp_status holds_run(const char *dir, const char *file)
{
    return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                        "run folder %s already holds a run (%s/%s): continue it with --resume "
                        "%s/ckpt/last.safetensors, start it over with --overwrite (deletes its "
                        "run files), or choose another --out",
                        dir, dir, file, dir);
}

/* True when `ckpt` lies in dir/ckpt/: resuming the folder's own run. */
static bool own_checkpoint(const char *dir, const char *ckpt)
{
    char sub[1200], parent[1200];
    snprintf(sub, sizeof sub, "%s/ckpt", dir);
    snprintf(parent, sizeof parent, "%s", ckpt);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = '\0';
    else snprintf(parent, sizeof parent, ".");
    struct stat a, b;
    return stat(sub, &a) == 0 && stat(parent, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Whether a run found in dir may be continued or replaced; else the error. */
static cp_status may_use(const char *dir, const char *file, const char *resume, bool overwrite)
{
    if (!file || overwrite || (resume && own_checkpoint(dir, resume))) return CP_OK;
    if (resume)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "run folder %s holds another run (%s/%s) than the checkpoint %s: "
                            "resume into that run's own folder, or choose another --out",
                            dir, dir, file, resume);
    return holds_run(dir, file);
}

cp_status cp_run_folder_check(const char *dir, const char *resume, bool overwrite)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) return CP_OK; /* created later */
    if (!S_ISDIR(sb.st_mode)) return cp_set_error(CP_ERR_IO, "%s exists and is not a folder", dir);
    char path[1200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        bool busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
        close(fd); /* also drops the lock taken just to test */
        if (busy) return in_use(dir);
    }
    return may_use(dir, run_file_in(dir), resume, overwrite);
}

/* Unlinks dir/rel; a missing file is fine. */
static cp_status remove_file(const char *dir, const char *rel)
{
    char path[1600];
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
        return cp_set_error(CP_ERR_IO, "--overwrite: path too long: %s/%s", dir, rel);
    if (unlink(path) == 0 || errno == ENOENT) return CP_OK;
    return cp_set_error(CP_ERR_IO, "--overwrite: cannot delete %s: %s", path, strerror(errno));
}

/* Sample grids (epoch_NNN.png, step_NNNNNN.png) and temporary files left
 * by an interrupted atomic write; nothing else in the folder is touched. */
static bool is_run_output(const char *name)
{
    size_t n = strlen(name);
    bool png = n > 4 && strcmp(name + n - 4, ".png") == 0;
    if (png && (strncmp(name, "epoch_", 6) == 0 || strncmp(name, "step_", 5) == 0)) return true;
    return strstr(name, ".tmp.") != NULL;
}

static cp_status remove_outputs_in(const char *dir, const char *sub)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d) return CP_OK;
    cp_status st = CP_OK;
    struct dirent *e;
    while (st == CP_OK && (e = readdir(d)))
        if (is_run_output(e->d_name)) st = remove_file(path, e->d_name);
    closedir(d);
    return st;
}

/* Temporary files of an interrupted atomic write of a run file at the
 * folder's top (config.json.tmp.XXXXXX, ...). */
static bool is_run_temp(const char *name)
{
    for (size_t i = 0; i < RUN_FILE_COUNT; i++) {
        size_t n = strlen(RUN_FILES[i]);
        if (strncmp(name, RUN_FILES[i], n) == 0 && strncmp(name + n, ".tmp.", 5) == 0) return true;
    }
    return false;
}

static cp_status clear_run(const char *dir)
{
    for (size_t i = 0; i < RUN_FILE_COUNT; i++) CP_TRY(remove_file(dir, RUN_FILES[i]));
    DIR *d = opendir(dir);
    cp_status st = CP_OK;
    struct dirent *e;
    while (d && st == CP_OK && (e = readdir(d)))
        if (is_run_temp(e->d_name)) st = remove_file(dir, e->d_name);
    if (d) closedir(d);
    CP_TRY(st);
    CP_TRY(remove_outputs_in(dir, "samples"));
    CP_TRY(remove_outputs_in(dir, "ckpt"));
    return CP_OK;
}

cp_status cp_run_folder_claim(const char *dir, const char *resume, bool overwrite, int *lock_fd)
{
    *lock_fd = -1;
    char path[1200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return cp_set_error(CP_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) return in_use(dir);
        return cp_set_error(CP_ERR_IO, "cannot lock %s: %s", path, strerror(e));
    }
    /* Checked again under the lock: another process may have written a
     * run between the early check and now. */
    const char *f = run_file_in(dir);
    cp_status st = may_use(dir, f, resume, overwrite);
    if (st == CP_OK && f && overwrite && !(resume && own_checkpoint(dir, resume)))
        st = clear_run(dir);
    if (st != CP_OK) {
        close(fd);
        return st;
    }
    *lock_fd = fd;
    return CP_OK;
}

void cp_run_folder_release(int lock_fd)
{
    if (lock_fd >= 0) close(lock_fd); /* the lock file stays: unlinking it would race */
}

static char *read_all(const char *path, bool *missing)
{
    *missing = false;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        *missing = errno == ENOENT;
        return NULL;
    }
    char *buf;
    size_t size;
    /* a FIFO or folder in its place is not read (nor waited on) */
    return cp_read_file(path, 0, &buf, &size) == CP_OK ? buf : NULL;
}

/* Column `col` (0-based) of a CSV line as a step number. */
static bool step_of(const char *line, int col, uint64_t *step)
{
    for (int c = 0; c < col; c++) {
        line = strchr(line, ',');
        if (!line) return false;
        line++;
    }
    if (*line < '0' || *line > '9') return false;
    char *end;
    unsigned long long v = strtoull(line, &end, 10);
    if (*end != ',' && *end != '\0') return false;
    *step = v;
    return true;
}

cp_status cp_run_csv_keep_to_step(const char *path, const char *header, int step_col,
                                  uint64_t keep_to_step, char **kept)
{
    *kept = NULL;
    bool missing;
    char *old = read_all(path, &missing);
    if (!old && !missing) return cp_set_error(CP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    size_t hlen = strlen(header), cap = hlen + (old ? strlen(old) : 0) + 1, n = 0;
    char *out = malloc(cap);
    if (!out) {
        free(old);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", path);
    }
    memcpy(out, header, hlen);
    n = hlen;
    uint64_t last = 0;
    bool any = false;
    /* Only whole lines (a crash may have cut the last one), with steps
     * rising, up to the checkpoint's step: the steps after it are redone. */
    for (char *line = old, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        uint64_t step;
        if (step_of(line, step_col, &step) && step <= keep_to_step && (!any || step > last)) {
            size_t len = (size_t)(nl - line);
            memcpy(out + n, line, len);
            out[n + len] = '\n';
            n += len + 1;
            last = step;
            any = true;
        }
    }
    out[n] = '\0';
    free(old);
    cp_status st = missing ? CP_OK : cp_write_file_atomic(path, out, n);
    if (st != CP_OK) {
        free(out);
        return st;
    }
    *kept = out;
    return CP_OK;
}

cp_status cp_run_sync_file(FILE *f, const char *path)
{
    if (fflush(f) != 0 || ferror(f))
        return cp_set_error(CP_ERR_IO, "writing %s failed: %s", path, strerror(errno));
    if (fsync(fileno(f)) != 0 && errno != EINVAL && errno != EROFS)
        return cp_set_error(CP_ERR_IO, "writing %s failed (fsync): %s", path, strerror(errno));
    return CP_OK;
}
