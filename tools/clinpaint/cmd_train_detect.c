/* clinpaint train --task detect: the mask detector on maskify's folders
 * (clinpaint/unmask.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_inputs.h"
#include "cli_util.h"
#include "clinpaint/clinpaint.h"
#include "clinpaint/unmask.h"
#include "unmask_cli.h"
#include "env_options.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint train --task detect --data MASKIFIED_DIR [options]\n"
            "       clinpaint train --task detect --resume RUN_DIR/ckpt/last.safetensors --data DIR\n\n"
            "Trains the mask detector (a small U-Net: per-pixel BCE + soft Dice, Adam) on\n"
            "the pairs clinpaint maskify wrote: DIR/masked (images) and DIR/mask (their\n"
            "masks), 90%% train / 10%% test by file name; DIR/original gives negatives\n"
            "(faces without a mask, an empty target). Writes RUN_DIR/config.json, log.csv,\n"
            "loss.svg, samples/epoch_NNN.png (image | predicted mask | true mask),\n"
            "metrics.csv (IoU, Dice, pixel accuracy) and ckpt/{last,best}.safetensors.\n\n"
            "  --preset P         tiny (64 px, default) or small (128 px)\n"
            "  --size S           input size (power of two, 16..512)\n"
            "  --widths a,b,...   channels per level (2 to 5 levels)\n"
            "  --batch N          batch size (8)\n"
            "  --epochs N         epochs (10)\n"
            "  --lr X             Adam learning rate (1e-3)\n"
            "  --beta1 X          Adam beta1 (0.9)\n"
            "  --dice-weight X    weight of the soft Dice term (1)\n"
            "  --negatives X      share of samples shown unmasked with an empty mask (0.125)\n"
            "  --augment A        colour (default): each sample's mask recoloured (hue,\n"
            "                     saturation, brightness, a random colour or a stripe, dot\n"
            "                     or check pattern), the image's colours jittered, some\n"
            "                     grey, so unseen kinds of mask are found; none: off\n"
            "  --seed K           seed of initialisation, data order, flips, negatives,\n"
            "                     augmentation (1)\n"
            "  --max-minutes M    stop (and save) after M minutes\n"
            "  --max-steps N      stop after N iterations in total\n"
            "  --out RUN_DIR      run folder (default runs/<date>-<time>-detect)\n"
            "  --overwrite        start over in a run folder that holds a run\n"
            "  --resume CKPT      continue a run from its checkpoint\n"
            "  --device SEL       OpenCL device (P:D or part of its name)\n"
            "  --threads N        image decoding threads (default 2)\n"
            "  --eval-images N    test images evaluated per epoch (default: all)\n\n"
            "Ctrl-C finishes the current iteration, saves, and prints the resume command\n"
            "(exit code 130).\n");
}

static bool parse_widths(const char *s, cp_detector_config *c)
{
    int n = 0;
    const char *p = s;
    while (*p && n < CP_DETECTOR_MAX_LEVELS) {
        char *end;
        long w = strtol(p, &end, 10);
        if (end == p || w < 1 || w > 1024) return false;
        c->widths[n++] = (int)w;
        if (*end == ',') p = end + 1;
        else if (*end == '\0') p = end;
        else return false;
    }
    if (*p || n < 2) return false;
    c->levels = n;
    return true;
}

void detect_progress_finish_line(detect_progress *s)
{
    if (s->line_open) fputc('\n', stderr);
    s->line_open = false;
}

static void on_progress(void *user, const cp_detect_progress *p)
{
    detect_progress *s = user;
    double now = cp_seconds();
    if (now - s->last_print < (s->tty ? 0.1 : 10.0) && p->batch != p->batches) return;
    s->last_print = now;
    long eta = p->eta_s > 0 && p->eta_s < 1e7 ? (long)(p->eta_s + 0.5) : -1;
    char eta_s[32];
    if (eta < 0) snprintf(eta_s, sizeof eta_s, "--:--");
    else snprintf(eta_s, sizeof eta_s, "%02ld:%02ld", eta / 60, eta % 60);
    fprintf(stderr, "%sstep %llu epoch %llu/%llu batch %llu/%llu: %.1f img/s, ETA %s, loss %.5f%s",
            s->tty ? "\r" : "", (unsigned long long)p->step, (unsigned long long)p->epoch + 1,
            (unsigned long long)p->epochs, (unsigned long long)p->batch,
            (unsigned long long)p->batches, p->images_per_s, eta_s, (double)p->loss,
            s->tty ? " " : "\n");
    s->line_open = s->tty;
    fflush(stderr);
}

static void on_epoch(void *user, const cp_detect_metrics *m)
{
    detect_progress_finish_line(user);
    fprintf(stderr,
            "epoch %llu done (step %llu): test IoU %.4f, Dice %.4f, pixel accuracy %.4f on %llu "
            "images\n",
            (unsigned long long)m->epoch, (unsigned long long)m->step, m->iou, m->dice,
            m->accuracy, (unsigned long long)m->images);
}

static void on_message(void *user, const char *text)
{
    detect_progress_finish_line(user);
    fprintf(stderr, "%s\n", text);
}

void detect_progress_attach(cp_detect_train_config *cfg, detect_progress *p, bool tty)
{
    p->tty = tty;
    p->line_open = false;
    p->last_print = 0;
    cfg->user = p;
    cfg->on_progress = on_progress;
    cfg->on_epoch = on_epoch;
    cfg->on_message = on_message;
}

static volatile int stop_requested;

/* Options shared with the context encoder's train keep their meaning. */
int cmd_train_detect(int argc, char **argv)
{
    const char *cmd = "train";
    cp_detect_train_config cfg = cp_detect_train_config_defaults();
    const char *device = NULL;
    bool model_opts = false, math_opts = false, epochs_given = false;
    int size = 0;
    cp_detector_config widths = {{0}, 0, 0, {0}};
    const char *preset = NULL;
    static const char *const flags[] = {"--overwrite", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int rc = cli_option_at(cmd, argc, argv, &i, flags, usage, &v);
        if (rc >= 0) return rc;
        long n;
        double x;
        uint64_t u;
        if (strcmp(a, "--overwrite") == 0) {
            cfg.overwrite = true;
        } else if (strcmp(a, "--task") == 0) {
            if (strcmp(v, "detect") != 0) return cli_usage_error(cmd, "--task '%s': inpaint or detect", v);
        } else if (strcmp(a, "--data") == 0) {
            cfg.data_dir = v;
        } else if (strcmp(a, "--out") == 0) {
            cfg.out_dir = v;
        } else if (strcmp(a, "--resume") == 0) {
            cfg.resume = v;
        } else if (strcmp(a, "--device") == 0) {
            device = v;
        } else if (strcmp(a, "--preset") == 0) {
            preset = v;
            model_opts = true;
        } else if (strcmp(a, "--size") == 0) {
            if (!cli_parse_int(v, 16, 512, &n)) return cli_usage_error(cmd, "--size '%s': a power of two from 16 to 512", v);
            size = (int)n;
            model_opts = true;
        } else if (strcmp(a, "--widths") == 0) {
            if (!parse_widths(v, &widths))
                return cli_usage_error(cmd, "--widths '%s': 2 to 5 comma-separated channel counts (1..1024), e.g. 8,16,32,64", v);
            model_opts = true;
        } else if (strcmp(a, "--batch") == 0) {
            if (!cli_parse_int(v, 1, 4096, &n)) return cli_usage_error(cmd, "--batch '%s': 1..4096", v);
            cfg.batch = (int)n;
            math_opts = true;
        } else if (strcmp(a, "--epochs") == 0) {
            if (!cli_parse_int(v, 1, 1000000, &n)) return cli_usage_error(cmd, "--epochs '%s': a positive number", v);
            cfg.epochs = (int)n;
            epochs_given = true;
        } else if (strcmp(a, "--lr") == 0) {
            if (!cli_parse_float(v, 1e-12, 10, &x)) return cli_usage_error(cmd, "--lr '%s': a positive number", v);
            cfg.opts.adam.lr = (float)x;
            math_opts = true;
        } else if (strcmp(a, "--beta1") == 0) {
            if (!cli_parse_float(v, 0, 0.999999, &x)) return cli_usage_error(cmd, "--beta1 '%s': in [0, 1)", v);
            cfg.opts.adam.beta1 = (float)x;
            math_opts = true;
        } else if (strcmp(a, "--dice-weight") == 0) {
            if (!cli_parse_float(v, 0, 1e6, &x)) return cli_usage_error(cmd, "--dice-weight '%s': a number >= 0", v);
            cfg.opts.dice_weight = (float)x;
            math_opts = true;
        } else if (strcmp(a, "--negatives") == 0) {
            if (!cli_parse_float(v, 0, 0.99, &x)) return cli_usage_error(cmd, "--negatives '%s': in [0, 0.99]", v);
            cfg.negatives = (float)x;
            math_opts = true;
        } else if (strcmp(a, "--augment") == 0) {
            if (cp_detect_augment_parse(v, &cfg.augment) != CP_OK)
                return cli_usage_error(cmd, "--augment '%s': colour or none (with --task detect)", v);
            math_opts = true;
        } else if (strcmp(a, "--seed") == 0) {
            if (!cli_parse_u64(v, &u)) return cli_usage_error(cmd, "--seed '%s': a non-negative integer", v);
            cfg.seed = u;
            math_opts = true;
        } else if (strcmp(a, "--max-minutes") == 0) {
            if (!cli_parse_float(v, 1e-6, 1e9, &x)) return cli_usage_error(cmd, "--max-minutes '%s': a positive number", v);
            cfg.max_minutes = x;
        } else if (strcmp(a, "--max-steps") == 0) {
            if (!cli_parse_u64(v, &u) || u == 0) return cli_usage_error(cmd, "--max-steps '%s': a positive integer", v);
            cfg.max_steps = u;
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_int(v, 1, 64, &n)) return cli_usage_error(cmd, "--threads '%s': 1..64", v);
            cfg.threads = (int)n;
        } else if (strcmp(a, "--eval-images") == 0) {
            if (!cli_parse_u64(v, &u)) return cli_usage_error(cmd, "--eval-images '%s': a number", v);
            cfg.eval_max_images = u;
        } else {
            return cli_usage_error(cmd, "unknown option '%s' (with --task detect)", a);
        }
    }
    if (!cfg.data_dir)
        return cli_usage_error(cmd, "--data DIR is required (a folder written by clinpaint maskify)");
    if (cfg.resume && cfg.overwrite)
        return cli_usage_error(cmd, "--resume continues a run and --overwrite deletes one: give one of them");
    char out_buf[1100];
    if (cfg.resume) {
        /* The run goes on to the epochs it was started with, unless told. */
        if (!epochs_given) cfg.epochs = 0;
        if (model_opts || math_opts)
            return cli_usage_error(cmd, "with --resume the model, batch, seed, augmentation and optimizer settings "
                                        "come from the checkpoint; only --data, --out, --epochs, "
                                        "--max-minutes, --max-steps, --device, --threads and "
                                        "--eval-images may be given");
        if (!cfg.out_dir) { /* RUN_DIR/ckpt/last.safetensors -> RUN_DIR */
            snprintf(out_buf, sizeof out_buf, "%s", cfg.resume);
            char *slash = strrchr(out_buf, '/');
            if (slash) *slash = '\0';
            slash = strrchr(out_buf, '/');
            if (slash) *slash = '\0';
            else snprintf(out_buf, sizeof out_buf, ".");
            cfg.out_dir = out_buf;
        }
    } else {
        if (preset && cp_detector_config_preset(preset, &cfg.model) != CP_OK)
            return cli_usage_error(cmd, "--preset '%s': choose tiny or small", preset);
        if (size || widths.levels) snprintf(cfg.model.preset, sizeof cfg.model.preset, "custom");
        if (size) cfg.model.size = size;
        if (widths.levels) {
            cfg.model.levels = widths.levels;
            memcpy(cfg.model.widths, widths.widths, sizeof widths.widths);
        }
        if (cp_detector_config_validate(&cfg.model) != CP_OK) return cli_usage_error(cmd, "%s", cp_last_error());
    }
    if (!cfg.out_dir) {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(out_buf, sizeof out_buf, "runs/%Y%m%d-%H%M%S-detect", &tm);
        if (mkdir("runs", 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "clinpaint train: cannot create folder runs: %s\n", strerror(errno));
            return CLI_EXIT_FAIL;
        }
        cfg.out_dir = out_buf;
    }
    cli_catch_sigint(&stop_requested);
    cli_warn_cache_dir(cmd);
    cp_context *ctx;
    cp_status st = env_context_create(device, &ctx);
    if (st != CP_OK) {
        cli_release_sigint();
        return cli_fail(cmd, st);
    }
    fprintf(stderr, "clinpaint train: %s the mask detector on %s, run folder %s\n",
            cfg.resume ? "resuming" : "training", cp_context_device(ctx)->name, cfg.out_dir);
    detect_progress ps;
    detect_progress_attach(&cfg, &ps, isatty(STDERR_FILENO) != 0);
    cfg.stop = &stop_requested;
    cp_detect_result res;
    st = cp_detect_train(ctx, &cfg, &res);
    detect_progress_finish_line(&ps);
    cli_release_sigint();
    cp_context_free(ctx);
    if (st == CP_ERR_INTERRUPTED || (st != CP_OK && stop_requested)) {
        fprintf(stderr,
                "clinpaint train: stopped at step %llu; saved %s\nresume with:\n  clinpaint train "
                "--task detect --resume %s --data %s\n",
                (unsigned long long)res.step, res.last_checkpoint, res.last_checkpoint, cfg.data_dir);
        return CLI_EXIT_INTERRUPTED;
    }
    if (st != CP_OK) return cli_fail(cmd, st);
    printf("%s after %llu steps (%llu this run) in %.0f s, %.1f images/s\n",
           res.finished     ? "finished"
           : res.step_limit ? "stopped at the step limit (--max-steps)"
                            : "stopped at the time limit",
           (unsigned long long)res.step, (unsigned long long)res.steps_this_run, res.seconds,
           res.images_per_s);
    if (res.best_iou >= 0)
        printf("best test IoU %.4f (%s/ckpt/best.safetensors)\n", res.best_iou, cfg.out_dir);
    printf("run folder: %s (loss.svg, samples/, metrics.csv, log.csv)\n", cfg.out_dir);
    printf("checkpoint: %s\n", res.last_checkpoint);
    if (!res.finished)
        printf("continue with: clinpaint train --task detect --resume %s --data %s\n",
               res.last_checkpoint, cfg.data_dir);
    return CLI_EXIT_OK;
}
