/* clinpaint train: MODEL.md's context encoder on a folder of images. */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "clinpaint/clinpaint.h"
#include "clinpaint/train.h"
#include "train_cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint train --data DIR [options]\n"
            "       clinpaint train --resume RUN_DIR/ckpt/last.safetensors --data DIR [--epochs N]\n\n"
            "Trains the context encoder (MODEL.md) on every image under DIR (90%% train /\n"
            "10%% test split by file name). Writes RUN_DIR/config.json, log.csv, loss.svg,\n"
            "samples/epoch_NNN.png, metrics.csv and ckpt/{last,best}.safetensors.\n\n"
            "model:\n"
            "  --preset P         tiny (64 px), small (128), base (128, default)\n"
            "  --size S           image size (power of two, 32..512)\n"
            "  --widths a,b,c,d,e,f  channel widths w1..w6\n"
            "  --latent L         bottleneck size\n"
            "  --batchnorm        batch normalisation after each convolution\n"
            "training:\n"
            "  --batch N          batch size (8)\n"
            "  --epochs N         epochs (20)\n"
            "  --lr X             Adam learning rate (1e-4)\n"
            "  --beta1 X          Adam beta1 (0.5)\n"
            "  --mask M           center (default), rect, free, face, mixed, a PNG, or a folder of\n"
            "                     per-image masks\n"
            "  --augment A        none or framing: random zoom 0.7-1.5, shifts, rotations,\n"
            "                     colour jitter and some grayscale (default: framing with\n"
            "                     --mask face, none otherwise; docs/data.md)\n"
            "  --no-framing-aug   the same as --augment none\n"
            "  --rec-weight X     lambda_rec (0.999)\n"
            "  --adv-weight X     lambda_adv (0.001)\n"
            "  --ctx-weight X     lambda_ctx, weight of the known pixels in L_rec (0.1)\n"
            "  --seed K           seed of initialisation, data order, flips and masks (1)\n"
            "  --max-minutes M    stop (and save) after M minutes\n"
            "  --out RUN_DIR      run folder (default runs/<date>-<time>); one that holds a\n"
            "                     run is refused unless --resume or --overwrite\n"
            "  --overwrite        start over in a run folder that holds a run: its run files\n"
            "                     (config.json, logs, loss.svg, samples, checkpoints) are deleted\n"
            "  --resume CKPT      continue a run from its checkpoint\n"
            "  --device SEL       OpenCL device (P:D or part of its name)\n"
            "  --threads N        image decoding threads (default 2)\n"
            "  --eval-images N    test images evaluated per epoch (default: all)\n"
            "  --max-steps N      stop after N iterations in total (for quick checks)\n\n"
            "Ctrl-C finishes the current iteration, saves, and prints the resume command\n"
            "(exit code 130); a second Ctrl-C quits at once. One process at a time may use a\n"
            "run folder (a lock on RUN_DIR/.lock).\n");
}

static volatile int stop_requested;

int cmd_train(int argc, char **argv)
{
    cp_train_config cfg = cp_train_config_defaults();
    train_cli_state state;
    const char *device = NULL;
    int rc = train_cli_parse(argc, argv, &cfg, &device, &state, usage);
    if (rc >= 0) return rc;
    char out_buf[256];
    if (!cfg.out_dir) {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(out_buf, sizeof out_buf, "runs/%Y%m%d-%H%M%S", &tm);
        if (mkdir("runs", 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "clinpaint train: cannot create folder runs: %s\n", strerror(errno));
            return CLI_EXIT_FAIL;
        }
        cfg.out_dir = out_buf;
    }
    cli_catch_sigint(&stop_requested); /* from here: a kernel build can take a minute */
    cli_warn_cache_dir("train");
    cp_context *ctx;
    cp_status st = cp_context_create(device, &ctx);
    if (st != CP_OK) {
        cli_release_sigint();
        return cli_fail("train", st);
    }
    fprintf(stderr, "clinpaint train: %s on %s, run folder %s\n",
            cfg.resume ? "resuming" : "training", cp_context_device(ctx)->name, cfg.out_dir);
    cfg.stop = &stop_requested;
    train_cli_attach_progress(&cfg, &state, isatty(STDERR_FILENO));
    cp_train_result res;
    st = cp_train(ctx, &cfg, &res);
    train_cli_finish_line(&state);
    cli_release_sigint();
    cp_context_free(ctx);
    return train_cli_report("train", st, &cfg, &res);
}
