#include "train_cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "clinpaint/checkpoint.h"
#include "clinpaint/dataset.h"

static bool parse_widths(const char *s, int w[6])
{
    char tail;
    if (sscanf(s, "%d,%d,%d,%d,%d,%d%c", &w[0], &w[1], &w[2], &w[3], &w[4], &w[5], &tail) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        if (w[i] < 1 || w[i] > 4096) return false;
    return true;
}

int train_cli_parse(int argc, char **argv, cp_train_config *cfg, const char **device,
                    train_cli_state *state, void (*usage)(FILE *))
{
    const char *cmd = argv[0];
    memset(state, 0, sizeof *state);
    bool model_opts = false, preset_given = false, size_given = false, math_opts = false;
    bool epochs_given = false;
    const char *preset = NULL;
    int size = 0, widths[6] = {0}, latent = 0;
    bool have_widths = false, bn = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(a, "--batchnorm") == 0) {
            bn = model_opts = true;
            continue;
        }
        if (strcmp(a, "--no-framing-aug") == 0) {
            cfg->augment = CP_AUGMENT_NONE;
            math_opts = true;
            continue;
        }
        if (strcmp(a, "--overwrite") == 0) {
            cfg->overwrite = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) return cli_usage_error(cmd, "unexpected argument '%s'", a);
        if (i + 1 >= argc) return cli_usage_error(cmd, "%s needs a value", a);
        const char *v = argv[++i];
        long n;
        double x;
        uint64_t u;
        if (strcmp(a, "--task") == 0) {
            /* inpaint: `train` sends --task detect elsewhere (cmd_train.c) */
        } else if (strcmp(a, "--data") == 0) {
            cfg->data_dir = v;
        } else if (strcmp(a, "--out") == 0) {
            cfg->out_dir = v;
        } else if (strcmp(a, "--resume") == 0) {
            cfg->resume = v;
        } else if (strcmp(a, "--device") == 0) {
            *device = v;
        } else if (strcmp(a, "--mask") == 0) {
            cfg->mask_spec = v;
            math_opts = true;
        } else if (strcmp(a, "--augment") == 0) {
            cp_augment aug;
            if (cp_augment_parse(v, &aug) != CP_OK)
                return cli_usage_error(cmd, "--augment '%s': choose none, framing, or parts among "
                                                 "geometry, colour and gray joined by '+'", v);
            cfg->augment = (int)aug;
            math_opts = true;
        } else if (strcmp(a, "--preset") == 0) {
            preset = v;
            preset_given = model_opts = true;
        } else if (strcmp(a, "--size") == 0) {
            if (!cli_parse_int(v, 32, 512, &n)) return cli_usage_error(cmd, "--size '%s': a power of two from 32 to 512", v);
            size = (int)n;
            size_given = model_opts = true;
        } else if (strcmp(a, "--widths") == 0) {
            if (!parse_widths(v, widths))
                return cli_usage_error(cmd, "--widths '%s': six comma-separated channel counts, e.g. 16,32,64,64,128,128", v);
            have_widths = model_opts = true;
        } else if (strcmp(a, "--latent") == 0) {
            if (!cli_parse_int(v, 1, 65536, &n)) return cli_usage_error(cmd, "--latent '%s': 1..65536", v);
            latent = (int)n;
            model_opts = true;
        } else if (strcmp(a, "--batch") == 0) {
            if (!cli_parse_int(v, 1, 4096, &n)) return cli_usage_error(cmd, "--batch '%s': 1..4096", v);
            cfg->batch = (int)n;
            math_opts = true;
        } else if (strcmp(a, "--epochs") == 0) {
            if (!cli_parse_int(v, 1, 1000000, &n)) return cli_usage_error(cmd, "--epochs '%s': a positive number", v);
            cfg->epochs = (int)n;
            epochs_given = true;
        } else if (strcmp(a, "--lr") == 0) {
            if (!cli_parse_float(v, 1e-12, 10, &x)) return cli_usage_error(cmd, "--lr '%s': a positive number", v);
            cfg->opts.adam_g.lr = cfg->opts.adam_d.lr = (float)x;
            math_opts = true;
        } else if (strcmp(a, "--beta1") == 0) {
            if (!cli_parse_float(v, 0, 0.999999, &x)) return cli_usage_error(cmd, "--beta1 '%s': in [0, 1)", v);
            cfg->opts.adam_g.beta1 = cfg->opts.adam_d.beta1 = (float)x;
            math_opts = true;
        } else if (strcmp(a, "--rec-weight") == 0 || strcmp(a, "--adv-weight") == 0 ||
                   strcmp(a, "--ctx-weight") == 0) {
            if (!cli_parse_float(v, 0, 1e6, &x)) return cli_usage_error(cmd, "%s '%s': a number >= 0", a, v);
            float *w = a[2] == 'r' ? &cfg->opts.rec_weight : a[2] == 'a' ? &cfg->opts.adv_weight
                                                                         : &cfg->opts.ctx_weight;
            *w = (float)x;
            math_opts = true;
        } else if (strcmp(a, "--seed") == 0) {
            if (!cli_parse_u64(v, &u)) return cli_usage_error(cmd, "--seed '%s': a non-negative integer", v);
            cfg->seed = u;
            math_opts = true;
        } else if (strcmp(a, "--max-minutes") == 0) {
            if (!cli_parse_float(v, 1e-6, 1e9, &x)) return cli_usage_error(cmd, "--max-minutes '%s': a positive number", v);
            cfg->max_minutes = x;
        } else if (strcmp(a, "--max-steps") == 0) {
            if (!cli_parse_u64(v, &u) || u == 0) return cli_usage_error(cmd, "--max-steps '%s': a positive integer", v);
            cfg->max_steps = u;
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_int(v, 1, 64, &n)) return cli_usage_error(cmd, "--threads '%s': 1..64", v);
            cfg->threads = (int)n;
        } else if (strcmp(a, "--eval-images") == 0) {
            if (!cli_parse_u64(v, &u)) return cli_usage_error(cmd, "--eval-images '%s': a number", v);
            cfg->eval_max_images = u;
        } else {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        }
    }
    if (!cfg->data_dir) return cli_usage_error(cmd, "--data DIR is required (a folder of images)");
    if (cfg->resume && cfg->overwrite)
        return cli_usage_error(cmd, "--resume continues a run and --overwrite deletes one: give one of them");
    if (cfg->resume) {
        /* The run goes on to the epochs it was started with, unless told. */
        if (!epochs_given) cfg->epochs = 0;
        if (model_opts || math_opts)
            return cli_usage_error(cmd, "with --resume the model, batch, mask, seed and loss/optimizer "
                                        "settings come from the checkpoint; only --data, --out, --epochs, "
                                        "--max-minutes, --max-steps, --device, --threads and "
                                        "--eval-images may be given");
        if (!cfg->out_dir) {
            /* RUN_DIR/ckpt/last.safetensors -> RUN_DIR */
            snprintf(state->out_buf, sizeof state->out_buf, "%s", cfg->resume);
            char *slash = strrchr(state->out_buf, '/');
            if (slash) *slash = '\0';
            slash = strrchr(state->out_buf, '/');
            if (slash) *slash = '\0';
            else snprintf(state->out_buf, sizeof state->out_buf, ".");
            cfg->out_dir = state->out_buf;
        }
        return -1;
    }
    if (preset_given && cp_model_config_preset(preset, &cfg->model) != CP_OK)
        return cli_usage_error(cmd, "--preset '%s': choose tiny, small or base", preset);
    if (size_given || have_widths || latent) snprintf(cfg->model.preset, sizeof cfg->model.preset, "custom");
    if (size_given) cfg->model.size = size;
    if (have_widths) memcpy(cfg->model.widths, widths, sizeof widths);
    if (latent) cfg->model.latent = latent;
    cfg->model.batchnorm = bn;
    if (cp_model_config_validate(&cfg->model) != CP_OK)
        return cli_usage_error(cmd, "%s", cp_last_error());
    if (bn && cfg->batch < 2) return cli_usage_error(cmd, "--batchnorm needs --batch 2 or more");
    return -1;
}

