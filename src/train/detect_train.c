/* Training the mask detector (clinpaint/unmask.h): one graph (forward,
 * BCE + Dice, backward, Adam) replayed per batch of maskify's pairs, in the
 * run folder of `clinpaint train`: log, loss curve, per-epoch test metrics,
 * sample grids and checkpoints, resumable at any step. */
#include "clinpaint/plot.h"
#include "clinpaint/unmask.h"
#include "backend/opencl/runtime/check.h"
#include "train/detect_internal.h"
#include "train/train_internal.h"
#include "util/file_atomic.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

cp_detect_train_config cp_detect_train_config_defaults(void)
{
    cp_detect_train_config c;
    memset(&c, 0, sizeof c);
    cp_detector_config_preset("tiny", &c.model);
    c.batch = 8;
    c.epochs = 10;
    c.seed = 1;
    c.opts = cp_detector_train_defaults();
    c.negatives = 0.125f;
    c.augment = true;
    c.sample_count = 6;
    return c;
}

#define say(c, ...) cp_run_say((c)->on_message, (c)->user, __VA_ARGS__)

typedef struct drun {
    const cp_detect_train_config *cfg;
    cp_detect_train_config eff; /* after resume: the checkpoint's settings */
    cp_context *ctx;
    cp_detector *det;
    cp_detect_data train, test;
    bool have_test;
    cp_loader *loader;
    cp_detector_graph tg, inf;
    float *images, *masks; /* the batch, negatives swapped in */
    cp_loss_history hist;  /* loss in `rec` */
    FILE *log;
    int lock_fd;
    char log_path[1100], path[1100], data_buf[1100];
    uint64_t epoch, batch, step;
    double best_iou;
} drun;

static void drun_free(drun *r)
{
    if (r->log) fclose(r->log);
    cp_run_folder_release(r->lock_fd);
    cp_detector_graph_free(&r->tg);
    cp_detector_graph_free(&r->inf);
    cp_loader_free(r->loader);
    cp_detect_data_free(&r->train);
    cp_detect_data_free(&r->test);
    cp_detector_free(r->det);
    cp_history_free(&r->hist);
    free(r->images);
    free(r->masks);
}

static cp_status save_checkpoint(drun *r, const char *name)
{
    const cp_detect_train_config *c = &r->eff;
    cp_run_position_text pos;
    cp_run_position_fill(&pos, r->epoch, r->batch, r->step, c->seed, c->batch, c->epochs);
    char best[32], lr[32], b1[32], b2[32], eps[32], dice[32], neg[32];
    snprintf(best, sizeof best, "%.9g", r->best_iou);
    snprintf(lr, sizeof lr, "%.9g", (double)c->opts.adam.lr);
    snprintf(b1, sizeof b1, "%.9g", (double)c->opts.adam.beta1);
    snprintf(b2, sizeof b2, "%.9g", (double)c->opts.adam.beta2);
    snprintf(eps, sizeof eps, "%.9g", (double)c->opts.adam.eps);
    snprintf(dice, sizeof dice, "%.9g", (double)c->opts.dice_weight);
    snprintf(neg, sizeof neg, "%.9g", (double)c->negatives);
    const cp_meta_entry meta[] = {
        {"task", "detect"}, {"epoch", pos.epoch}, {"batch_index", pos.batch}, {"step", pos.step},
        {"seed", pos.seed}, {"batch", pos.batch_size}, {"epochs", pos.epochs}, {"best_iou", best}, {"lr", lr},
        {"beta1", b1}, {"beta2", b2}, {"eps", eps}, {"dice_weight", dice}, {"negatives", neg},
        {"augment", cp_detect_augment_name(c->augment)}, {"data", c->data_dir}, {"clinpaint_version", cp_version()},
    };
    if (r->log) CP_TRY(cp_run_sync_file(r->log, r->log_path));
    snprintf(r->path, sizeof r->path, "%s/ckpt/%s.safetensors", c->out_dir, name);
    cp_status st = cp_detector_save(r->det, r->path, meta, (int)(sizeof meta / sizeof meta[0]));
    if (st == CP_OK) return CP_OK;
    char why[1024];
    snprintf(why, sizeof why, "%s", cp_last_error());
    return cp_set_error(st, "%s; training stopped at step %" PRIu64 " (the previous checkpoints "
                            "in %s/ckpt are as they were)",
                        why, r->step, c->out_dir);
}

