/* clinpaint demo --unmask: the unmask chain end to end on synthetic faces
 * in about five minutes on a 2-core CPU: faces, maskify, the context
 * encoder on the maskified faces' own masks, the detector, unmask, and the
 * numbers of eval --task unmask on the test faces. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "demo_cli.h"
#include "clinpaint/clinpaint.h"
#include "clinpaint/checkpoint.h"
#include "clinpaint/dataset.h"
#include "clinpaint/maskify.h"
#include "clinpaint/synth.h"
#include "clinpaint/train.h"
#include "clinpaint/unmask.h"
#include "image_cli.h"
#include "train_cli.h"
#include "unmask_cli.h"
#include "env_options.h"

/* The context encoder (tiny, ~3-6 images/s on a 2-core CPU) gets most of
 * the box; the detector (tiny, ~100 images/s) learns the synthetic masks
 * in about a minute. */
#define DEMO_MINUTES 5.0
#define DEMO_DETECTOR_SHARE 0.2
#define DEMO_COUNT 400
#define DEMO_SIZE 64
#define DEMO_SEED 1
#define DEMO_SHOWN 6 /* test faces unmasked at the end, plus one without a mask */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint demo --unmask [--minutes M] [--out DIR] [--count N] [--device SEL]\n\n"
            "The unmask workflow on synthetic faces, with no download:\n"
            "  1. draws %d synthetic faces (%dx%d) and masks them (clinpaint maskify) into\n"
            "     OUT/maskified/{masked,mask,original}\n"
            "  2. trains the context encoder (tiny) on the original faces with the drawn\n"
            "     masks as holes, into OUT/run_inpaint (%.0f%% of M minutes)\n"
            "  3. trains the mask detector (tiny) on the masked faces, into OUT/run_detect\n"
            "  4. unmasks %d test faces and one face without a mask into OUT/unmasked\n"
            "     (NAME_sbs.png: input | detected mask | result)\n"
            "  5. measures the chain on the test faces: detected vs true masks vs the\n"
            "     mean-colour fill (as clinpaint eval --task unmask)\n\n"
            "options:\n"
            "  --minutes M   training time in all (default %g)\n"
            "  --out DIR     output folder (default demo-unmask)\n"
            "  --count N     synthetic faces (default %d)\n"
            "  --device SEL  OpenCL device (P:D or part of its name)\n",
            DEMO_COUNT, DEMO_SIZE, DEMO_SIZE, 100 * (1 - DEMO_DETECTOR_SHARE), DEMO_SHOWN,
            DEMO_MINUTES, DEMO_COUNT);
}

static volatile int stop_requested;

/* Both trainings are time-boxed (no fixed epoch count): the progress shows
 * the epoch reached and the time left in the box as the ETA. */
typedef struct boxed {
    cp_train_config inner;     /* train_cli's callbacks and their state; first (demo_forward_*) */
    cp_detect_train_config dinner;
    double box_s;
} boxed;

static void ce_progress(void *user, const cp_train_progress *p)
{
    boxed *b = user;
    cp_train_progress q = *p;
    q.epochs = p->epoch + 1;
    q.eta_s = b->box_s > p->elapsed_s ? b->box_s - p->elapsed_s : 0;
    b->inner.on_progress(b->inner.user, &q);
}

static void det_progress(void *user, const cp_detect_progress *p)
{
    boxed *b = user;
    cp_detect_progress q = *p;
    q.epochs = p->epoch + 1;
    q.eta_s = b->box_s > p->elapsed_s ? b->box_s - p->elapsed_s : 0;
    b->dinner.on_progress(b->dinner.user, &q);
}

static void det_epoch(void *user, const cp_detect_metrics *m)
{
    boxed *b = user;
    b->dinner.on_epoch(b->dinner.user, m);
}

static void det_message(void *user, const char *text)
{
    boxed *b = user;
    b->dinner.on_message(b->dinner.user, text);
}

/* The first `max` test faces of dir/masked, and one original. */
static int pick(const char *mk, char **paths, int max)
{
    char *masked = cp_path_join(mk, "masked"), *orig = cp_path_join(mk, "original");
    cp_dataset *ds = NULL;
    int n = 0;
    if (masked && orig && cp_dataset_open(masked, CP_SPLIT_TEST, &ds) == CP_OK) {
        for (size_t i = 0; i < cp_dataset_count(ds) && n < max; i++)
            paths[n++] = cp_path_join(masked, cp_dataset_relpath(ds, i));
        if (n > 0) paths[n++] = cp_path_join(orig, cp_dataset_relpath(ds, 0));
    }
    cp_dataset_free(ds);
    free(masked);
    free(orig);
    for (int i = 0; i < n; i++)
        if (!paths[i]) return i;
    return n;
}

