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
#include "env_options.h"
#include "clinpaint/clinpaint.h"
#include "clinpaint/dist.h"
#include "clinpaint/train.h"
#include "train_cli.h"
#include "unmask_cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint train --data DIR [options]\n"
            "       clinpaint train --resume RUN_DIR/ckpt/last.safetensors --data DIR [--epochs N]\n\n"
            "       clinpaint train --task detect --data MASKIFIED_DIR (the mask detector; --help)\n\n"
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
            "                     --mask face, none otherwise; docs/data.md); or some of\n"
            "                     its parts joined by '+': geometry, colour, gray\n"
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
            "  --device SEL       OpenCL device (P:D or part of its name); several, separated\n"
            "                     by commas, train one replica each (data parallel, --batch\n"
            "                     is the global batch); under mpirun, rank r takes the\n"
            "                     node-local r-th entry (default: the node's GPU r)\n"
            "  --threads N        image decoding threads (default 2)\n"
            "  --eval-images N    test images evaluated per epoch (default: all)\n"
            "  --max-steps N      stop after N iterations in total (for quick checks)\n\n"
            "Ctrl-C finishes the current iteration, saves, and prints the resume command\n"
            "(exit code 130); a second Ctrl-C quits at once. One process at a time may use a\n"
            "run folder (a lock on RUN_DIR/.lock).\n");
}

static volatile int stop_requested;

#define MAX_DEVICES 64

/* Splits "0:0,0:1" into selectors (in place in buf); returns the count, or
 * 0 when there are too many or one is empty. */
static int split_devices(const char *list, char *buf, size_t size, const char **sel)
{
    snprintf(buf, size, "%s", list);
    int n = 0;
    for (char *p = buf;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (!*p || n == MAX_DEVICES) return 0;
        sel[n++] = p;
        if (!comma) return n;
        p = comma + 1;
    }
}

/* Under MPI without --device: the local rank's GPU among the node's GPUs
 * (rank r on GPU r mod count), so two ranks on one node do not share one;
 * NULL (the default device) without GPUs or with $CLINPAINT_DEVICE set. */
static const char *local_rank_gpu(int local_rank, char *buf, size_t size)
{
    const char *env = getenv("CLINPAINT_DEVICE");
    if (env && *env) return NULL;
    cp_device_info *list;
    int n, gpus = 0;
    if (cp_device_list(&list, &n) != CP_OK) return NULL;
    for (int i = 0; i < n; i++) gpus += (list[i].type & CL_DEVICE_TYPE_GPU) != 0;
    const char *sel = NULL;
    for (int i = 0, g = 0; i < n && gpus > 0; i++) {
        if (!(list[i].type & CL_DEVICE_TYPE_GPU)) continue;
        if (g++ == local_rank % gpus) {
            snprintf(buf, size, "%d:%d", list[i].platform_index, list[i].device_index);
            sel = buf;
            break;
        }
    }
    free(list);
    return sel;
}

/* mpirun passes Ctrl-C to the ranks as SIGTERM: a stop request too, which
 * the replicas agree on at the next step (rank 0 saves). Quiet: every
 * rank gets it. */