static bool meta_u64(const char *path, const char *key, uint64_t *out)
{
    char v[64];
    return cp_detector_meta(path, key, v, sizeof v) && cp_meta_parse_u64(v, out);
}

static bool meta_f(const char *path, const char *key, float *out)
{
    char v[64];
    return cp_detector_meta(path, key, v, sizeof v) && cp_meta_parse_float(v, out) && isfinite(*out);
}

static cp_status resume(drun *r)
{
    const char *p = r->cfg->resume;
    CP_TRY(cp_detector_load(r->ctx, p, true, &r->det));
    cp_detect_train_config *e = &r->eff;
    uint64_t seed, batch;
    float best = 0;
    bool ok = meta_u64(p, "epoch", &r->epoch) && meta_u64(p, "batch_index", &r->batch) &&
              meta_u64(p, "step", &r->step) && meta_u64(p, "seed", &seed) &&
              meta_u64(p, "batch", &batch) && batch >= 1 && batch <= 4096 &&
              meta_f(p, "lr", &e->opts.adam.lr) && meta_f(p, "beta1", &e->opts.adam.beta1) &&
              meta_f(p, "beta2", &e->opts.adam.beta2) && meta_f(p, "eps", &e->opts.adam.eps) &&
              meta_f(p, "dice_weight", &e->opts.dice_weight) &&
              meta_f(p, "negatives", &e->negatives);
    if (!ok)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s has no detector training state (epoch, batch_index, step, seed, "
                            "...): it is not a checkpoint written by clinpaint train --task detect",
                            p);
    /* Checkpoints from before the augmentation trained without it. */
    char aug[16];
    e->augment = false;
    if (cp_detector_meta(p, "augment", aug, sizeof aug) &&
        cp_detect_augment_parse(aug, &e->augment) != CP_OK)
        return cp_set_error(CP_ERR_FORMAT, "%s: augment '%s' is neither colour nor none", p, aug);
    e->seed = seed;
    e->batch = (int)batch;
    e->model = r->det->cfg;
    uint64_t epochs;
    if (e->epochs == 0) /* the run's own length, or the default */
        e->epochs = meta_u64(p, "epochs", &epochs) && epochs >= 1 && epochs <= 1000000 ? (int)epochs : 10;
    r->best_iou = meta_f(p, "best_iou", &best) ? best : -1.0;
    return CP_OK;
}

static cp_status write_config(const drun *r)
{
    const cp_detect_train_config *c = &r->eff;
    const cp_device_info *dev = cp_context_device(r->ctx);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "clinpaint_version", cp_version());
    cJSON_AddStringToObject(j, "task", "detect");
    cJSON_AddStringToObject(j, "data", c->data_dir);
    cJSON_AddStringToObject(j, "preset", c->model.preset);
    cJSON_AddNumberToObject(j, "size", c->model.size);
    cJSON_AddNumberToObject(j, "levels", c->model.levels);
    cJSON_AddItemToObject(j, "widths", cJSON_CreateIntArray(c->model.widths, c->model.levels));
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "epochs", c->epochs);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    cJSON_AddNumberToObject(j, "lr", c->opts.adam.lr);
    cJSON_AddNumberToObject(j, "beta1", c->opts.adam.beta1);
    cJSON_AddNumberToObject(j, "beta2", c->opts.adam.beta2);
    cJSON_AddNumberToObject(j, "eps", c->opts.adam.eps);
    cJSON_AddNumberToObject(j, "dice_weight", c->opts.dice_weight);
    cJSON_AddNumberToObject(j, "negatives", c->negatives);
    cJSON_AddStringToObject(j, "augment", cp_detect_augment_name(c->augment));
    cJSON_AddNumberToObject(j, "max_minutes", c->max_minutes);
    if (c->resume) cJSON_AddStringToObject(j, "resumed_from", c->resume);
    cp_run_json_device(j, dev);
    return cp_run_write_json(c->out_dir, "config.json", j);
}