static void fmt_time(double s, char *buf, size_t size)
{
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, size, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, size, "%02ld:%02ld", t / 60, t % 60);
}

static void on_progress(void *user, const cp_train_progress *p)
{
    train_cli_state *s = user;
    double now = cp_seconds();
    /* Terminal: redraw at most 10 times a second. Log: a line every 10 s. */
    if (now - s->last_print < (s->tty ? 0.1 : 10.0) && p->batch != p->batches) return;
    s->last_print = now;
    char eta[32], comm[48] = "";
    fmt_time(p->eta_s, eta, sizeof eta);
    if (p->replicas > 1) /* total images/s over all replicas; time spent averaging gradients */
        snprintf(comm, sizeof comm, " (%d replicas, %.0f%% comm)", p->replicas, 100 * p->comm_share);
    if (s->tty) {
        char bar[26];
        int fill = p->batches ? (int)(25.0 * (double)p->batch / (double)p->batches) : 0;
        for (int i = 0; i < 25; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
        bar[25] = '\0';
        fprintf(stderr,
                "\repoch %llu/%llu [%s] %llu/%llu  %.1f img/s%s  ETA %s  L_rec %.4f  L_adv %.3f  "
                "L_D %.3f ",
                (unsigned long long)p->epoch + 1, (unsigned long long)p->epochs, bar,
                (unsigned long long)p->batch, (unsigned long long)p->batches, p->images_per_s, comm,
                eta, p->rec, p->adv, p->d);
        s->line_open = true;
    } else {
        fprintf(stderr,
                "step %llu epoch %llu/%llu batch %llu/%llu: %.1f img/s%s, ETA %s, L_rec %.5f, "
                "L_adv %.4f, L_G %.5f, L_D %.4f, D(x) %.3f, D(y) %.3f\n",
                (unsigned long long)p->step, (unsigned long long)p->epoch + 1,
                (unsigned long long)p->epochs, (unsigned long long)p->batch,
                (unsigned long long)p->batches, p->images_per_s, comm, eta, p->rec, p->adv, p->g, p->d,
                p->p_real, p->p_fake);
    }
    fflush(stderr);
}

void train_cli_finish_line(train_cli_state *s)
{
    if (s->line_open) fputc('\n', stderr);
    s->line_open = false;
}

static void on_epoch(void *user, const cp_epoch_metrics *m)
{
    train_cli_finish_line(user);
    fprintf(stderr,
            "epoch %llu done (step %llu): test hole PSNR %.2f dB, PSNR %.2f dB, SSIM %.4f, "
            "hole L1 %.2f on %llu images\n",
            (unsigned long long)m->epoch, (unsigned long long)m->step, m->hole_psnr, m->psnr,
            m->ssim, m->hole_l1, (unsigned long long)m->images);
}

static void on_message(void *user, const char *text)
{
    train_cli_finish_line(user);
    fprintf(stderr, "%s\n", text);
}

void train_cli_attach_progress(cp_train_config *cfg, train_cli_state *state, bool tty)
{
    state->tty = tty;
    cfg->user = state;
    cfg->on_progress = on_progress;
    cfg->on_epoch = on_epoch;
    cfg->on_message = on_message;
}

int train_cli_report(const char *cmd, cp_status st, const cp_train_config *cfg,
                     const cp_train_result *res)
{
    if (st == CP_ERR_INTERRUPTED) {
        fprintf(stderr,
                "clinpaint %s: stopped at step %llu (%.1f img/s); saved %s\n"
                "resume with:\n  clinpaint train --resume %s --data %s\n",
                cmd, (unsigned long long)res->step, res->images_per_s, res->last_checkpoint,
                res->last_checkpoint, cfg->data_dir);
        return CLI_EXIT_INTERRUPTED;
    }
    if (st != CP_OK && cfg->stop && *cfg->stop) {
        /* The compiler inside some OpenCL drivers (LLVM) also catches
         * Ctrl-C and deletes its temporary files, so a build it interrupts
         * fails: that failure is the interruption, not an error. */
        fprintf(stderr, "clinpaint %s: interrupted (Ctrl-C) at step %llu: %s\n", cmd,
                (unsigned long long)res->step, cp_last_error());
        if (res->step > 0)
            fprintf(stderr, "resume with:\n  clinpaint train --resume %s --data %s\n",
                    res->last_checkpoint, cfg->data_dir);
        return CLI_EXIT_INTERRUPTED;
    }
    if (st != CP_OK) return cli_fail(cmd, st);
    printf("%s after %llu steps (%llu this run) in %.0f s, %.1f images/s\n",
           res->finished     ? "finished"
           : res->step_limit ? "stopped at the step limit (--max-steps)"
                             : "stopped at the time limit",
           (unsigned long long)res->step,
           (unsigned long long)res->steps_this_run, res->seconds, res->images_per_s);
    if (res->replicas > 1)
        printf("%d replicas: %.0f%% of the time averaging gradients (%.1f s on replica 0)\n",
               res->replicas, res->seconds > 0 ? 100 * res->comm_seconds / res->seconds : 0,
               res->comm_seconds);
    if (isfinite(res->best_hole_psnr))
        printf("best test hole PSNR %.2f dB (%s/ckpt/best.safetensors)\n", res->best_hole_psnr,
               cfg->out_dir);
    printf("run folder: %s (loss.svg, samples/, metrics.csv, log.csv)\n", cfg->out_dir);
    printf("checkpoint: %s\n", res->last_checkpoint);
    if (!res->finished)
        printf("continue with: clinpaint train --resume %s --data %s\n", res->last_checkpoint,
               cfg->data_dir);
    return CLI_EXIT_OK;
}
