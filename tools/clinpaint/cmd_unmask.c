/* clinpaint unmask: find the medical mask on a face with the detector, then
 * let the context encoder restore what it hides, pasted back into the photo
 * at its own resolution. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_inputs.h"
#include "cli_util.h"
#include "clinpaint/checkpoint.h"
#include "clinpaint/clinpaint.h"
#include "clinpaint/image.h"
#include "clinpaint/inpaint.h"
#include "clinpaint/unmask.h"
#include "commands.h"
#include "env_options.h"
#include "image_cli.h"
#include "unmask_cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint unmask --detector DET --model CE [options] INPUT... -o OUT_DIR\n\n"
            "Restores masked faces: the detector (clinpaint train --task detect) finds the\n"
            "pixels a medical mask covers, they are thresholded and dilated, and the context\n"
            "encoder (clinpaint train, best trained with --mask face) fills them. INPUT is a\n"
            "face crop (image file of any size, or a folder of them), centre-cropped to a\n"
            "square as in training (or cropped around --face). A grayscale photo gets a\n"
            "grayscale fill; when the crop is far larger than the model, the line says the\n"
            "fill is upscaled. For each input NAME.ext it writes:\n"
            "  OUT_DIR/NAME_full.png  the photo at its own size with only the detected hole\n"
            "                         replaced (and a feather around it); every other pixel\n"
            "                         is identical to the input\n"
            "  OUT_DIR/NAME.png       the result at the context encoder's size S\n"
            "  OUT_DIR/NAME_sbs.png   with --show-mask: input | detected mask (red) | result\n"
            "A face on which the detector finds no mask is written unchanged, and the line\n"
            "for it says so. Inputs, models and detector are never written over (nothing is\n"
            "written, exit code 1); files are written atomically.\n\n"
            "options:\n"
            "  --detector DET     a detector checkpoint (clinpaint train --task detect)\n"
            "  --model CE         a context-encoder checkpoint (clinpaint train)\n"
            "  --threshold T      mask probability from which a pixel is hole (0.5)\n"
            "  --dilate PX        grow the detected mask by PX pixels of the S x S image\n"
            "                     (default: 1 per 64 px of S, so 1 at 64, 2 at 128)\n"
            "  --face X,Y,W,H     the face box in the photo (pixels; inside the photo): the\n"
            "                     crop is the square around it that frames the face as\n"
            "                     training crops do (side 1.75 x max(W, H), box centre at\n"
            "                     0.5, 0.54 of it; outside the photo reflected) instead\n"
            "                     of the centre square; one box for every INPUT\n"
            "  --show-mask        also write NAME_sbs.png\n"
            "  --batch N          images per run (default 8)\n"
            "  --device SEL       OpenCL device (P:D or part of its name)\n"
            "  -o, --out OUT_DIR  output folder (created when missing; required)\n");
}

typedef unmask_job job;

/* ---- never writing over an input ---- */

static bool same_file(const char *a, const struct stat *b)
{
    struct stat sa;
    return a && stat(a, &sa) == 0 && sa.st_dev == b->st_dev && sa.st_ino == b->st_ino;
}

/* CP_ERR_IO (nothing written) when an output file would be an input, the
 * model or the detector. */
static cp_status check_outputs(const job *j, const ic_inputs *in)
{
    static const char *const suffixes[3] = {"", "_full", "_sbs"};
    for (size_t i = 0; i < in->n; i++)
        for (int k = 0; k < 3; k++) {
            char out[4096];
            snprintf(out, sizeof out, "%s/%s%s.png", j->out_dir, in->v[i].name, suffixes[k]);
            struct stat so;
            if (stat(out, &so) != 0) continue;
            const char *hit = same_file(j->model, &so) ? j->model
                              : same_file(j->detector, &so) ? j->detector
                                                            : NULL;
            for (size_t q = 0; q < in->n && !hit; q++)
                if (same_file(in->v[q].path, &so)) hit = in->v[q].path;
            if (hit)
                return cp_set_error(CP_ERR_IO,
                                    "refusing to write %s: it is %s, and unmask never writes over "
                                    "its inputs or models (nothing was written; choose another -o "
                                    "folder)",
                                    out, hit);
        }
    return CP_OK;
}