static const char METRICS_HEADER[] = "epoch,step,iou,dice,accuracy,images\n";
static const char LOG_HEADER[] = "step,epoch,loss,images_per_s\n";

static cp_status write_metrics(const char *out_dir, const cp_detect_metrics *m)
{
    char row[256];
    snprintf(row, sizeof row, "%" PRIu64 ",%" PRIu64 ",%.5f,%.5f,%.5f,%" PRIu64 "\n", m->epoch,
             m->step, m->iou, m->dice, m->accuracy, m->images);
    return cp_run_append_metrics(out_dir, METRICS_HEADER, row);
}

static cp_status write_loss_svg(const drun *r)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/loss.svg", r->eff.out_dir);
    const cp_plot_series s = {"BCE + Dice", r->hist.step, r->hist.rec, r->hist.n, "#1f77b4"};
    return cp_plot_svg_write(path, "Detector training loss", "iteration", "loss", &s, 1);
}

/* log.csv: fresh, or cut back to the checkpoint's step on resume (the
 * history reloaded for loss.svg). */
static cp_status open_log(drun *r, bool resuming)
{
    if (!resuming) {
        r->log = fopen(r->log_path, "w");
        if (!r->log || fputs(LOG_HEADER, r->log) < 0 || fflush(r->log) != 0)
            return cp_set_error(CP_ERR_IO, "cannot write %s: %s", r->log_path, strerror(errno));
        return CP_OK;
    }
    char *kept;
    CP_TRY(cp_run_csv_keep_to_step(r->log_path, LOG_HEADER, 0, r->step, &kept));
    for (char *line = strchr(kept, '\n') + 1, *next; *line; line = next) {
        next = strchr(line, '\n') + 1;
        double step, loss;
        unsigned long long epoch;
        if (sscanf(line, "%lf,%llu,%lf", &step, &epoch, &loss) == 3 &&
            !cp_history_add(&r->hist, step, loss, loss, loss)) {
            free(kept);
            return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "loss history");
        }
    }
    r->log = fopen(r->log_path, "a");
    struct stat sb;
    bool empty = r->log && fstat(fileno(r->log), &sb) == 0 && sb.st_size == 0;
    cp_status st = CP_OK;
    if (!r->log || (empty && (fputs(kept, r->log) < 0 || fflush(r->log) != 0)))
        st = cp_set_error(CP_ERR_IO, "cannot write %s: %s", r->log_path, strerror(errno));
    free(kept);
    return st;
}

/* Loss curve, sample grid, test metrics and checkpoints: at each epoch's
 * end and when a limit stops the run inside one. */
static cp_status report_point(drun *r, bool epoch_end)
{
    const cp_detect_train_config *c = &r->eff;
    CP_TRY(write_loss_svg(r));
    cp_detect_metrics m = {0};
    if (r->have_test) {
        char path[1100];
        cp_run_sample_path(path, sizeof path, c->out_dir, epoch_end, r->epoch, r->step);
        if (c->sample_count > 0)
            CP_TRY(cp_detect_write_samples(path, r->det, &r->inf, &r->test, c->sample_count));
        CP_TRY(cp_detect_evaluate_with(r->det, &r->inf, &r->test, 0.5f, c->eval_max_images,
                                       c->threads, &m));
        m.epoch = r->epoch + 1;
        m.step = r->step;
        CP_TRY(write_metrics(c->out_dir, &m));
        if (c->on_epoch) c->on_epoch(c->user, &m);
    }
    if (epoch_end) {
        r->epoch++;
        r->batch = 0;
    }
    bool improved = r->have_test && m.images > 0 && m.iou > r->best_iou;
    if (improved) r->best_iou = m.iou;
    CP_TRY(save_checkpoint(r, "last"));
    if (improved) CP_TRY(save_checkpoint(r, "best"));
    return CP_OK;
}

