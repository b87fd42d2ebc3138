/* clinpaint inpaint: fill the masked region of photos with a trained model,
 * at the model's size and pasted back into the original photo. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <limits.h>
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
#include "clinpaint/mask.h"
#include "commands.h"
#include "env_options.h"
#include "image_cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint inpaint --model CKPT [options] INPUT... -o OUT_DIR\n\n"
            "Fills the masked region of each image with the generator of a trained model.\n"
            "INPUT is an image file (JPEG, PNG, BMP, TGA, GIF) of any size, or a folder (all\n"
            "images below it). Each image is centre-cropped to a square (or cropped around\n"
            "--face) and resized to the model's size S, as in training. For each input\n"
            "NAME.ext it writes:\n"
            "  OUT_DIR/NAME.png       the result at S x S (known pixels kept, hole filled)\n"
            "  OUT_DIR/NAME_full.png  the original image at its own size with only the hole\n"
            "                         replaced (the S x S result upsampled with Catmull-Rom\n"
            "                         and pasted inside the crop) and blended into the photo\n"
            "                         over a feather of max(3, crop/S) pixels around it;\n"
            "                         every other pixel is identical to the input\n"
            "A grayscale photo (99%% of pixels with R, G, B within 10) gets a grayscale fill.\n"
            "When the crop is more than twice S, the line for the image says that the fill\n"
            "is upscaled.\n"
            "  OUT_DIR/NAME_sbs.png   with --side-by-side: input crop | masked | result\n"
            "Names that would collide get a suffix (_2, _3, ...). Inputs are never written\n"
            "over: when an output file would be one of the inputs (or the model or a mask),\n"
            "nothing is written and the exit code is 1. Other files of the same name in\n"
            "OUT_DIR are replaced. A failed write is an error naming the file (exit 1).\n\n"
            "options:\n"
            "  --model CKPT       a checkpoint written by clinpaint train (required)\n"
            "  --mask M           center (default, as in training), face, rect, free, mixed,\n"
            "                     a PNG (any size; white = missing; the same for every image),\n"
            "                     or a folder of per-image masks matched by file name\n"
            "                     (photos/a.jpg takes MASKS/photos/a.png, else MASKS/a.png)\n"
            "  --face X,Y,W,H     the face box in the photo (pixels; inside the photo): the\n"
            "                     crop is the square of side 1.75*max(W,H) that puts the\n"
            "                     box where aligned training faces sit (centre at 0.5, 0.54\n"
            "                     of the crop; past the photo's edge it is reflected); the\n"
            "                     same box for every INPUT\n"
            "  --side-by-side     also write NAME_sbs.png\n"
            "  --batch N          images per generator run (default 8)\n"
            "  --seed K           seed of the random masks (face, rect, free, mixed; default 1)\n"
            "  --device SEL       OpenCL device (P:D or part of its name)\n"
            "  -o, --out OUT_DIR  output folder (created when missing; required)\n\n"
            "Unreadable images are skipped with a warning. Exit code 0 when every readable\n"
            "image was written, 1 when none could be read or a write failed, 2 for a usage\n"
            "error.\n");
}

/* ---- the engine ---- */

typedef struct engine {
    const ic_inpaint_job *job;
    int S, batch;
    cp_mask_source *masks;
    cp_inpainter *ip;
    float *x, *m, *y, *masked;
    uint8_t *rgb;
    cp_image *orig;  /* batch originals */
    ic_crop *box;    /* their crops */
    bool *gray;      /* grayscale photos: grayscale fill */
    size_t *which;   /* batch -> input index */
    float **grid;    /* grid_max * 3 cells */
    int grid_rows;
} engine;

static cp_status write_png(const char *path, const cp_image *img)
{
    return cp_image_write_png(path, img);
}

static char *out_path(const engine *e, const char *name, const char *suffix)
{
    size_t n = strlen(e->job->out_dir) + strlen(name) + strlen(suffix) + 8;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s%s.png", e->job->out_dir, name, suffix);
    return p;
}

