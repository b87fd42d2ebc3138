/* The training loop: MODEL.md's iteration (G forward, D step, G step) as
 * one graph replayed per batch; the only host read per iteration is the
 * handful of logged scalars. Each epoch ends with samples, metrics, the
 * loss curve and checkpoints. */
#include "clinpaint/checkpoint.h"
#include "clinpaint/train.h"
#include "clinpaint/train_step.h"
#include "dist/comm_internal.h"
#include "dist/replica.h"
#include "backend/opencl/runtime/check.h"
#include "train/train_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

cp_train_config cp_train_config_defaults(void)
{
    cp_train_config c;
    memset(&c, 0, sizeof c);
    cp_model_config_preset("base", &c.model);
    c.mask_spec = "center";
    c.batch = 8;
    c.epochs = 20;
    c.seed = 1;
    c.opts = cp_train_defaults();
    c.sample_count = 6;
    c.eval_batch = 16;
    c.augment = -1;
    return c;
}

#define say(c, ...) cp_run_say((c)->on_message, (c)->user, __VA_ARGS__)

/* Everything one run holds; freed in one place. */
typedef struct run {
    const cp_train_config *cfg;
    cp_train_config eff; /* after resume: the checkpoint's settings */
    cp_context *ctx;
    cp_model *model;
    cp_dataset *train, *test;
    cp_mask_source *masks;
    cp_loader *loader;
    cp_train_graph tg;
    cp_inpainter *eval;
    cp_loss_history hist;
    FILE *log;
    int lock_fd; /* the run folder's lock, held for the run */
    char log_path[1100];
    uint64_t epoch, batch, step;
    double best_hole_psnr;
    char path[1100];
    /* Data parallelism: replica `rank` of `replicas` trains on its slice
     * of each global batch; only replica 0 writes the run folder. */
    cp_replica rep;
    int rank, replicas;
    bool stop_agreed, limit_agreed; /* every replica's stop requests, summed */
} run;

static void run_free(run *r)
{
    if (r->log) fclose(r->log);
    cp_run_folder_release(r->lock_fd);
    cp_inpainter_free(r->eval);
    cp_train_graph_free(&r->tg);
    cp_loader_free(r->loader);
    cp_mask_source_free(r->masks);
    cp_dataset_free(r->train);
    cp_dataset_free(r->test);
    cp_model_free(r->model);
    cp_history_free(&r->hist);
    cp_replica_release(&r->rep);
}

/* Saves ckpt/<name>.safetensors with the run state: where the next
 * iteration starts and every setting that affects the numbers. */
static cp_status save_checkpoint(run *r, const char *name)
{
    const cp_train_config *c = &r->eff;
    cp_run_position_text pos;
    cp_run_position_fill(&pos, r->epoch, r->batch, r->step, c->seed, c->batch, c->epochs);
    char best[32], lr_g[32], lr_d[32], b1[32], b2[32], eps[32], wrec[32], wadv[32], wctx[32];
    snprintf(best, sizeof best, "%.9g", r->best_hole_psnr);
    snprintf(lr_g, sizeof lr_g, "%.9g", (double)c->opts.adam_g.lr);
    snprintf(lr_d, sizeof lr_d, "%.9g", (double)c->opts.adam_d.lr);
    snprintf(b1, sizeof b1, "%.9g", (double)c->opts.adam_g.beta1);
    snprintf(b2, sizeof b2, "%.9g", (double)c->opts.adam_g.beta2);
    snprintf(eps, sizeof eps, "%.9g", (double)c->opts.adam_g.eps);
    snprintf(wrec, sizeof wrec, "%.9g", (double)c->opts.rec_weight);
    snprintf(wadv, sizeof wadv, "%.9g", (double)c->opts.adv_weight);
    snprintf(wctx, sizeof wctx, "%.9g", (double)c->opts.ctx_weight);
    /* All randomness of a run is a function of (seed, epoch, sample): the
     * data order, flips and masks are derived, never drawn from a stream,
     * so the seed and position are the whole RNG state. */
    const cp_meta_entry meta[] = {
        {"epoch", pos.epoch}, {"batch_index", pos.batch}, {"step", pos.step}, {"seed", pos.seed},
        {"rng", "derived: data order, flips and masks from (seed, epoch, sample)"},
        {"batch", pos.batch_size}, {"epochs", pos.epochs}, {"mask", c->mask_spec}, {"best_hole_psnr", best},
        {"lr_g", lr_g}, {"lr_d", lr_d}, {"beta1", b1}, {"beta2", b2}, {"eps", eps},
        {"rec_weight", wrec}, {"adv_weight", wadv}, {"ctx_weight", wctx},
        {"data", c->data_dir}, {"clinpaint_version", cp_version()},
        {"augment", cp_augment_name((cp_augment)c->augment)},
    };
    /* The log reaches the disk first: it may run ahead of the checkpoint
     * (resume cuts it back) but never behind. */
    if (r->log) CP_TRY(cp_run_sync_file(r->log, r->log_path));
    snprintf(r->path, sizeof r->path, "%s/ckpt/%s.safetensors", c->out_dir, name);
    cp_status st = cp_checkpoint_save(r->model, r->path, meta, (int)(sizeof meta / sizeof meta[0]));
    if (st == CP_OK) return CP_OK;
    char why[1024];
    snprintf(why, sizeof why, "%s", cp_last_error());
    if (strcmp(name, "last") == 0)
        return cp_set_error(st, "%s; training stopped at step %" PRIu64 " and the previous "
                                "checkpoints in %s/ckpt are as they were",
                            why, r->step, c->out_dir);
    return cp_set_error(st, "%s; training stopped at step %" PRIu64 ": %s/ckpt/last.safetensors "
                            "holds that step and the previous best.safetensors is as it was "
                            "(free some space, then continue with --resume)",
                        why, r->step, c->out_dir);
}