static cp_status setup(drun *r)
{
    const cp_detect_train_config *c = r->cfg;
    r->eff = *c;
    r->best_iou = -1.0;
    if (!c->data_dir) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "no data folder given");
    CP_TRY(cp_run_folder_check(c->out_dir, c->resume, c->overwrite));
    if (c->resume) {
        CP_TRY(resume(r));
    } else {
        if (c->batch < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "--batch must be at least 1");
        if (!(c->negatives >= 0 && c->negatives < 1))
            return cp_set_error(CP_ERR_INVALID_ARGUMENT, "--negatives %g must be in [0, 1)",
                                (double)c->negatives);
        CP_TRY(cp_detector_create(r->ctx, &c->model, &r->det));
        CP_TRY(cp_detector_init(r->det, c->seed));
    }
    const cp_detect_train_config *e = &r->eff;
    if (e->epochs < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "--epochs must be at least 1");
    int S = e->model.size;
    /* The data first: a bad folder must not leave an empty run folder. */
    CP_TRY(cp_detect_data_open(e->data_dir, CP_SPLIT_TRAIN, S, e->negatives > 0, &r->train));
    if (e->negatives > 0 && !r->train.originals)
        say(c, "note: %s/original is missing: training without negatives (faces without masks)",
            e->data_dir);
    cp_status st = cp_detect_data_open(e->data_dir, CP_SPLIT_TEST, S, false, &r->test);
    r->have_test = st == CP_OK;
    if (!r->have_test) say(c, "note: %s; no samples or test metrics this run", cp_last_error());
    cp_loader_options lo = cp_loader_defaults();
    lo.size = S;
    lo.batch = e->batch;
    lo.seed = e->seed;
    lo.train = true;
    lo.threads = e->threads;
    lo.masks = r->train.masks;
    lo.mask_seed = e->seed;
    CP_TRY(cp_loader_create(r->train.images, &lo, &r->loader));
    if (r->batch >= cp_loader_batches_per_epoch(r->loader)) {
        r->epoch++;
        r->batch = 0;
    }
    CP_TRY(cp_loader_seek(r->loader, r->epoch, r->batch));
    size_t plane = (size_t)S * S;
    r->images = malloc((size_t)e->batch * 3 * plane * sizeof *r->images);
    r->masks = malloc((size_t)e->batch * plane * sizeof *r->masks);
    if (!r->images || !r->masks) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "batch");
    CP_TRY(cp_detector_build_train(r->det, e->batch, &e->opts, &r->tg));
    cp_plan_options po = cp_plan_defaults();
    CP_TRY(cp_graph_plan(r->tg.graph, &po));
    CP_TRY(cp_detector_build_infer(r->det, e->batch < 16 ? 16 : e->batch, &r->inf));
    CP_TRY(cp_graph_plan(r->inf.graph, &po));
    CP_TRY(cp_run_folder_prepare(e->out_dir, c->resume, c->overwrite, &r->lock_fd));
    CP_TRY(write_config(r));
    if (c->resume) CP_TRY(cp_run_trim_metrics(e->out_dir, METRICS_HEADER, r->step));
    snprintf(r->log_path, sizeof r->log_path, "%s/log.csv", e->out_dir);
    return open_log(r, c->resume != NULL);
}

static cp_status iterate(drun *r, float *loss)
{
    const cp_batch *b;
    CP_TRY(cp_loader_next(r->loader, &b));
    size_t plane = (size_t)b->size * b->size;
    memcpy(r->images, b->images, (size_t)b->n * 3 * plane * sizeof *r->images);
    memcpy(r->masks, b->masks, (size_t)b->n * plane * sizeof *r->masks);
    int replaced;
    CP_TRY(cp_detect_negatives(&r->train, b, r->eff.seed, r->eff.negatives, r->images, r->masks,
                               &replaced));
    if (r->eff.augment)
        for (int k = 0; k < b->n; k++)
            cp_detect_augment(r->eff.seed, b->sample_ids[k], b->size, r->images + (size_t)k * 3 * plane,
                              r->masks + (size_t)k * plane);
    return cp_detector_train_step(r->det, &r->tg, r->images, r->masks, loss);
}