/* The mask of input k; folder masks by relative path, then by base name. */
static cp_status mask_for(engine *e, const ic_input *in, size_t k, float *out)
{
    cp_status st = cp_mask_source_get(e->masks, in->relpath, e->job->seed, k, out);
    if (st != CP_OK && cp_mask_source_per_image(e->masks)) {
        const char *b = strrchr(in->relpath, '/');
        if (b && cp_mask_source_get(e->masks, b + 1, e->job->seed, k, out) == CP_OK) return CP_OK;
    }
    return st;
}

/* Writes the outputs of batch slot i. */
static cp_status write_outputs(engine *e, int i, const ic_input *in)
{
    const int S = e->S;
    const size_t px = (size_t)S * S;
    const float *xi = e->x + (size_t)i * 3 * px, *mi = e->m + (size_t)i * px;
    const float *yi = e->y + (size_t)i * 3 * px;
    float *masked = e->masked + (size_t)i * 3 * px;
    for (int c = 0; c < 3; c++)
        for (size_t p = 0; p < px; p++) masked[c * px + p] = mi[p] >= 0.5f ? 1.0f : xi[c * px + p];
    cp_image img = {0}, full = {0}, sbs = {0};
    char *p_res = out_path(e, in->name, ""), *p_full = out_path(e, in->name, "_full");
    char *p_sbs = e->job->side_by_side ? out_path(e, in->name, "_sbs") : NULL;
    cp_status st = p_res && p_full && (p_sbs || !e->job->side_by_side)
                       ? CP_OK
                       : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    size_t holes = 0;
    if (st == CP_OK) st = cp_chw_to_image(yi, S, S, &img);
    if (st == CP_OK) st = write_png(p_res, &img);
    const ic_crop box = e->box[i];
    if (st == CP_OK)
        st = ic_paste_full(&e->orig[i], yi, mi, S, box, ic_feather_width(box.s, S), &full, &holes);
    if (st == CP_OK) st = write_png(p_full, &full);
    if (st == CP_OK && p_sbs) {
        const float *cells[3] = {xi, masked, yi};
        st = cp_image_grid(cells, 3, 3, S, 2, 255, &sbs);
        if (st == CP_OK) st = write_png(p_sbs, &sbs);
    }
    if (st == CP_OK && e->grid && e->grid_rows < e->job->grid_max) {
        const float *src[3] = {xi, masked, yi};
        for (int c = 0; c < 3; c++) {
            float *cell = malloc(sizeof *cell * 3 * px);
            if (!cell) {
                st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory (grid)");
                break;
            }
            memcpy(cell, src[c], sizeof *cell * 3 * px);
            e->grid[e->grid_rows * 3 + c] = cell;
        }
        if (st == CP_OK) e->grid_rows++;
    }
    if (st == CP_OK && !e->job->quiet) {
        printf("%s -> %s (%dx%d), %s (%dx%d, %zu hole pixels)%s%s", in->path, p_res, S, S, p_full,
               full.w, full.h, holes, p_sbs ? ", " : "", p_sbs ? p_sbs : "");
        ic_print_crop_notes(box, e->job->have_face, e->gray[i], S);
        printf("\n");
    }
    cp_image_free(&img);
    cp_image_free(&full);
    cp_image_free(&sbs);
    free(p_res);
    free(p_full);
    free(p_sbs);
    return st;
}

/* ---- never writing over an input ---- */

typedef struct file_id {
    dev_t dev;
    ino_t ino;
    const char *path; /* as the user named it */
} file_id;