static bool meta_u64(const cp_checkpoint *ck, const char *key, uint64_t *out)
{
    return cp_meta_parse_u64(cp_checkpoint_meta(ck, key), out);
}

static bool meta_f(const cp_checkpoint *ck, const char *key, float *out)
{
    return cp_meta_parse_float(cp_checkpoint_meta(ck, key), out);
}

/* Resume: the model, optimizer and position, and the settings that shape
 * the numbers, come from the checkpoint. */
static cp_status resume(run *r, char *mask_buf, size_t mask_size)
{
    cp_checkpoint *ck;
    CP_TRY(cp_checkpoint_open(r->cfg->resume, &ck));
    cp_status st = cp_checkpoint_load_model(ck, r->ctx, true, &r->model);
    uint64_t batch = 0, seed = 0;
    cp_train_config *e = &r->eff;
    bool ok = st == CP_OK && meta_u64(ck, "epoch", &r->epoch) &&
              meta_u64(ck, "batch_index", &r->batch) && meta_u64(ck, "step", &r->step) &&
              meta_u64(ck, "seed", &seed) && meta_u64(ck, "batch", &batch) &&
              meta_f(ck, "lr_g", &e->opts.adam_g.lr) && meta_f(ck, "lr_d", &e->opts.adam_d.lr) &&
              meta_f(ck, "beta1", &e->opts.adam_g.beta1) &&
              meta_f(ck, "beta2", &e->opts.adam_g.beta2) && meta_f(ck, "eps", &e->opts.adam_g.eps) &&
              meta_f(ck, "rec_weight", &e->opts.rec_weight) &&
              meta_f(ck, "adv_weight", &e->opts.adv_weight) &&
              meta_f(ck, "ctx_weight", &e->opts.ctx_weight) && cp_checkpoint_meta(ck, "mask");
    if (st == CP_OK && !ok)
        st = cp_set_error(CP_ERR_FORMAT,
                          "%s has no training state (epoch, batch_index, step, seed, ...): "
                          "it is not a checkpoint written by clinpaint train",
                          r->cfg->resume);
    if (st == CP_OK) {
        e->opts.adam_d.beta1 = e->opts.adam_g.beta1;
        e->opts.adam_d.beta2 = e->opts.adam_g.beta2;
        e->opts.adam_d.eps = e->opts.adam_g.eps;
        e->seed = seed;
        e->batch = (int)batch;
        uint64_t epochs;
        if (e->epochs == 0) /* the run's own length, or MODEL.md's default */
            e->epochs = meta_u64(ck, "epochs", &epochs) && epochs >= 1 && epochs <= 1000000 ? (int)epochs : 20;
        e->model = r->model->cfg;
        snprintf(mask_buf, mask_size, "%s", cp_checkpoint_meta(ck, "mask"));
        e->mask_spec = mask_buf;
        cp_augment aug = CP_AUGMENT_NONE; /* older checkpoints: trained without */
        const char *a = cp_checkpoint_meta(ck, "augment");
        if (a && cp_augment_parse(a, &aug) != CP_OK)
            st = cp_set_error(CP_ERR_FORMAT, "%s: unknown augmentation '%s'", r->cfg->resume, a);
        e->augment = (int)aug;
        float best = 0;
        r->best_hole_psnr = meta_f(ck, "best_hole_psnr", &best) ? best : -INFINITY;
    }
    cp_checkpoint_close(ck);
    return st;
}