/* ---- the engine ---- */

#define TRY(expr)                          \
    do {                                   \
        cp_status try_st_ = (expr);        \
        if (try_st_ != CP_OK) return try_st_; \
    } while (0)

typedef struct engine {
    const job *j;
    cp_detector *det;
    cp_detector_graph inf;
    cp_inpainter *ip;
    int S, D, batch;
    int dilate; /* the job's, or the default for S */
    float *xs, *xd, *prob, *m, *y;
    uint8_t *rgb;
    cp_image *orig;
    ic_crop *box;
    size_t *which, *holes;
    bool *gray; /* grayscale photos: grayscale fill */
    float *peak; /* highest probability per image */
} engine;

static void engine_free(engine *e)
{
    if (e->orig)
        for (int i = 0; i < e->batch; i++) cp_image_free(&e->orig[i]);
    free(e->orig);
    free(e->box);
    free(e->gray);
    free(e->which);
    free(e->holes);
    free(e->peak);
    free(e->xs);
    free(e->xd);
    free(e->prob);
    free(e->m);
    free(e->y);
    free(e->rgb);
    cp_inpainter_free(e->ip);
    cp_detector_graph_free(&e->inf);
}

static char *out_path(const engine *e, const char *name, const char *suffix)
{
    size_t n = strlen(e->j->out_dir) + strlen(name) + strlen(suffix) + 8;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s%s.png", e->j->out_dir, name, suffix);
    return p;
}

/* The input crop with the hole tinted red (for --show-mask). */
static void tint(const float *x, const float *m, int S, float *out)
{
    size_t px = (size_t)S * S;
    static const float red[3] = {1.0f, -1.0f, -1.0f};
    for (int c = 0; c < 3; c++)
        for (size_t p = 0; p < px; p++)
            out[c * px + p] = m[p] >= 0.5f ? 0.45f * x[c * px + p] + 0.55f * red[c] : x[c * px + p];
}

static cp_status write_outputs(engine *e, int i, const ic_input *in)
{
    const int S = e->S;
    const size_t px = (size_t)S * S;
    const float *xi = e->xs + (size_t)i * 3 * px, *mi = e->m + (size_t)i * px;
    const float *yi = e->holes[i] ? e->y + (size_t)i * 3 * px : xi;
    char *p_res = out_path(e, in->name, ""), *p_full = out_path(e, in->name, "_full");
    char *p_sbs = e->j->show_mask ? out_path(e, in->name, "_sbs") : NULL;
    float *overlay = e->j->show_mask ? malloc(sizeof *overlay * 3 * px) : NULL;
    cp_status st = p_res && p_full && (!e->j->show_mask || (p_sbs && overlay))
                       ? CP_OK
                       : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    cp_image img = {0}, full = {0}, sbs = {0};
    size_t holes = 0;
    if (st == CP_OK) st = cp_chw_to_image(yi, S, S, &img);
    if (st == CP_OK) st = cp_image_write_png(p_res, &img);
    /* No hole: the photo itself, pixel for pixel. */
    if (st == CP_OK && e->holes[i])
        st = ic_paste_full(&e->orig[i], yi, mi, S, e->box[i], ic_feather_width(e->box[i].s, S),
                           &full, &holes);
    if (st == CP_OK) st = cp_image_write_png(p_full, e->holes[i] ? &full : &e->orig[i]);
    if (st == CP_OK && p_sbs) {
        tint(xi, mi, S, overlay);
        const float *cells[3] = {xi, overlay, yi};
        st = cp_image_grid(cells, 3, 3, S, 2, 255, &sbs);
        if (st == CP_OK) st = cp_image_write_png(p_sbs, &sbs);
    }
    if (st == CP_OK) {
        if (e->holes[i]) {
            printf("%s -> %s (%dx%d, %zu hole pixels, %zu at %dx%d), %s%s%s", in->path, p_full,
                   e->orig[i].w, e->orig[i].h, holes, e->holes[i], S, S, p_res,
                   p_sbs ? ", " : "", p_sbs ? p_sbs : "");
            ic_print_crop_notes(e->box[i], e->j->have_face, e->gray[i], S);
            printf("\n");
        } else
            printf("%s -> %s: no mask found (highest mask probability %.2f, threshold %.2f): "
                   "written unchanged\n",
                   in->path, p_full, (double)e->peak[i], (double)e->j->threshold);
    }
    cp_image_free(&img);
    cp_image_free(&full);
    cp_image_free(&sbs);
    free(overlay);
    free(p_res);
    free(p_full);
    free(p_sbs);
    return st;
}

