/* The run folder: config.json, the loss history behind log.csv and
 * loss.svg, sample grids and test metrics. */
#include "clinpaint/dist.h"
#include "clinpaint/image.h"
#include "clinpaint/metrics.h"
#include "clinpaint/plot.h"
#include "backend/opencl/runtime/check.h"
#include "train/train_internal.h"
#include "util/file_atomic.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cp_history_free(cp_loss_history *h)
{
    free(h->step);
    free(h->rec);
    free(h->g);
    free(h->d);
    memset(h, 0, sizeof *h);
}

bool cp_history_add(cp_loss_history *h, double step, double rec, double g, double d)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        double *a = realloc(h->step, cap * sizeof *a);
        if (a) h->step = a;
        double *b = realloc(h->rec, cap * sizeof *b);
        if (b) h->rec = b;
        double *c = realloc(h->g, cap * sizeof *c);
        if (c) h->g = c;
        double *e = realloc(h->d, cap * sizeof *e);
        if (e) h->d = e;
        if (!a || !b || !c || !e) return false;
        h->cap = cap;
    }
    h->step[h->n] = step;
    h->rec[h->n] = rec;
    h->g[h->n] = g;
    h->d[h->n] = d;
    h->n++;
    return true;
}

static const char LOG_HEADER[] = "step,epoch,L_rec,L_adv,L_G,L_D,mean_D_x,mean_D_y,images_per_s\n";

cp_status cp_history_open_log(cp_loss_history *h, const char *path, uint64_t keep_to_step,
                              FILE **log)
{
    *log = NULL;
    if (keep_to_step == 0) {
        *log = fopen(path, "w");
        if (!*log) return cp_set_error(CP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        if (fputs(LOG_HEADER, *log) < 0 || fflush(*log) != 0)
            return cp_set_error(CP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        return CP_OK;
    }
    char *kept;
    CP_TRY(cp_run_csv_keep_to_step(path, LOG_HEADER, 0, keep_to_step, &kept));
    for (char *line = strchr(kept, '\n') + 1, *next; *line; line = next) {
        next = strchr(line, '\n') + 1; /* every kept line ends in \n */
        double step, rec, adv, g, d;
        unsigned long long epoch;
        if (sscanf(line, "%lf,%llu,%lf,%lf,%lf,%lf", &step, &epoch, &rec, &adv, &g, &d) == 6 &&
            !cp_history_add(h, step, rec, g, d)) {
            free(kept);
            return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "loss history");
        }
    }
    *log = fopen(path, "a");
    struct stat sb;
    bool empty = *log && fstat(fileno(*log), &sb) == 0 && sb.st_size == 0;
    cp_status st = CP_OK;
    if (!*log || (empty && (fputs(kept, *log) < 0 || fflush(*log) != 0)))
        st = cp_set_error(CP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    free(kept);
    return st;
}

cp_status cp_run_write_config(const char *out_dir, const cp_train_config *c,
                              const cp_device_info *dev)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "clinpaint_version", cp_version());
    cJSON_AddStringToObject(j, "data", c->data_dir);
    cJSON_AddStringToObject(j, "preset", c->model.preset);
    cJSON_AddNumberToObject(j, "size", c->model.size);
    cJSON_AddItemToObject(j, "widths", cJSON_CreateIntArray(c->model.widths, 6));
    cJSON_AddNumberToObject(j, "latent", c->model.latent);
    cJSON_AddBoolToObject(j, "batchnorm", c->model.batchnorm);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "epochs", c->epochs);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    cJSON_AddStringToObject(j, "mask", c->mask_spec);
    cJSON_AddStringToObject(j, "augment", cp_augment_name((cp_augment)c->augment));
    cJSON_AddNumberToObject(j, "lr", c->opts.adam_g.lr);
    cJSON_AddNumberToObject(j, "beta1", c->opts.adam_g.beta1);
    cJSON_AddNumberToObject(j, "beta2", c->opts.adam_g.beta2);
    cJSON_AddNumberToObject(j, "eps", c->opts.adam_g.eps);
    cJSON_AddNumberToObject(j, "rec_weight", c->opts.rec_weight);
    cJSON_AddNumberToObject(j, "adv_weight", c->opts.adv_weight);
    cJSON_AddNumberToObject(j, "ctx_weight", c->opts.ctx_weight);
    cJSON_AddNumberToObject(j, "max_minutes", c->max_minutes);
    if (c->resume) cJSON_AddStringToObject(j, "resumed_from", c->resume);
    cp_run_json_device(j, dev);
    cJSON_AddNumberToObject(j, "replicas", cp_comm_size(c->comm));
    if (c->replica_devices) cJSON_AddStringToObject(j, "replica_devices", c->replica_devices);
    return cp_run_write_json(out_dir, "config.json", j);
}