static cp_status open_data(run *r)
{
    const cp_train_config *c = &r->eff;
    CP_TRY(cp_dataset_open(c->data_dir, CP_SPLIT_TRAIN, &r->train));
    cp_status st = cp_dataset_open(c->data_dir, CP_SPLIT_TEST, &r->test);
    if (st != CP_OK) {
        /* A small folder may have no test image: train anyway, say so. */
        say(r->cfg, "note: %s; no samples or test metrics this run", cp_last_error());
        r->test = NULL;
    }
    CP_TRY(cp_mask_source_create(c->mask_spec, c->model.size, &r->masks));
    CP_TRY(cp_mask_source_check(r->masks, r->train));
    cp_loader_options lo = cp_loader_defaults();
    lo.size = c->model.size;
    lo.batch = c->batch;
    lo.seed = c->seed;
    lo.train = true;
    lo.threads = c->threads;
    lo.masks = r->masks;
    lo.mask_seed = c->seed;
    lo.augment = c->augment;
    CP_TRY(cp_loader_create(r->train, &lo, &r->loader));
    if (r->batch >= cp_loader_batches_per_epoch(r->loader)) { /* saved at an epoch's end */
        r->epoch++;
        r->batch = 0;
    }
    return cp_loader_seek(r->loader, r->epoch, r->batch);
}

static const char METRICS_HEADER[] = "epoch,step,hole_psnr,psnr,ssim,hole_l1,L_rec,L_adv,L_D,images\n";

/* Appends one row to metrics.csv, on disk before the checkpoint is. */
static cp_status write_metrics(const char *out_dir, const cp_epoch_metrics *m)
{
    char row[512];
    snprintf(row, sizeof row, "%" PRIu64 ",%" PRIu64 ",%.4f,%.4f,%.5f,%.4f,%.6g,%.6g,%.6g,%" PRIu64 "\n",
             m->epoch, m->step, m->hole_psnr, m->psnr, m->ssim, m->hole_l1, m->rec, m->adv, m->d,
             m->images);
    return cp_run_append_metrics(out_dir, METRICS_HEADER, row);
}

/* The loss curve, a sample grid, the test metrics and the checkpoints: at
 * each epoch's end (samples/epoch_NNN.png) and when a time or step limit
 * stops the run inside an epoch (samples/step_NNNNNN.png). */
static cp_status report_point(run *r, bool epoch_end)
{
    const cp_train_config *c = &r->eff;
    CP_TRY(cp_replica_check_identical(&r->rep, r->model, r->step));
    if (r->rank != 0) {
        if (epoch_end) {
            r->epoch++;
            r->batch = 0;
        }
        return CP_OK;
    }
    CP_TRY(cp_run_write_loss_svg(c->out_dir, &r->hist));
    if (r->test && c->sample_count > 0) {
        char path[1100];
        cp_run_sample_path(path, sizeof path, c->out_dir, epoch_end, r->epoch, r->step);
        CP_TRY(cp_run_write_samples(path, r->eval, r->test, r->masks, c->model.size,
                                    c->sample_count, c->seed));
    }
    cp_epoch_metrics m = {.epoch = r->epoch + 1, .step = r->step};
    if (r->test) {
        CP_TRY(cp_evaluate(r->eval, r->test, r->masks, c->model.size, c->seed, c->eval_max_images,
                           c->threads, &m, NULL));
        m.epoch = r->epoch + 1;
        m.step = r->step;
        CP_TRY(write_metrics(c->out_dir, &m));
        if (c->on_epoch) c->on_epoch(c->user, &m);
    }
    if (epoch_end) { /* the position saved is the next batch: the next epoch's start */
        r->epoch++;
        r->batch = 0;
    }
    bool improved = r->test && m.images > 0 && m.hole_psnr > r->best_hole_psnr;
    if (improved) r->best_hole_psnr = m.hole_psnr;
    CP_TRY(save_checkpoint(r, "last"));
    if (improved) CP_TRY(save_checkpoint(r, "best"));
    return CP_OK;
}