static cp_status run_all(engine *e, const ic_inputs *in, size_t *done, size_t *skipped,
                         size_t *unchanged)
{
    const int S = e->S, D = e->D;
    const size_t px = (size_t)S * S, dpx = (size_t)D * D;
    size_t next = 0;
    while (next < in->n) {
        int n = 0;
        while (n < e->batch && next < in->n) {
            size_t k = next++;
            cp_status st = cp_image_load(in->v[k].path, &e->orig[n]);
            if (st == CP_OK) {
                st = ic_photo_crop(&e->orig[n], in->v[k].path, e->j->have_face ? e->j->face_box : NULL,
                                   &e->box[n]);
                if (st != CP_OK) { /* the same box for every input: no use going on */
                    cp_image_free(&e->orig[n]);
                    return st;
                }
                e->gray[n] = ic_is_grayscale(&e->orig[n]);
                st = ic_crop_resize(&e->orig[n], e->box[n], S, e->rgb);
                if (st == CP_OK) cp_rgb_to_chw(e->rgb, S, 0, e->xs + (size_t)n * 3 * px);
                /* The detector sees the crop at its own size, resized from the photo. */
                if (st == CP_OK) st = ic_crop_resize(&e->orig[n], e->box[n], D, e->rgb);
                if (st == CP_OK) cp_rgb_to_chw(e->rgb, D, 0, e->xd + (size_t)n * 3 * dpx);
            }
            if (st != CP_OK) {
                if (st == CP_ERR_OUT_OF_HOST_MEMORY) return st;
                fprintf(stderr, "clinpaint %s: warning: %s; skipped\n", e->j->cmd, cp_last_error());
                cp_image_free(&e->orig[n]);
                (*skipped)++;
                continue;
            }
            e->which[n++] = k;
        }
        if (n == 0) break;
        TRY(cp_detector_predict(e->det, &e->inf, e->xd, n, e->prob));
        bool any = false;
        for (int i = 0; i < n; i++) {
            const float *p = e->prob + (size_t)i * dpx;
            e->peak[i] = 0;
            for (size_t q = 0; q < dpx; q++)
                if (p[q] > e->peak[i]) e->peak[i] = p[q];
            TRY(cp_unmask_hole(p, D, S, e->j->threshold, e->dilate, e->m + (size_t)i * px,
                                  &e->holes[i]));
            any = any || e->holes[i] > 0;
        }
        /* A last partial batch gets the inpainter's graph of its own size. */
        if (any) TRY(cp_inpainter_run(e->ip, n, e->xs, e->m, e->y, NULL, NULL));
        for (int i = 0; i < n; i++)
            if (e->holes[i] && e->gray[i]) ic_chw_to_gray(e->y + (size_t)i * 3 * px, S);
        for (int i = 0; i < n; i++) {
            cp_status st = write_outputs(e, i, &in->v[e->which[i]]);
            *unchanged += e->holes[i] == 0;
            cp_image_free(&e->orig[i]);
            if (st != CP_OK) return st;
            (*done)++;
        }
        fflush(stdout);
    }
    return CP_OK;
}

