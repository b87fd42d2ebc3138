/* clinpaint demo: the whole story on a fresh machine, in about five
 * minutes on a 2-core CPU: synthetic faces, a time-boxed training of the
 * tiny preset with `face` masks (restoring what a medical mask hides), the
 * loss curve and sample grids, and a few test faces inpainted. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "clinpaint/clinpaint.h"
#include "clinpaint/dataset.h"
#include "clinpaint/synth.h"
#include "clinpaint/train.h"
#include "commands.h"
#include "demo_cli.h"
#include "env_options.h"
#include "image_cli.h"
#include "train_cli.h"
#include "unmask_cli.h"

/* Defaults, chosen for a 2-core CPU running PoCL: the tiny preset trains at
 * roughly 3 to 6 images/s there (3.3 measured on a busy machine), so 400
 * faces (about 360 in the training split, 45 batches of 8) make an epoch of
 * one to two minutes, and two or more epochs, each with its samples grid and
 * test metrics, end inside the 5-minute time box. The time box includes the
 * evaluation at the end of each epoch; drawing the faces, starting up and
 * the final inpainting add a few seconds (measured: 4:03 in all with
 * --minutes 4), so the whole demo takes about five minutes. */
#define DEMO_MINUTES 5.0
#define DEMO_COUNT 400
#define DEMO_SIZE 64 /* the tiny preset's S */
#define DEMO_SEED 1
#define DEMO_BATCH 8
#define DEMO_INPAINT 8 /* test faces inpainted at the end */
/* Training and inpainting use `face` masks: the product's story, and the
 * synthetic faces are drawn so that the lower face follows from the upper
 * face (skin, symmetry, mouth width from eye spacing, ...), which is what a
 * model must learn to fill a medical mask's region. */
#define DEMO_MASK "face"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint demo [--minutes M] [--out DIR] [--data DIR] [--count N] [--device SEL]\n"
            "       clinpaint demo --unmask [options]  (the unmask workflow: --unmask --help)\n\n"
            "Start here. On a fresh machine, with no download:\n"
            "  1. draws %d synthetic faces (%dx%d) into OUT/faces (unless --data DIR)\n"
            "  2. trains the tiny preset for M minutes (batch %d, '%s' masks: the region a\n"
            "     medical mask covers) into OUT/run, with progress all along\n"
            "  3. writes the loss curve (OUT/run/loss.svg) and, each epoch, a samples grid\n"
            "     (OUT/run/samples/epoch_NNN.png) and test metrics (OUT/run/metrics.csv)\n"
            "  4. inpaints %d test faces with '%s' masks into OUT/inpainted (side by side)\n"
            "  5. says where everything is and what to try next\n\n"
            "options:\n"
            "  --minutes M   training time box in minutes (default %g: about 5 minutes in all\n"
            "                on a 2-core CPU; more minutes, better faces)\n"
            "  --out DIR     output folder (default demo-out)\n"
            "  --data DIR    train on your own images instead (faces work best: aligned,\n"
            "                e.g. CelebA; any size, centre-cropped and resized to %dx%d)\n"
            "  --count N     synthetic faces to draw (default %d)\n"
            "  --device SEL  OpenCL device (P:D or part of its name)\n\n"
            "Ctrl-C stops training as in 'clinpaint train': the state is saved and the resume\n"
            "command printed.\n",
            DEMO_COUNT, DEMO_SIZE, DEMO_SIZE, DEMO_BATCH, DEMO_MASK, DEMO_INPAINT, DEMO_MASK,
            DEMO_MINUTES, DEMO_SIZE, DEMO_SIZE, DEMO_COUNT);
}

static volatile int stop_requested;

/* Wraps train_cli's display: the run has no fixed number of epochs (the
 * time box ends it), so the epochs shown and the ETA are those of the box. */
typedef struct demo_progress {
    cp_train_config inner; /* train_cli's callbacks and their state; first (demo_forward_*) */
    double box_s;
    uint64_t max_steps;
    int batch;
} demo_progress;

static void wrap_progress(void *user, const cp_train_progress *p)
{
    demo_progress *d = user;
    cp_train_progress q = *p;
    double left = d->box_s - p->elapsed_s;
    if (left < 0) left = 0;
    double per_step = p->images_per_s > 0 ? d->batch / p->images_per_s : 0;
    double steps_in_box = per_step > 0 ? p->step + left / per_step : (double)p->step;
    if (d->max_steps && steps_in_box > (double)d->max_steps) steps_in_box = (double)d->max_steps;
    if (d->max_steps && per_step > 0 && p->step <= d->max_steps) {
        double by_steps = (double)(d->max_steps - p->step) * per_step;
        if (by_steps < left) left = by_steps;
    }
    q.eta_s = left;
    if (p->batches) {
        uint64_t est = (uint64_t)ceil(steps_in_box / (double)p->batches);
        q.epochs = est > p->epoch + 1 ? est : p->epoch + 1;
    }
    d->inner.on_progress(d->inner.user, &q);
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Removes what an earlier demo left in the same places, so that the folder
 * shows this run only: the faces beyond `count` (face_NNNNNN.png, as synth
 * names them) and the run's metrics, samples and checkpoints (train appends
 * to metrics.csv and keeps best.safetensors otherwise). Only files with
 * those exact names are touched. */