static cp_status setup(run *r, char *mask_buf, size_t mask_size)
{
    const cp_train_config *c = r->cfg;
    r->eff = *c;
    r->best_hole_psnr = -INFINITY;
    r->rep.comm = c->comm;
    r->rank = cp_comm_rank(c->comm);
    r->replicas = cp_comm_size(c->comm);
    if (r->rank == 0) CP_TRY(cp_run_folder_check(c->out_dir, c->resume, c->overwrite));
    if (c->resume) {
        CP_TRY(resume(r, mask_buf, mask_size));
    } else {
        if (c->batch < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "--batch must be at least 1");
        if (c->batch % r->replicas != 0)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                                "--batch %d (the global batch) does not divide by the %d replicas",
                                c->batch, r->replicas);
        /* Before any allocation: an absurd --widths must not reach the driver. */
        CP_TRY(cp_train_check_host_memory(cp_context_device(r->ctx), &c->model,
                                          c->batch / r->replicas, c->threads, 0));
        CP_TRY(cp_model_create(r->ctx, &c->model, &r->model));
        CP_TRY(cp_model_init(r->model, c->seed));
        if (r->eff.augment < 0)
            r->eff.augment = strcmp(c->mask_spec, "face") == 0 ? CP_AUGMENT_FRAMING : CP_AUGMENT_NONE;
    }
    const cp_train_config *e = &r->eff;
    if (!cp_augment_name((cp_augment)e->augment))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "augmentation %d unknown (a cp_augment set, 0..7)", e->augment);
    if (e->epochs < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "--epochs must be at least 1");
    if (e->batch % r->replicas != 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "the checkpoint's batch %d (the global batch) does not divide by the "
                            "%d replicas: use a replica count that divides it",
                            e->batch, r->replicas);
    const int local_batch = e->batch / r->replicas;
    uint64_t needed;
    int largest;
    CP_TRY(cp_train_check_memory(r->model, local_batch, &needed, &largest));
    if (largest < local_batch) {
        const cp_device_info *d = cp_context_device(r->ctx);
        if (largest == 0)
            return cp_set_error(CP_ERR_OUT_OF_DEVICE_MEMORY,
                                "this model does not fit %s (%.0f MiB, largest buffer %.0f MiB) "
                                "even at batch 1: try a smaller --preset",
                                d->name, (double)d->global_mem_bytes / (1 << 20),
                                (double)d->max_alloc_bytes / (1 << 20));
        char need[96];
        if (needed == UINT64_MAX)
            snprintf(need, sizeof need, "a tensor larger than the largest buffer");
        else
            snprintf(need, sizeof need, "%.0f MiB", (double)needed / (1 << 20));
        return cp_set_error(CP_ERR_OUT_OF_DEVICE_MEMORY,
                            "batch %d needs %s on %s (%.0f MiB, largest buffer %.0f MiB): "
                            "the largest batch that fits is %d (--batch %d)",
                            local_batch, need, d->name, (double)d->global_mem_bytes / (1 << 20),
                            (double)d->max_alloc_bytes / (1 << 20), largest, largest);
    }
    /* The data first: a bad folder must not leave an empty run folder. */
    CP_TRY(open_data(r));
    CP_TRY(cp_model_build_train(r->model, local_batch, &e->opts, &r->tg));
    cp_plan_options po = cp_plan_defaults();
    CP_TRY(cp_graph_plan(r->tg.graph, &po));
    if (r->rank != 0) return CP_OK;
    CP_TRY(cp_run_folder_prepare(e->out_dir, c->resume, c->overwrite, &r->lock_fd));
    int eval_batch = e->eval_batch > 0 ? e->eval_batch : 16;
    CP_TRY(cp_inpainter_create(r->model, eval_batch, true, e->opts.ctx_weight, &r->eval));
    CP_TRY(cp_run_write_config(e->out_dir, e, cp_context_device(r->ctx)));
    /* One history: the metrics of steps to be redone go. */
    if (c->resume) CP_TRY(cp_run_trim_metrics(e->out_dir, METRICS_HEADER, r->step));
    snprintf(r->log_path, sizeof r->log_path, "%s/log.csv", e->out_dir);
    return cp_history_open_log(&r->hist, r->log_path, c->resume ? r->step : 0, &r->log);
}