int unmask_run(const job *j, const char *const *inputs, int input_count, cp_context *ctx,
               const char *device)
{
    const char *cmd = j->cmd;
    engine e;
    memset(&e, 0, sizeof e);
    e.j = j;
    cp_checkpoint *ck = NULL;
    cp_model *model = NULL;
    bool own_ctx = false;
    ic_inputs in = {0};
    size_t missing = 0, done = 0, skipped = 0, unchanged = 0;
    int rc = CLI_EXIT_OK;
    cp_status st = cp_checkpoint_open(j->model, &ck);
    if (st == CP_OK) st = ic_collect_inputs(inputs, input_count, &in, &missing);
    if (st != CP_OK) goto fail;
    if (in.n == 0) {
        fprintf(stderr, "clinpaint %s: error: no input image (%zu input%s skipped)\n", cmd, missing,
                missing == 1 ? "" : "s");
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    if ((st = check_outputs(j, &in)) != CP_OK) goto fail;
    if (!ctx) {
        cli_warn_cache_dir(cmd);
        if ((st = env_context_create(device, &ctx)) != CP_OK) goto fail;
        own_ctx = true;
    }
    if ((st = cp_detector_load(ctx, j->detector, false, &e.det)) != CP_OK) goto fail;
    if ((st = cp_checkpoint_load_model(ck, ctx, false, &model)) != CP_OK) goto fail;
    if ((st = ic_mkdirs(j->out_dir)) != CP_OK) goto fail;
    e.S = model->cfg.size;
    e.D = e.det->cfg.size;
    e.dilate = j->dilate < 0 ? cp_unmask_default_dilation(e.S) : j->dilate;
    e.batch = (size_t)j->batch > in.n ? (int)in.n : j->batch;
    fprintf(stderr, "clinpaint %s: %zu image%s, detector %s (%dx%d), context encoder %s (%dx%d), on %s\n",
            cmd, in.n, in.n == 1 ? "" : "s", j->detector, e.D, e.D, j->model, e.S, e.S,
            cp_context_device(ctx)->name);
    if ((st = cp_detector_build_infer(e.det, e.batch, &e.inf)) != CP_OK) goto fail;
    cp_plan_options po = cp_plan_defaults();
    if ((st = cp_graph_plan(e.inf.graph, &po)) != CP_OK) goto fail;
    if ((st = cp_inpainter_create(model, e.batch, false, 0.0f, &e.ip)) != CP_OK) goto fail;
    const size_t nb = (size_t)e.batch, px = (size_t)e.S * e.S, dpx = (size_t)e.D * e.D;
    e.xs = malloc(sizeof *e.xs * nb * 3 * px);
    e.xd = malloc(sizeof *e.xd * nb * 3 * dpx);
    e.prob = malloc(sizeof *e.prob * nb * dpx);
    e.m = malloc(sizeof *e.m * nb * px);
    e.y = malloc(sizeof *e.y * nb * 3 * px);
    e.rgb = malloc(3 * (px > dpx ? px : dpx));
    e.orig = calloc(nb, sizeof *e.orig);
    e.box = calloc(nb, sizeof *e.box);
    e.gray = calloc(nb, sizeof *e.gray);
    e.which = calloc(nb, sizeof *e.which);
    e.holes = calloc(nb, sizeof *e.holes);
    e.peak = calloc(nb, sizeof *e.peak);
    if (!e.xs || !e.xd || !e.prob || !e.m || !e.y || !e.rgb || !e.orig || !e.box || !e.gray || !e.which ||
        !e.holes || !e.peak) {
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        goto fail;
    }
    if ((st = run_all(&e, &in, &done, &skipped, &unchanged)) != CP_OK) goto fail;
    skipped += missing;
    if (done == 0) {
        fprintf(stderr, "clinpaint %s: error: none of the %zu input image%s could be read\n", cmd,
                in.n, in.n == 1 ? "" : "s");
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    printf("unmasked %zu image%s into %s", done - unchanged, done - unchanged == 1 ? "" : "s",
           j->out_dir);
    if (unchanged) printf("; %zu without a detected mask written unchanged", unchanged);
    if (skipped) printf("; skipped %zu unreadable input%s", skipped, skipped == 1 ? "" : "s");
    printf("\n");
    goto out;
fail:
    rc = cli_fail(cmd, st);
out:
    fflush(stdout);
    engine_free(&e);
    ic_inputs_free(&in);
    cp_model_free(model);
    cp_detector_free(e.det);
    cp_checkpoint_close(ck);
    if (own_ctx) cp_context_free(ctx);
    return rc;
}

typedef struct unmask_args {
    job j;
    const char *device;
} unmask_args;

static int on_option(void *user, const char *a, const char *v)
{
    unmask_args *u = user;
    job *j = &u->j;
    const char *cmd = j->cmd;
    long n;
    double x;
    if (strcmp(a, "--show-mask") == 0) {
        j->show_mask = true;
    } else if (strcmp(a, "--detector") == 0) {
        j->detector = v;
    } else if (strcmp(a, "--model") == 0) {
        j->model = v;
    } else if (strcmp(a, "--threshold") == 0) {
        if (!cli_parse_float(v, 0.001, 0.999, &x)) return cli_usage_error(cmd, "--threshold '%s': a number between 0 and 1", v);
        j->threshold = (float)x;
    } else if (strcmp(a, "--dilate") == 0) {
        if (!cli_parse_int(v, 0, 32, &n)) return cli_usage_error(cmd, "--dilate '%s': pixels from 0 to 32", v);
        j->dilate = (int)n;
    } else if (strcmp(a, "--batch") == 0) {
        if (!cli_parse_int(v, 1, 1024, &n)) return cli_usage_error(cmd, "--batch '%s': a whole number from 1 to 1024", v);
        j->batch = (int)n;
    } else if (strcmp(a, "--device") == 0) {
        u->device = v;
    } else if (strcmp(a, "--face") == 0) {
        if (!ic_parse_face_box(v, j->face_box)) return cli_usage_error(cmd, IC_FACE_USAGE, v);
        j->have_face = true;
    } else {
        j->out_dir = v;
    }
    return -1;
}

int cmd_unmask(int argc, char **argv)
{
    const char *cmd = "unmask";
    unmask_args u = {.j = {.cmd = cmd, .threshold = 0.5f, .dilate = -1, .batch = 8}};
    static const char *const flags[] = {"--show-mask", NULL};
    static const char *const valued[] = {"--detector", "--model", "--threshold", "--dilate",
                                         "--batch", "--device", "-o", "--out", "--face", NULL};
    const cli_inputs_spec spec = {cmd, flags, valued, false, usage, on_option, &u};
    const char **inputs;
    int n_inputs;
    int rc = cli_scan_inputs(&spec, argc, argv, &inputs, &n_inputs);
    if (!inputs) return rc;
    job j = u.j;
    if (rc < 0 && !j.detector)
        rc = cli_usage_error(cmd, "--detector DET is required (a checkpoint of clinpaint train --task detect)");
    if (rc < 0 && !j.model) rc = cli_usage_error(cmd, "--model CE is required (a checkpoint of clinpaint train)");
    if (rc < 0 && n_inputs == 0) rc = cli_usage_error(cmd, "no INPUT given (image files or folders)");
    if (rc < 0 && !j.out_dir) rc = cli_usage_error(cmd, "-o OUT_DIR is required");
    if (rc < 0) rc = unmask_run(&j, inputs, n_inputs, NULL, u.device);
    free(inputs);
    return rc;
}