static void clean_previous(const char *faces, uint64_t count, const char *run)
{
    DIR *d = faces ? opendir(faces) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        unsigned long long idx;
        char tail[8];
        if (strlen(e->d_name) == 15 && sscanf(e->d_name, "face_%6llu.%4s", &idx, tail) == 2 &&
            strcmp(tail, "png") == 0 && idx >= count) {
            char *p = cp_path_join(faces, e->d_name);
            if (p) unlink(p);
            free(p);
        }
    }
    if (d) closedir(d);
    /* The run folder is cleared by cp_train (overwrite), under its lock. */
    char *config = cp_path_join(run, "config.json");
    if (config && exists(config))
        fprintf(stderr, "clinpaint demo: note: replacing the previous demo run in %s\n", run);
    free(config);
}

/* Up to `max` image paths for the final inpainting: the test split (faces
 * the model never trained on), else any. */
static int pick_faces(const char *data, int max, char **paths)
{
    cp_dataset *ds = NULL;
    if (cp_dataset_open(data, CP_SPLIT_TEST, &ds) != CP_OK && cp_dataset_open(data, CP_SPLIT_ALL, &ds) != CP_OK)
        return 0;
    int n = 0;
    for (size_t i = 0; i < cp_dataset_count(ds) && n < max; i++) {
        char *p = cp_path_join(data, cp_dataset_relpath(ds, i));
        if (p) paths[n++] = p;
    }
    cp_dataset_free(ds);
    return n;
}