static void on_sigterm(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Ends every rank after a failure on one (the library reports, the
 * command decides): a rank waiting for the failed one would hang. */
static int finish_rank(cp_comm *comm, int rc)
{
    if (comm && cp_comm_size(comm) > 1 && rc != CLI_EXIT_OK && rc != CLI_EXIT_INTERRUPTED) {
        fflush(stdout);
        fflush(stderr);
        cp_comm_mpi_abort(comm, rc);
    }
    cp_comm_free(comm);
    return rc;
}

/* --task detect anywhere: the mask detector's trainer. */
static const char *task_of(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--task") == 0) return argv[i + 1];
    return "inpaint";
}

int cmd_train(int argc, char **argv)
{
    const char *task = task_of(argc, argv);
    if (strcmp(task, "detect") == 0) return cmd_train_detect(argc, argv);
    if (strcmp(task, "inpaint") != 0)
        return cli_usage_error("train", "--task '%s': inpaint (the context encoder, default) or "
                                        "detect (the mask detector)", task);
    cp_train_config cfg = cp_train_config_defaults();
    train_cli_state state;
    const char *device = NULL;
    int rc = train_cli_parse(argc, argv, &cfg, &device, &state, usage);
    if (rc >= 0) return rc;
    char dev_buf[1024];
    const char *sel[MAX_DEVICES] = {NULL};
    int ndev = 1;
    if (device && !(ndev = split_devices(device, dev_buf, sizeof dev_buf, sel)))
        return cli_usage_error("train", "--device '%s': one selector, or up to %d separated by "
                                        "commas (P:D or part of a name)", device, MAX_DEVICES);
    /* Under mpirun: one replica per rank, each on the device its local
     * rank picks from --device (or the default device). */
    cp_comm *comm = NULL;
    int local_rank = 0;
    if (env_mpi_launched()) {
        if (!cp_comm_mpi_available()) {
            fprintf(stderr, "clinpaint train: started by an MPI launcher, but this clinpaint was "
                            "built without MPI: every rank would train alone\n");
            return CLI_EXIT_FAIL;
        }
        cp_status st = cp_comm_mpi_create(NULL, NULL, &comm, &local_rank);
        if (st != CP_OK) return cli_fail("train", st);
    }
    const int rank = cp_comm_rank(comm), ranks = cp_comm_size(comm);
    const int replicas = comm ? ranks : ndev;
    if (cfg.batch % replicas != 0 && !cfg.resume) {
        if (rank == 0)
            cli_usage_error("train", "--batch %d is the global batch: it must divide by the %d "
                                     "replicas (%s)", cfg.batch, replicas,
                            comm ? "MPI ranks" : "devices in --device");
        cp_comm_free(comm);
        return CLI_EXIT_USAGE;
    }
    char out_buf[256];
    if (!cfg.out_dir) {
        if (comm && ranks > 1) {
            if (rank == 0) cli_usage_error("train", "with several MPI ranks give the run folder (--out DIR)");
            cp_comm_free(comm);
            return CLI_EXIT_USAGE;
        }
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(out_buf, sizeof out_buf, "runs/%Y%m%d-%H%M%S", &tm);
        if (mkdir("runs", 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "clinpaint train: cannot create folder runs: %s\n", strerror(errno));
            return finish_rank(comm, CLI_EXIT_FAIL);
        }
        cfg.out_dir = out_buf;
    }
    cfg.comm = comm;
    cfg.replica_devices = device;
    cli_catch_sigint(&stop_requested); /* from here: a kernel build can take a minute */
    if (comm) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigterm;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
    }
    if (rank == 0) cli_warn_cache_dir("train");
    cp_context *ctx[MAX_DEVICES] = {NULL};
    int nctx = comm ? 1 : ndev;
    cp_status st = CP_OK;
    char gpu_buf[32];
    if (comm && !device) sel[0] = local_rank_gpu(local_rank, gpu_buf, sizeof gpu_buf);
    for (int i = 0; i < nctx && st == CP_OK; i++)
        st = env_context_create(comm ? sel[local_rank % ndev] : sel[i], &ctx[i]);
    if (st != CP_OK) {
        cli_release_sigint();
        for (int i = 0; i < nctx; i++) cp_context_free(ctx[i]);
        if (ranks > 1) fprintf(stderr, "clinpaint train: rank %d of %d:\n", rank, ranks);
        return finish_rank(comm, cli_fail("train", st));
    }
    if (rank == 0)
        fprintf(stderr, "clinpaint train: %s on %s%s, run folder %s\n",
                cfg.resume ? "resuming" : "training", cp_context_device(ctx[0])->name,
                replicas > 1 ? (comm ? " and the other ranks' devices" : " and the other devices")
                             : "",
                cfg.out_dir);
    if (replicas > 1 && rank == 0)
        fprintf(stderr, "clinpaint train: %d replicas (%s), global batch %d\n", replicas,
                comm ? "MPI ranks" : "devices in this process", cfg.batch);
    cfg.stop = &stop_requested;
    if (rank == 0) train_cli_attach_progress(&cfg, &state, isatty(STDERR_FILENO));
    cp_train_result res;
    st = comm ? cp_train(ctx[0], &cfg, &res) : cp_train_replicas(ctx, nctx, &cfg, &res);
    train_cli_finish_line(&state);
    cli_release_sigint();
    for (int i = 0; i < nctx; i++) cp_context_free(ctx[i]);
    if (rank != 0) { /* rank 0 reports for all; another rank only its own failure */
        if (st == CP_OK || st == CP_ERR_INTERRUPTED) return finish_rank(comm, st == CP_OK ? 0 : 130);
        fprintf(stderr, "clinpaint train: rank %d of %d failed:\n", rank, ranks);
        return finish_rank(comm, cli_fail("train", st));
    }
    return finish_rank(comm, train_cli_report("train", st, &cfg, &res));
}