static int cmp_id(const void *a, const void *b)
{
    const file_id *x = a, *y = b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void add_id(file_id *ids, size_t *n, const char *path)
{
    struct stat sb;
    if (path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        ids[(*n)++] = (file_id){sb.st_dev, sb.st_ino, path};
}

/* Sets an error and returns true when writing `path` would replace one of
 * the files in ids (the same file through any name or link) or a file in
 * the mask folder. */
static bool clobbers(const char *path, const file_id *ids, size_t n, const char *mask_dir)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return false; /* not there: nothing to lose */
    file_id key = {sb.st_dev, sb.st_ino, NULL};
    const file_id *hit = bsearch(&key, ids, n, sizeof *ids, cmp_id);
    char real[PATH_MAX];
    size_t len = mask_dir ? strlen(mask_dir) : 0;
    bool in_masks = !hit && mask_dir && realpath(path, real) && strncmp(real, mask_dir, len) == 0 &&
                    real[len] == '/';
    if (!hit && !in_masks) return false;
    cp_set_error(CP_ERR_IO,
                 "refusing to write %s: it is %s %s, and inpaint never writes over its inputs, "
                 "model or masks (nothing was written; choose another -o folder)",
                 path, hit ? "the input" : "a file of the mask folder", hit ? hit->path : mask_dir);
    return true;
}

/* Refuses the job, before anything is written, when one of its output
 * files is one of its inputs, the model, the mask, or a file in the mask
 * folder: photos are sacred. */
static cp_status check_outputs_spare_inputs(const ic_inpaint_job *job, const ic_inputs *in)
{
    file_id *ids = malloc((in->n + 2) * sizeof *ids);
    if (!ids) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    size_t n = 0;
    for (size_t i = 0; i < in->n; i++) add_id(ids, &n, in->v[i].path);
    add_id(ids, &n, job->model_path);
    add_id(ids, &n, job->mask_spec);
    qsort(ids, n, sizeof *ids, cmp_id);
    char mask_dir[PATH_MAX];
    struct stat sb;
    bool have_mask_dir = stat(job->mask_spec, &sb) == 0 && S_ISDIR(sb.st_mode) &&
                         realpath(job->mask_spec, mask_dir);
    const char *masks = have_mask_dir ? mask_dir : NULL;
    static const char *const suffixes[3] = {"", "_full", "_sbs"};
    bool refused = false;
    cp_status st = CP_OK;
    for (size_t i = 0; i < in->n && !refused && st == CP_OK; i++)
        for (int k = 0; k < (job->side_by_side ? 3 : 2) && !refused; k++) {
            size_t len = strlen(job->out_dir) + strlen(in->v[i].name) + 16;
            char *out = malloc(len);
            if (!out) {
                st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
                break;
            }
            snprintf(out, len, "%s/%s%s.png", job->out_dir, in->v[i].name, suffixes[k]);
            refused = clobbers(out, ids, n, masks);
            free(out);
        }
    if (st == CP_OK && !refused && job->grid_path) refused = clobbers(job->grid_path, ids, n, masks);
    free(ids);
    return refused ? CP_ERR_IO : st;
}

static void engine_free(engine *e)
{
    if (e->grid)
        for (int k = 0; k < e->job->grid_max * 3; k++) free(e->grid[k]);
    free(e->grid);
    if (e->orig)
        for (int i = 0; i < e->batch; i++) cp_image_free(&e->orig[i]);
    free(e->orig);
    free(e->box);
    free(e->gray);
    free(e->which);
    free(e->x);
    free(e->m);
    free(e->y);
    free(e->masked);
    free(e->rgb);
    cp_inpainter_free(e->ip);
    cp_mask_source_free(e->masks);
}

static const char *describe_model(const cp_model_config *c, char *buf, size_t size)
{
    snprintf(buf, size, "preset %s, %dx%d, widths %d,%d,%d,%d,%d,%d, latent %d%s", c->preset, c->size,
             c->size, c->widths[0], c->widths[1], c->widths[2], c->widths[3], c->widths[4],
             c->widths[5], c->latent, c->batchnorm ? ", batchnorm" : "");
    return buf;
}

/* Runs the inputs through the model in batches. */
static cp_status run_all(engine *e, const ic_inputs *in, ic_inpaint_result *res)
{
    const int S = e->S;
    const size_t px = (size_t)S * S;
    size_t next = 0;
    while (next < in->n) {
        int n = 0;
        while (n < e->batch && next < in->n) {
            size_t k = next++;
            const ic_input *it = &in->v[k];
            cp_status st = cp_image_load(it->path, &e->orig[n]);
            if (st == CP_OK) {
                st = ic_photo_crop(&e->orig[n], it->path, e->job->have_face ? e->job->face_box : NULL,
                                   &e->box[n]);
                if (st != CP_OK) {
                    cp_image_free(&e->orig[n]);
                    return st;
                }
                e->gray[n] = ic_is_grayscale(&e->orig[n]);
                st = ic_crop_resize(&e->orig[n], e->box[n], S, e->rgb);
            }
            if (st == CP_OK) {
                cp_rgb_to_chw(e->rgb, S, 0, e->x + (size_t)n * 3 * px);
                st = mask_for(e, it, k, e->m + (size_t)n * px);
            }
            if (st != CP_OK) {
                if (st == CP_ERR_OUT_OF_HOST_MEMORY) return st;
                cp_warn("%s; skipped", cp_last_error());
                cp_image_free(&e->orig[n]);
                res->skipped++;
                continue;
            }
            e->which[n++] = k;
        }
        if (n == 0) break;
        cp_status st = cp_inpainter_run(e->ip, n, e->x, e->m, e->y, NULL, NULL);
        if (st != CP_OK) return st;
        for (int i = 0; i < n; i++)
            if (e->gray[i]) ic_chw_to_gray(e->y + (size_t)i * 3 * px, S);
        for (int i = 0; i < n; i++) {
            st = write_outputs(e, i, &in->v[e->which[i]]);
            cp_image_free(&e->orig[i]);
            if (st != CP_OK) return st;
            res->done++;
        }
        fflush(stdout);
    }
    return CP_OK;
}

int ic_inpaint(const ic_inpaint_job *job, cp_context *ctx, const char *device,
               ic_inpaint_result *res)
{
    const char *cmd = job->cmd;
    memset(res, 0, sizeof *res);
    engine e;
    memset(&e, 0, sizeof e);
    e.job = job;
    cp_checkpoint *ck = NULL;
    cp_model *model = NULL;
    bool own_ctx = false;
    ic_inputs in = {0};
    size_t missing = 0;
    int rc = CLI_EXIT_OK;
    cp_status st = cp_checkpoint_open(job->model_path, &ck);
    if (st != CP_OK) return cli_fail(cmd, st);
    e.S = cp_checkpoint_config(ck)->size;
    res->size = e.S;
    if ((st = cp_mask_source_create(job->mask_spec, e.S, &e.masks)) != CP_OK) goto fail;
    if ((st = ic_collect_inputs(job->inputs, job->input_count, &in, &missing)) != CP_OK) goto fail;
    res->skipped = missing;
    if (in.n == 0) {
        fprintf(stderr, "clinpaint %s: error: no input image to inpaint (%zu input%s skipped)\n", cmd,
                missing, missing == 1 ? "" : "s");
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    if ((st = check_outputs_spare_inputs(job, &in)) != CP_OK) goto fail;
    if ((st = ic_mkdirs(job->out_dir)) != CP_OK) goto fail;
    if (!ctx) {
        cli_warn_cache_dir(cmd);
        if ((st = env_context_create(device, &ctx)) != CP_OK) goto fail;
        own_ctx = true;
    }
    if ((st = cp_checkpoint_load_model(ck, ctx, false, &model)) != CP_OK) goto fail;
    char desc[256];
    if (!job->quiet)
        fprintf(stderr, "clinpaint %s: %zu image%s with %s (%s), mask %s, on %s\n", cmd, in.n,
                in.n == 1 ? "" : "s", job->model_path,
                describe_model(&model->cfg, desc, sizeof desc), cp_mask_source_describe(e.masks),
                cp_context_device(ctx)->name);
    e.batch = job->batch < 1 ? 1 : (size_t)job->batch > in.n ? (int)in.n : job->batch;
    if ((st = cp_inpainter_create(model, e.batch, false, 0.0f, &e.ip)) != CP_OK) goto fail;
    const size_t px = (size_t)e.S * e.S, nb = (size_t)e.batch;
    e.x = malloc(sizeof *e.x * nb * 3 * px);
    e.m = malloc(sizeof *e.m * nb * px);
    e.y = malloc(sizeof *e.y * nb * 3 * px);
    e.masked = malloc(sizeof *e.masked * nb * 3 * px);
    e.rgb = malloc(3 * px);
    e.orig = calloc(nb, sizeof *e.orig);
    e.which = calloc(nb, sizeof *e.which);
    e.box = calloc(nb, sizeof *e.box);
    e.gray = calloc(nb, sizeof *e.gray);
    if (job->grid_path && job->grid_max > 0) e.grid = calloc((size_t)job->grid_max * 3, sizeof *e.grid);
    if (!e.x || !e.m || !e.y || !e.masked || !e.rgb || !e.orig || !e.which || !e.box || !e.gray ||
        (job->grid_path && job->grid_max > 0 && !e.grid)) {
        st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        goto fail;
    }
    if ((st = run_all(&e, &in, res)) != CP_OK) goto fail;
    if (e.grid && e.grid_rows > 0) {
        st = cp_image_write_grid_png(job->grid_path, (const float *const *)e.grid, e.grid_rows * 3,
                                     3, e.S);
        if (st != CP_OK) goto fail;
    }
    if (res->done == 0) {
        fprintf(stderr, "clinpaint %s: error: none of the %zu input image%s could be inpainted\n",
                cmd, in.n, in.n == 1 ? "" : "s");
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    if (!job->quiet) {
        printf("inpainted %zu image%s at %dx%d into %s", res->done, res->done == 1 ? "" : "s", e.S,
               e.S, job->out_dir);
        if (res->skipped) printf("; skipped %zu unreadable input%s (see the warnings)", res->skipped,
                                 res->skipped == 1 ? "" : "s");
        printf("\n");
    }
    goto out;
fail:
    rc = cli_fail(cmd, st);
out:
    fflush(stdout);
    engine_free(&e);
    ic_inputs_free(&in);
    cp_model_free(model);
    cp_checkpoint_close(ck);
    if (own_ctx) cp_context_free(ctx);
    return rc;
}

/* ---- the command ---- */

typedef struct inpaint_args {
    ic_inpaint_job job;
    const char *device;
} inpaint_args;

static int on_option(void *user, const char *name, const char *v)
{
    inpaint_args *u = user;
    ic_inpaint_job *job = &u->job;
    const char *cmd = job->cmd;
    long n;
    uint64_t u64;
    if (strcmp(name, "--side-by-side") == 0) {
        job->side_by_side = true;
    } else if (strcmp(name, "--model") == 0) {
        job->model_path = v;
    } else if (strcmp(name, "--mask") == 0) {
        job->mask_spec = v;
    } else if (strcmp(name, "--batch") == 0) {
        if (!cli_parse_int(v, 1, 1024, &n)) return cli_usage_error(cmd, "--batch '%s': a whole number from 1 to 1024", v);
        job->batch = (int)n;
    } else if (strcmp(name, "--seed") == 0) {
        if (!cli_parse_u64(v, &u64)) return cli_usage_error(cmd, "--seed '%s': a non-negative whole number", v);
        job->seed = u64;
    } else if (strcmp(name, "--device") == 0) {
        u->device = v;
    } else if (strcmp(name, "--face") == 0) {
        if (!ic_parse_face_box(v, job->face_box)) return cli_usage_error(cmd, IC_FACE_USAGE, v);
        job->have_face = true;
    } else {
        job->out_dir = v;
    }
    return -1;
}

int cmd_inpaint(int argc, char **argv)
{
    const char *cmd = "inpaint";
    inpaint_args u = {.job = {.cmd = cmd, .mask_spec = "center", .batch = 8, .seed = 1}};
    static const char *const flags[] = {"--side-by-side", NULL};
    static const char *const valued[] = {"--model", "--mask", "--batch", "--seed", "--device",
                                         "-o", "--out", "--face", NULL};
    const cli_inputs_spec spec = {cmd, flags, valued, true, usage, on_option, &u};
    const char **inputs;
    int n_inputs;
    int rc = cli_scan_inputs(&spec, argc, argv, &inputs, &n_inputs);
    if (!inputs) return rc;
    ic_inpaint_job job = u.job;
    if (rc < 0 && !job.model_path)
        rc = cli_usage_error(cmd, "--model CKPT is required (a checkpoint written by clinpaint train)");
    if (rc < 0 && n_inputs == 0) rc = cli_usage_error(cmd, "no INPUT given (image files or folders)");
    if (rc < 0 && !job.out_dir) rc = cli_usage_error(cmd, "-o OUT_DIR is required");
    if (rc < 0 && !job.mask_spec[0]) rc = cli_usage_error(cmd, "--mask needs a value");
    if (rc < 0) {
        job.inputs = inputs;
        job.input_count = n_inputs;
        ic_inpaint_result res;
        rc = ic_inpaint(&job, NULL, u.device, &res);
    }
    free(inputs);
    return rc;
}