static void fmt_minutes(double s, char *buf, size_t size)
{
    long t = (long)(s + 0.5);
    snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

int cmd_demo(int argc, char **argv)
{
    const char *cmd = "demo";
    demo_options o = {.out = "demo-out", .minutes = DEMO_MINUTES, .count = DEMO_COUNT};
    for (int i = 1; i < argc; i++) /* the unmask workflow: cmd_demo_unmask.c */
        if (strcmp(argv[i], "--unmask") == 0) return cmd_demo_unmask(argc, argv);
    int parsed = demo_parse_options(cmd, argc, argv, false, usage, &o);
    if (parsed >= 0) return parsed;
    const char *out = o.out, *data = o.data, *device = o.device;
    const double minutes = o.minutes;
    const long count = o.count;
    const uint64_t max_steps = o.max_steps;
    const double t0 = cp_seconds();
    char *faces = cp_path_join(out, "faces"), *run = cp_path_join(out, "run"), *inpainted = cp_path_join(out, "inpainted");
    char *overview = inpainted ? cp_path_join(inpainted, "overview.png") : NULL;
    char *paths[DEMO_INPAINT] = {0};
    int rc = CLI_EXIT_FAIL, n_paths = 0;
    cp_context *ctx = NULL;
    cp_status st = faces && run && inpainted && overview
                       ? ic_mkdirs(out)
                       : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st != CP_OK) goto fail;
    clean_previous(data ? NULL : faces, (uint64_t)count, run);

    /* 1. data */
    if (!data) {
        fprintf(stderr, "[1/4] drawing %ld synthetic faces (%dx%d, seed %d) into %s\n", count, DEMO_SIZE,
                DEMO_SIZE, DEMO_SEED, faces);
        if ((st = cp_synth_write_dataset(faces, (uint64_t)count, DEMO_SIZE, DEMO_SEED)) != CP_OK) goto fail;
        data = faces;
    } else {
        fprintf(stderr, "[1/4] using your images in %s\n", data);
    }

    /* 2. + 3. training, figures each epoch */
    cli_catch_sigint(&stop_requested); /* from here: a kernel build can take a minute */
    cli_warn_cache_dir(cmd);
    if ((st = env_context_create(device, &ctx)) != CP_OK) goto fail;
    cp_train_config cfg = cp_train_config_defaults();
    cp_model_config_preset("tiny", &cfg.model);
    cfg.data_dir = data;
    cfg.out_dir = run;
    cfg.mask_spec = DEMO_MASK;
    cfg.batch = DEMO_BATCH;
    cfg.epochs = 1000000; /* the time box ends the run */
    cfg.seed = DEMO_SEED;
    cfg.max_minutes = minutes;
    cfg.max_steps = max_steps;
    cfg.overwrite = true; /* the demo's own folder: each demo starts over */
    fprintf(stderr,
            "[2/4] training the tiny preset (%dx%d, batch %d, '%s' masks) for %g minute%s on %s\n"
            "      run folder %s: loss.svg, samples/epoch_NNN.png and metrics.csv after each epoch\n",
            DEMO_SIZE, DEMO_SIZE, DEMO_BATCH, DEMO_MASK, minutes, minutes == 1 ? "" : "s",
            cp_context_device(ctx)->name, run);
    train_cli_state state;
    memset(&state, 0, sizeof state);
    demo_progress dp;
    memset(&dp, 0, sizeof dp);
    train_cli_attach_progress(&dp.inner, &state, isatty(STDERR_FILENO));
    dp.box_s = minutes * 60;
    dp.max_steps = max_steps;
    dp.batch = DEMO_BATCH;
    cfg.user = &dp;
    cfg.on_progress = wrap_progress;
    cfg.on_epoch = demo_forward_epoch; /* demo_progress starts with inner */
    cfg.on_message = demo_forward_message;
    cfg.stop = &stop_requested;
    cp_train_result res;
    st = cp_train(ctx, &cfg, &res);
    train_cli_finish_line(&state);
    cli_release_sigint();
    rc = train_cli_report(cmd, st, &cfg, &res);
    fflush(stdout);
    if (rc != CLI_EXIT_OK) goto done; /* interrupted (resume command printed) or failed */

    /* 4. inpaint a few test faces */
    n_paths = pick_faces(data, DEMO_INPAINT, paths);
    fprintf(stderr, "[3/4] inpainting %d test face%s with '%s' masks into %s\n", n_paths,
            n_paths == 1 ? "" : "s", DEMO_MASK, inpainted);
    ic_inpaint_job job = {.cmd = cmd,
                          .model_path = res.last_checkpoint,
                          .mask_spec = DEMO_MASK,
                          .out_dir = inpainted,
                          .inputs = (const char *const *)paths,
                          .input_count = n_paths,
                          .batch = DEMO_BATCH,
                          .seed = DEMO_SEED,
                          .side_by_side = true,
                          .quiet = true,
                          .grid_path = overview,
                          .grid_max = DEMO_INPAINT};
    ic_inpaint_result ir = {0};
    rc = n_paths ? ic_inpaint(&job, ctx, NULL, &ir) : CLI_EXIT_FAIL;
    if (rc != CLI_EXIT_OK) goto done;

    /* 5. where everything is */
    char took[32], samples[1200] = "";
    fmt_minutes(cp_seconds() - t0, took, sizeof took);
    snprintf(samples, sizeof samples, "%s/samples/step_%06llu.png", run, (unsigned long long)res.step);
    for (uint64_t e = res.epoch; e >= 1 && !exists(samples); e--) {
        snprintf(samples, sizeof samples, "%s/samples/epoch_%03llu.png", run, (unsigned long long)e);
        if (exists(samples)) break;
        samples[0] = '\0';
    }
    printf("\n[4/4] demo done in %s (%llu training steps, %llu epoch%s, %.1f images/s)\n", took,
           (unsigned long long)res.step, (unsigned long long)res.epoch, res.epoch == 1 ? "" : "s",
           res.images_per_s);
    printf("  data         %s\n", data);
    printf("  loss curve   %s/loss.svg\n", run);
    if (samples[0])
        printf("  samples      %s (rows: masked | output | ground truth)\n", samples);
    else
        printf("  samples      none yet: no epoch ended in the time box (try --minutes %g)\n", minutes * 2);
    printf("  metrics      %s/metrics.csv, log.csv, config.json\n", run);
    printf("  checkpoint   %s\n", res.last_checkpoint);
    printf("  inpainted    %s/ (%zu faces: NAME.png, NAME_full.png, NAME_sbs.png = input | masked |\n"
           "               result), overview %s\n",
           inpainted, ir.done, overview);
    printf("\nnext:\n"
           "  train longer:      clinpaint train --resume %s --data %s\n"
           "  your own photos:   clinpaint train --data DIR --preset small --mask face\n"
           "                     (aligned face crops work best, e.g. CelebA's img_align_celeba)\n"
           "  measure:           clinpaint eval --model %s --data %s --mask face\n"
           "  inpaint a photo:   clinpaint inpaint --model %s --mask face --side-by-side PHOTO.jpg -o out\n",
           res.last_checkpoint, data, res.last_checkpoint, data, res.last_checkpoint);
    rc = CLI_EXIT_OK;
    goto done;
fail:
    rc = cli_fail(cmd, st);
done:
    cli_release_sigint();
    for (int i = 0; i < n_paths; i++) free(paths[i]);
    cp_context_free(ctx);
    free(faces);
    free(run);
    free(inpainted);
    free(overview);
    return rc;
}