/* One iteration on the next batch; fills v[0..5] = rec, adv, G, D, p_real, p_fake. */
static cp_status iterate(run *r, double t0, float v[6])
{
    const cp_batch *b;
    CP_TRY(cp_loader_next(r->loader, &b));
    const float *images, *masks;
    CP_TRY(cp_replica_slice(&r->rep, b, &images, &masks));
    cp_train_step_options so = {.on_gradients = cp_replica_average_gradients, .user = &r->rep};
    cp_train_scalars s;
    CP_TRY(cp_train_step(r->model, &r->tg, images, masks, r->replicas > 1 ? &so : NULL, &s));
    /* Losses averaged over replicas (equal slices: the global batch's
     * means); stop requests summed, so every replica stops at one step. */
    const cp_train_config *c = &r->eff;
    double elapsed_s = cp_seconds() - t0;
    bool limit = (c->max_minutes > 0 && elapsed_s >= c->max_minutes * 60) ||
                 (c->max_steps > 0 && r->step + 1 >= c->max_steps);
    float got[8] = {s.rec, s.adv, s.g, s.d, s.p_real, s.p_fake,
                    r->cfg->stop && *r->cfg->stop ? 1.0f : 0.0f, limit ? 1.0f : 0.0f};
    if (r->replicas > 1) {
        CP_TRY(cp_comm_sum(r->rep.comm, got, 8));
        for (int k = 0; k < 6; k++) got[k] /= (float)r->replicas;
    }
    memcpy(v, got, 6 * sizeof(float));
    r->stop_agreed = got[6] > 0;
    r->limit_agreed = got[7] > 0;
    return CP_OK;
}