void cp_run_json_device(struct cJSON *j, const cp_device_info *dev)
{
    cJSON *d = cJSON_AddObjectToObject(j, "device");
    cJSON_AddStringToObject(d, "name", dev->name);
    cJSON_AddStringToObject(d, "platform", dev->platform_name);
    cJSON_AddStringToObject(d, "driver", dev->driver_version);
}

cp_status cp_run_write_json(const char *out_dir, const char *name, struct cJSON *j)
{
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%s", name);
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    size_t n = strlen(text);
    char *with_nl = realloc(text, n + 2);
    if (!with_nl) {
        free(text);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%s", name);
    }
    memcpy(with_nl + n, "\n", 2);
    cp_status st = cp_write_file_atomic(path, with_nl, n + 1);
    free(with_nl);
    return st;
}

cp_status cp_run_write_loss_svg(const char *out_dir, const cp_loss_history *h)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/loss.svg", out_dir);
    const cp_plot_series s[3] = {
        {"L_G", h->step, h->g, h->n, "#1f77b4"},
        {"L_rec", h->step, h->rec, h->n, "#2ca02c"},
        {"L_D", h->step, h->d, h->n, "#d62728"},
    };
    return cp_plot_svg_write(path, "Training losses", "iteration", "loss", s, 3);
}

/* Loads test image i at S×S as CHW floats. */
static cp_status load_chw(const cp_dataset *ds, size_t i, int S, uint8_t *rgb, float *chw)
{
    CP_TRY(cp_dataset_load(ds, i, S, rgb));
    cp_rgb_to_chw(rgb, S, 0, chw);
    return CP_OK;
}

/* Fixed sample ids for grids, far from any training sample id. */
#define SAMPLE_ID_BASE (UINT64_C(1) << 62)

cp_status cp_run_write_samples(const char *path, cp_inpainter *ip, const cp_dataset *test,
                               const cp_mask_source *masks, int S, int count, uint64_t seed)
{
    size_t avail = cp_dataset_count(test);
    if ((size_t)count > avail) count = (int)avail;
    int b = cp_inpainter_batch(ip);
    if (count > b) count = b;
    if (count < 1) return CP_OK;
    size_t px = (size_t)S * S;
    float *x = malloc((size_t)count * 3 * px * sizeof *x);
    float *m = malloc((size_t)count * px * sizeof *m);
    float *y = malloc((size_t)count * 3 * px * sizeof *y);
    float *masked = malloc((size_t)count * 3 * px * sizeof *masked);
    uint8_t *rgb = malloc(3 * px);
    const float **cells = malloc((size_t)count * 3 * sizeof *cells);
    cp_status st = x && m && y && masked && rgb && cells
                       ? CP_OK
                       : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "samples");
    for (int i = 0; i < count && st == CP_OK; i++) {
        st = load_chw(test, (size_t)i, S, rgb, x + (size_t)i * 3 * px);
        if (st == CP_OK)
            st = cp_mask_source_get(masks, cp_dataset_relpath(test, (size_t)i), seed,
                                    SAMPLE_ID_BASE + (uint64_t)i, m + (size_t)i * px);
    }
    if (st == CP_OK) st = cp_inpainter_run(ip, count, x, m, y, NULL, NULL);
    for (int i = 0; i < count && st == CP_OK; i++) {
        /* masked input: holes shown white */
        for (int c = 0; c < 3; c++)
            for (size_t p = 0; p < px; p++) {
                size_t k = ((size_t)i * 3 + (size_t)c) * px + p;
                masked[k] = m[(size_t)i * px + p] > 0.5f ? 1.0f : x[k];
            }
        cells[3 * i] = masked + (size_t)i * 3 * px;
        cells[3 * i + 1] = y + (size_t)i * 3 * px;
        cells[3 * i + 2] = x + (size_t)i * 3 * px;
    }
    if (st == CP_OK) st = cp_image_write_grid_png(path, cells, count * 3, 3, S);
    free(x);
    free(m);
    free(y);
    free(masked);
    free(rgb);
    free(cells);
    return st;
}

cp_status cp_evaluate(cp_inpainter *ip, const cp_dataset *ds, const cp_mask_source *masks, int S,
                      uint64_t seed, uint64_t max_images, int threads, cp_epoch_metrics *out,
                      cp_epoch_metrics *floor)
{
    cp_eval_request rq = {.seed = seed, .max_images = max_images, .threads = threads};
    return cp_evaluate_framed(ip, ds, masks, S, &rq, out, floor, NULL);
}