int cmd_demo_unmask(int argc, char **argv)
{
    const char *cmd = "demo";
    demo_options o = {.out = "demo-unmask", .minutes = DEMO_MINUTES, .count = DEMO_COUNT};
    int parsed = demo_parse_options(cmd, argc, argv, true, usage, &o);
    if (parsed >= 0) return parsed;
    const char *out = o.out, *device = o.device;
    const double minutes = o.minutes;
    const long count = o.count;
    const uint64_t max_steps = o.max_steps;
    const double t0 = cp_seconds();
    char *faces = cp_path_join(out, "faces"), *mk = cp_path_join(out, "maskified"), *run_ce = cp_path_join(out, "run_inpaint");
    char *run_det = cp_path_join(out, "run_detect"), *unmasked = cp_path_join(out, "unmasked");
    char *orig = mk ? cp_path_join(mk, "original") : NULL, *masks = mk ? cp_path_join(mk, "mask") : NULL;
    char *paths[DEMO_SHOWN + 1] = {0};
    int rc = CLI_EXIT_FAIL, n_paths = 0;
    cp_context *ctx = NULL;
    cp_detector *det = NULL;
    cp_checkpoint *ck = NULL;
    cp_model *model = NULL;
    cp_inpainter *ip = NULL;
    cp_status st = faces && mk && run_ce && run_det && unmasked && orig && masks
                       ? ic_mkdirs(out)
                       : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st != CP_OK) goto fail;

    fprintf(stderr, "[1/5] drawing %ld synthetic faces (%dx%d) and masking them into %s\n", count,
            DEMO_SIZE, DEMO_SIZE, mk);
    if ((st = cp_synth_write_dataset(faces, (uint64_t)count, DEMO_SIZE, DEMO_SEED)) != CP_OK) goto fail;
    cp_maskify_options mo = cp_maskify_defaults();
    mo.size = DEMO_SIZE;
    mo.seed = DEMO_SEED;
    cp_maskify_result mr;
    if ((st = cp_maskify_folder(faces, mk, &mo, &mr)) != CP_OK) goto fail;

    cli_catch_sigint(&stop_requested);
    cli_warn_cache_dir(cmd);
    if ((st = env_context_create(device, &ctx)) != CP_OK) goto fail;
    cp_train_config cfg = cp_train_config_defaults();
    cp_model_config_preset("tiny", &cfg.model);
    cfg.data_dir = orig;
    cfg.out_dir = run_ce;
    cfg.mask_spec = masks; /* the drawn masks: the holes unmask will fill */
    cfg.augment = CP_AUGMENT_NONE;
    cfg.batch = 8;
    cfg.epochs = 1000000;
    cfg.seed = DEMO_SEED;
    cfg.max_minutes = minutes * (1 - DEMO_DETECTOR_SHARE);
    cfg.max_steps = max_steps;
    cfg.overwrite = true;
    cfg.stop = &stop_requested;
    fprintf(stderr, "[2/5] training the context encoder (tiny, the drawn masks as holes) for %.1f "
                    "minutes into %s\n",
            cfg.max_minutes, run_ce);
    train_cli_state state;
    memset(&state, 0, sizeof state);
    boxed box;
    memset(&box, 0, sizeof box);
    train_cli_attach_progress(&box.inner, &state, isatty(STDERR_FILENO));
    box.box_s = cfg.max_minutes * 60;
    cfg.user = &box;
    cfg.on_progress = ce_progress;
    cfg.on_epoch = demo_forward_epoch; /* boxed starts with inner */
    cfg.on_message = demo_forward_message;
    cp_train_result res;
    st = cp_train(ctx, &cfg, &res);
    train_cli_finish_line(&state);
    if (st != CP_OK) {
        cli_release_sigint();
        rc = train_cli_report(cmd, st, &cfg, &res);
        goto done;
    }

    cp_detect_train_config dc = cp_detect_train_config_defaults();
    dc.data_dir = mk;
    dc.out_dir = run_det;
    dc.epochs = 1000000;
    dc.seed = DEMO_SEED;
    dc.max_minutes = minutes * DEMO_DETECTOR_SHARE;
    dc.max_steps = max_steps;
    dc.overwrite = true;
    dc.stop = &stop_requested;
    fprintf(stderr, "[3/5] training the mask detector (tiny) for %.1f minutes into %s\n",
            dc.max_minutes, run_det);
    detect_progress dp;
    detect_progress_attach(&box.dinner, &dp, isatty(STDERR_FILENO));
    box.box_s = dc.max_minutes * 60;
    dc.user = &box;
    dc.on_progress = det_progress;
    dc.on_epoch = det_epoch;
    dc.on_message = det_message;
    cp_detect_result dres;
    st = cp_detect_train(ctx, &dc, &dres);
    detect_progress_finish_line(&dp);
    cli_release_sigint();
    if (st == CP_ERR_INTERRUPTED || (st != CP_OK && stop_requested)) {
        fprintf(stderr, "clinpaint demo: interrupted; saved %s\n", dres.last_checkpoint);
        rc = CLI_EXIT_INTERRUPTED;
        goto done;
    }
    if (st != CP_OK) goto fail;

    n_paths = pick(mk, paths, DEMO_SHOWN);
    fprintf(stderr, "[4/5] unmasking %d test faces (and one without a mask) into %s\n",
            n_paths > 0 ? n_paths - 1 : 0, unmasked);
    unmask_job uj = {.cmd = cmd, .detector = dres.last_checkpoint, .model = res.last_checkpoint,
                     .out_dir = unmasked, .threshold = 0.5f, .dilate = -1, .batch = 8,
                     .show_mask = true};
    rc = n_paths ? unmask_run(&uj, (const char *const *)paths, n_paths, ctx, NULL) : CLI_EXIT_FAIL;
    if (rc != CLI_EXIT_OK) goto done;

    fprintf(stderr, "[5/5] measuring the chain on the test faces\n");
    cp_unmask_eval ev;
    if ((st = cp_detector_load(ctx, dres.last_checkpoint, false, &det)) != CP_OK) goto fail;
    if ((st = cp_checkpoint_open(res.last_checkpoint, &ck)) != CP_OK) goto fail;
    if ((st = cp_checkpoint_load_model(ck, ctx, false, &model)) != CP_OK) goto fail;
    if ((st = cp_inpainter_create(model, 8, false, 0.0f, &ip)) != CP_OK) goto fail;
    if ((st = cp_unmask_evaluate(det, ip, DEMO_SIZE, mk, CP_SPLIT_TEST, 0.5f,
                                  cp_unmask_default_dilation(DEMO_SIZE), 0, &ev)) != CP_OK)
        goto fail;
    printf("\ndemo --unmask done in %.1f minutes\n", (cp_seconds() - t0) / 60);
    printf("  maskified faces  %s (masked/, mask/, original/)\n", mk);
    printf("  context encoder  %s (%llu steps)\n", res.last_checkpoint, (unsigned long long)res.step);
    printf("  detector         %s (%llu steps; samples in %s/samples)\n", dres.last_checkpoint,
           (unsigned long long)dres.step, run_det);
    printf("  unmasked         %s/ (NAME_full.png; NAME_sbs.png = input | detected mask | result)\n",
           unmasked);
    printf("\non %llu test faces, against the faces before masking (hole = the drawn mask):\n",
           (unsigned long long)ev.images);
    printf("  %-16s %14s %14s %16s\n", "", "detected mask", "true mask", "mean-fill floor");
    printf("  %-16s %14.2f %14.2f %16.2f\n", "hole PSNR (dB)", ev.detected.hole_psnr,
           ev.oracle.hole_psnr, ev.floor.hole_psnr);
    printf("  %-16s %14.2f %14.2f %16.2f\n", "PSNR (dB)", ev.detected.psnr, ev.oracle.psnr,
           ev.floor.psnr);
    printf("  %-16s %14.4f %14.4f %16.4f\n", "SSIM", ev.detected.ssim, ev.oracle.ssim, ev.floor.ssim);
    printf("  detected hole: IoU %.3f, Dice %.3f against the drawn masks\n", ev.detection.iou,
           ev.detection.dice);
    printf("\nnext:\n"
           "  your faces:  clinpaint maskify --data FACES --out MK\n"
           "               clinpaint train --data FACES --preset small --mask face\n"
           "               clinpaint train --task detect --data MK\n"
           "  unmask:      clinpaint unmask --detector %s --model %s --show-mask PHOTO.jpg -o out\n",
           dres.last_checkpoint, res.last_checkpoint);
    rc = CLI_EXIT_OK;
    goto done;
fail:
    rc = cli_fail(cmd, st);
done:
    cli_release_sigint();
    for (int i = 0; i < n_paths; i++) free(paths[i]);
    cp_inpainter_free(ip);
    cp_model_free(model);
    cp_checkpoint_close(ck);
    cp_detector_free(det);
    cp_context_free(ctx);
    free(faces);
    free(mk);
    free(run_ce);
    free(run_det);
    free(unmasked);
    free(orig);
    free(masks);
    return rc;
}