cp_status cp_train(cp_context *ctx, const cp_train_config *cfg, cp_train_result *res)
{
    memset(res, 0, sizeof *res);
    run r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.ctx = ctx;
    r.lock_fd = -1;
    char mask_buf[1024];
    /* Replicas in one process set up one at a time (CLBlast's first calls
     * are not thread-safe), then start from replica 0's state, whatever
     * each one read or drew. */
    cp_comm_serial_begin(cfg->comm);
    cp_status st = setup(&r, mask_buf, sizeof mask_buf);
    cp_comm_serial_end(cfg->comm);
    if (st == CP_OK) st = cp_replica_broadcast_model(&r.rep, r.model);
    const cp_train_config *c = &r.eff;
    double t0 = cp_seconds(), last_report = t0;
    uint64_t start_step = r.step, low_d = 0;
    bool collapse_warned = false;
    uint64_t bpe = st == CP_OK ? cp_loader_batches_per_epoch(r.loader) : 0;
    while (st == CP_OK && r.epoch < (uint64_t)c->epochs) {
        float v[6];
        double ti = cp_seconds();
        st = iterate(&r, t0, v);
        if (st != CP_OK) break;
        r.step++;
        r.batch++;
        double now = cp_seconds(), dt = now - ti;
        for (int k = 0; k < 6; k++)
            if (!isfinite(v[k])) {
                static const char *const names[6] = {"L_rec", "L_adv", "L_G", "L_D", "D(x)", "D(y)"};
                st = cp_set_error(CP_ERR_NUMERIC,
                                  "%s became %g at step %" PRIu64 " (epoch %" PRIu64 "): "
                                  "training stopped; the last good checkpoint is %s/ckpt/"
                                  "last.safetensors. Try a lower --lr or --adv-weight.",
                                  names[k], (double)v[k], r.step, r.epoch + 1, c->out_dir);
                break;
            }
        if (st != CP_OK) break;
        if (r.log && fprintf(r.log, "%" PRIu64 ",%" PRIu64 ",%.6g,%.6g,%.6g,%.6g,%.5f,%.5f,%.2f\n", r.step,
                    r.epoch + 1, v[0], v[1], v[2], v[3], v[4], v[5], dt > 0 ? c->batch / dt : 0) < 0) {
            st = cp_set_error(CP_ERR_IO, "writing %s failed: %s", r.log_path, strerror(errno));
            break;
        }
        if (r.rank == 0 && !cp_history_add(&r.hist, (double)r.step, v[0], v[2], v[3])) {
            st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "loss history");
            break;
        }
        low_d = v[3] < 0.01f ? low_d + 1 : 0;
        if (low_d >= 200 && !collapse_warned && r.rank == 0) {
            collapse_warned = true;
            say(cfg, "warning: L_D has stayed below 0.01 for 200 steps (step %" PRIu64 "): the "
                     "discriminator wins outright and G learns little from it; consider a "
                     "lower --lr for D or a smaller --adv-weight",
                r.step);
        }
        double elapsed = now - t0;
        uint64_t done = r.step - start_step;
        uint64_t total = (uint64_t)c->epochs * bpe;
        if (cfg->on_progress) {
            cp_train_progress p = {r.epoch, (uint64_t)c->epochs, r.batch, bpe, r.step, elapsed,
                                   done * (double)c->batch / (elapsed > 0 ? elapsed : 1), 0,
                                   v[0], v[1], v[2], v[3], v[4], v[5], r.replicas,
                                   elapsed > 0 ? r.rep.comm_seconds / elapsed : 0};
            uint64_t pos = r.epoch * bpe + r.batch;
            p.eta_s = done > 0 && total > pos ? elapsed / (double)done * (double)(total - pos) : 0;
            cfg->on_progress(cfg->user, &p);
        }
        if (now - last_report > 10) {
            if (r.log && fflush(r.log) != 0) {
                st = cp_set_error(CP_ERR_IO, "writing %s failed: %s", r.log_path, strerror(errno));
                break;
            }
            last_report = now;
        }
        if (r.batch >= bpe) {
            st = report_point(&r, true);
            if (st != CP_OK) break;
        }
        /* One replica: the request as it stands now (it may have come
         * from on_progress); several: as agreed in iterate(). */
        if (r.replicas > 1 ? r.stop_agreed : cfg->stop && *cfg->stop) {
            res->interrupted = true;
            break;
        }
        res->step_limit = c->max_steps > 0 && r.step >= c->max_steps;
        bool time_up = r.replicas > 1 ? r.limit_agreed
                                      : c->max_minutes > 0 && elapsed >= c->max_minutes * 60;
        if (time_up || res->step_limit) {
            res->time_limit = true;
            break;
        }
    }
    res->finished = st == CP_OK && r.epoch >= (uint64_t)c->epochs;
    /* Save the position reached (end-of-epoch already saved its own); a
     * limit also gets the figures an epoch's end would have written. */
    if (st == CP_OK && r.batch != 0 && r.rank != 0 && res->time_limit)
        st = cp_replica_check_identical(&r.rep, r.model, r.step);
    else if (st == CP_OK && r.batch != 0 && r.rank == 0) {
        if (res->time_limit) {
            st = report_point(&r, false);
        } else { /* Ctrl-C: the checkpoint first, the figure after */
            st = save_checkpoint(&r, "last");
            if (st == CP_OK) st = cp_run_write_loss_svg(c->out_dir, &r.hist);
        }
    }
    st = cp_run_close_log(&r.log, r.log_path, st);
    res->step = r.step;
    res->epoch = r.epoch;
    res->batch = r.batch;
    res->steps_this_run = r.step - start_step;
    res->seconds = cp_seconds() - t0;
    res->images_per_s = res->seconds > 0 ? (double)res->steps_this_run * c->batch / res->seconds : 0;
    res->best_hole_psnr = r.best_hole_psnr;
    res->replicas = r.replicas > 0 ? r.replicas : 1;
    res->comm_seconds = r.rep.comm_seconds;
    st = cp_run_last_checkpoint(st, res->interrupted, r.step, c->out_dir, res->last_checkpoint,
                                sizeof res->last_checkpoint);
    /* A failed replica must not leave the others waiting for it. */
    if (st != CP_OK && !(st == CP_ERR_INTERRUPTED && res->interrupted)) cp_comm_fail(cfg->comm);
    run_free(&r);
    return st;
}