cp_status cp_detect_train(cp_context *ctx, const cp_detect_train_config *cfg, cp_detect_result *res)
{
    memset(res, 0, sizeof *res);
    drun r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.ctx = ctx;
    r.lock_fd = -1;
    cp_status st = setup(&r);
    const cp_detect_train_config *c = &r.eff;
    double t0 = cp_seconds();
    uint64_t start_step = r.step;
    uint64_t bpe = st == CP_OK ? cp_loader_batches_per_epoch(r.loader) : 0;
    while (st == CP_OK && r.epoch < (uint64_t)c->epochs) {
        float loss;
        double ti = cp_seconds();
        st = iterate(&r, &loss);
        if (st != CP_OK) break;
        r.step++;
        r.batch++;
        double now = cp_seconds(), dt = now - ti;
        if (!isfinite(loss)) {
            st = cp_set_error(CP_ERR_NUMERIC,
                              "the loss became %g at step %" PRIu64 " (epoch %" PRIu64 "): "
                              "training stopped; the last good checkpoint is %s/ckpt/"
                              "last.safetensors. Try a lower --lr.",
                              (double)loss, r.step, r.epoch + 1, c->out_dir);
            break;
        }
        if (fprintf(r.log, "%" PRIu64 ",%" PRIu64 ",%.6g,%.2f\n", r.step, r.epoch + 1,
                    (double)loss, dt > 0 ? c->batch / dt : 0) < 0) {
            st = cp_set_error(CP_ERR_IO, "writing %s failed: %s", r.log_path, strerror(errno));
            break;
        }
        if (!cp_history_add(&r.hist, (double)r.step, loss, loss, loss)) {
            st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "loss history");
            break;
        }
        double elapsed = now - t0;
        uint64_t done = r.step - start_step, total = (uint64_t)c->epochs * bpe;
        if (cfg->on_progress) {
            cp_detect_progress p = {r.epoch, (uint64_t)c->epochs, r.batch, bpe, r.step, elapsed,
                                    done * (double)c->batch / (elapsed > 0 ? elapsed : 1), 0, loss};
            uint64_t pos = r.epoch * bpe + r.batch;
            p.eta_s = done > 0 && total > pos ? elapsed / (double)done * (double)(total - pos) : 0;
            cfg->on_progress(cfg->user, &p);
        }
        if (r.batch >= bpe) {
            st = report_point(&r, true);
            if (st != CP_OK) break;
        }
        if (cfg->stop && *cfg->stop) {
            res->interrupted = true;
            break;
        }
        res->step_limit = c->max_steps > 0 && r.step >= c->max_steps;
        if ((c->max_minutes > 0 && elapsed >= c->max_minutes * 60) || res->step_limit) {
            res->time_limit = true;
            break;
        }
    }
    res->finished = st == CP_OK && r.epoch >= (uint64_t)c->epochs;
    if (st == CP_OK && r.batch != 0) {
        if (res->time_limit) {
            st = report_point(&r, false);
        } else { /* Ctrl-C: the checkpoint first */
            st = save_checkpoint(&r, "last");
            if (st == CP_OK) st = write_loss_svg(&r);
        }
    }
    st = cp_run_close_log(&r.log, r.log_path, st);
    res->step = r.step;
    res->epoch = r.epoch;
    res->batch = r.batch;
    res->steps_this_run = r.step - start_step;
    res->seconds = cp_seconds() - t0;
    res->images_per_s = res->seconds > 0 ? (double)res->steps_this_run * c->batch / res->seconds : 0;
    res->best_iou = r.best_iou;
    st = cp_run_last_checkpoint(st, res->interrupted, r.step, c->out_dir, res->last_checkpoint,
                                sizeof res->last_checkpoint);
    drun_free(&r);
    return st;
}
