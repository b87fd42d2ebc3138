/* clinpaint eval: MODEL.md's metrics of a model on a folder of images, next
 * to the mean-colour and diffusion fills of the same images and masks as
 * floors, optionally with the images re-framed (--framing). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_util.h"
#include "clinpaint/checkpoint.h"
#include "clinpaint/clinpaint.h"
#include "clinpaint/dataset.h"
#include "clinpaint/inpaint.h"
#include "clinpaint/mask.h"
#include "commands.h"
#include "env_options.h"
#include "clinpaint/evaluate.h"
#include "train_cli.h"
#include "unmask_cli.h"
#include "eval_dump.h"

#define PROTOCOL                                                                          \
    "composite vs ground truth, [0,255] clipped, not rounded; per-image averages; "      \
    "PSNR with MSE floored at 1e-10; SSIM on luma Y = 0.299R + 0.587G + 0.114B, 11x11 " \
    "Gaussian window (sigma 1.5), valid region, C1 = (0.01*255)^2, C2 = (0.03*255)^2"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint eval --model CKPT --data DIR [options]\n"
            "       clinpaint eval --task detect|unmask ... (the mask detector and the unmask\n"
            "                      chain on a maskified folder: clinpaint eval --task detect --help)\n\n"
            "Evaluates a model as MODEL.md defines it: each image of DIR's split is\n"
            "centre-cropped and resized to the model's size S, masked, and filled; the\n"
            "composite (known pixels kept, hole from the generator) is compared with the\n"
            "image. Reported: hole PSNR, whole-image PSNR, SSIM, hole L1 (0..255) and the\n"
            "losses L_rec, L_adv, L_D, next to the same metrics of the mean-colour fill\n"
            "(every hole pixel set to the mean colour of the image's known pixels) and of the\n"
            "diffusion fill (the hole as the smooth harmonic surface that meets the known\n"
            "pixels around it), floors any useful model must beat.\n\n"
            "options:\n"
            "  --model CKPT       a checkpoint written by clinpaint train (required)\n"
            "  --data DIR         folder of images, read recursively (required)\n"
            "  --split S          test (default: the 10%% held out from training by file\n"
            "                     name), train, or all\n"
            "  --mask M           center (default: MODEL.md's mask for comparisons), face,\n"
            "                     rect, free, mixed, a PNG, or a folder of per-image masks\n"
            "  --seed K           seed of the random masks (default 1: the same masks for\n"
            "                     every model, so that numbers compare)\n"
            "  --max-images N     evaluate only the first N images of the split\n"
            "  --framing zoom=Z[,shift=D][,gray]\n"
            "                     re-frame every image before masking: zoom Z about the\n"
            "                     centre (1.3: a tighter crop, the face larger; 0.8: a wider\n"
            "                     one, the outside reflected; 0.25..4) and the centre moved\n"
            "                     by D*S (0..0.5) in a direction that turns by the golden\n"
            "                     angle from image to image: the same every time; gray: the\n"
            "                     images in grayscale (luma in all channels; alone, or with\n"
            "                     a zoom)\n"
            "  --dump DIR         also write every evaluated image, its mask (white =\n"
            "                     hole) and the model's composite as NNNNN_image.png,\n"
            "                     NNNNN_mask.png, NNNNN_model.png into DIR (new or empty),\n"
            "                     e.g. for tools/measure/telea_floor.py\n"
            "  --batch N          images per run (default 16; does not change the numbers)\n"
            "  --json             print the results as one JSON object on stdout\n"
            "  --device SEL       OpenCL device (P:D or part of its name)\n");
}

typedef struct eval_opts {
    const char *model, *data, *mask, *device, *dump;
    cp_split split;
    uint64_t seed, max_images;
    int batch;
    bool json;
    float zoom, shift; /* --framing; zoom 0: as it is */
    bool gray;
} eval_opts;

/* "zoom=Z[,shift=D][,gray]" in any order; a zoom or gray required, a shift
 * only with a zoom. */
static bool parse_framing(const char *v, float *zoom, float *shift, bool *gray)
{
    *zoom = 0;
    *shift = 0;
    *gray = false;
    bool have_zoom = false, have_shift = false;
    while (*v) {
        size_t len = strcspn(v, ",");
        char part[64];
        if (len == 0 || len >= sizeof part) return false;
        memcpy(part, v, len);
        part[len] = '\0';
        double x;
        if (strncmp(part, "zoom=", 5) == 0 && !have_zoom && cli_parse_float(part + 5, 0.25, 4, &x)) {
            *zoom = (float)x;
            have_zoom = true;
        } else if (strncmp(part, "shift=", 6) == 0 && !have_shift &&
                   cli_parse_float(part + 6, 0, 0.5, &x)) {
            *shift = (float)x;
            have_shift = true;
        } else if (strcmp(part, "gray") == 0 && !*gray) {
            *gray = true;
        } else {
            return false;
        }
        v += len;
        if (*v == ',' && !*++v) return false; /* a trailing comma */
    }
    return have_zoom || (*gray && !have_shift);
}

static int parse(int argc, char **argv, eval_opts *o)
{
    const char *cmd = "eval";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) return cli_usage_error(cmd, "unexpected argument '%s'", a);
        char name[64];
        const char *v = NULL, *eq = strchr(a, '=');
        if (eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            v = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
        static const char *const known[] = {"--task", "--model", "--data", "--mask", "--split", "--seed",
                                            "--max-images", "--batch", "--device", "--framing", "--dump"};
        bool ok = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) ok |= strcmp(name, known[k]) == 0;
        if (!ok) return cli_usage_error(cmd, "unknown option '%s'", a);
        if (!v) {
            if (i + 1 >= argc) return cli_usage_error(cmd, "%s needs a value", name);
            v = argv[++i];
        }
        long n;
        if (strcmp(name, "--task") == 0) {
            /* inpaint: the other tasks are sent elsewhere (cmd_eval) */
        } else if (strcmp(name, "--model") == 0) {
            o->model = v;
        } else if (strcmp(name, "--data") == 0) {
            o->data = v;
        } else if (strcmp(name, "--mask") == 0) {
            if (!v[0]) return cli_usage_error(cmd, "--mask needs a value");
            o->mask = v;
        } else if (strcmp(name, "--split") == 0) {
            if (strcmp(v, "test") == 0) o->split = CP_SPLIT_TEST;
            else if (strcmp(v, "train") == 0) o->split = CP_SPLIT_TRAIN;
            else if (strcmp(v, "all") == 0) o->split = CP_SPLIT_ALL;
            else return cli_usage_error(cmd, "--split '%s': choose test, train or all", v);
        } else if (strcmp(name, "--seed") == 0) {
            if (!cli_parse_u64(v, &o->seed)) return cli_usage_error(cmd, "--seed '%s': a non-negative whole number", v);
        } else if (strcmp(name, "--max-images") == 0) {
            if (!cli_parse_u64(v, &o->max_images) || o->max_images == 0)
                return cli_usage_error(cmd, "--max-images '%s': a positive whole number", v);
        } else if (strcmp(name, "--framing") == 0) {
            if (!parse_framing(v, &o->zoom, &o->shift, &o->gray))
                return cli_usage_error(cmd, "--framing '%s': zoom=Z[,shift=D][,gray] with Z in 0.25..4 "
                                            "and D in 0..0.5, or gray alone, e.g. zoom=1.3,shift=0.05", v);
        } else if (strcmp(name, "--dump") == 0) {
            if (!v[0]) return cli_usage_error(cmd, "--dump needs a folder");
            o->dump = v;
        } else if (strcmp(name, "--batch") == 0) {
            if (!cli_parse_int(v, 1, 1024, &n)) return cli_usage_error(cmd, "--batch '%s': a whole number from 1 to 1024", v);
            o->batch = (int)n;
        } else {
            o->device = v;
        }
    }
    if (!o->model) return cli_usage_error(cmd, "--model CKPT is required (a checkpoint written by clinpaint train)");
    if (!o->data) return cli_usage_error(cmd, "--data DIR is required (a folder of images)");
    return -1;
}

/* A metadata value or a default. */
static const char *meta_or(const cp_checkpoint *ck, const char *key, const char *dflt)
{
    const char *v = cp_checkpoint_meta(ck, key);
    return v && v[0] ? v : dflt;
}

static void add_num(cJSON *o, const char *key, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *metrics_json(const cp_epoch_metrics *m, bool losses)
{
    cJSON *o = cJSON_CreateObject();
    add_num(o, "hole_psnr", m->hole_psnr);
    add_num(o, "psnr", m->psnr);
    add_num(o, "ssim", m->ssim);
    add_num(o, "hole_l1", m->hole_l1);
    if (losses) {
        add_num(o, "L_rec", m->rec);
        add_num(o, "L_adv", m->adv);
        add_num(o, "L_D", m->d);
    }
    return o;
}

static void print_json(const eval_opts *o, const cp_checkpoint *ck, const cp_model_config *c,
                       const cp_device_info *dev, const char *mask_desc, uint64_t images,
                       size_t skipped, double ctx_weight, const cp_epoch_metrics *m,
                       const cp_epoch_metrics *fl, const cp_epoch_metrics *df)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *model = cJSON_AddObjectToObject(j, "model");
    cJSON_AddStringToObject(model, "path", o->model);
    cJSON_AddStringToObject(model, "preset", c->preset);
    cJSON_AddNumberToObject(model, "size", c->size);
    cJSON_AddItemToObject(model, "widths", cJSON_CreateIntArray(c->widths, 6));
    cJSON_AddNumberToObject(model, "latent", c->latent);
    cJSON_AddBoolToObject(model, "batchnorm", c->batchnorm);
    static const char *const meta_keys[] = {"step", "epoch", "mask", "seed", "data"};
    for (size_t k = 0; k < sizeof meta_keys / sizeof meta_keys[0]; k++) {
        const char *v = cp_checkpoint_meta(ck, meta_keys[k]);
        if (!v) continue;
        uint64_t num;
        if (strcmp(meta_keys[k], "step") == 0 || strcmp(meta_keys[k], "epoch") == 0 ||
            strcmp(meta_keys[k], "seed") == 0) {
            if (cli_parse_u64(v, &num)) cJSON_AddNumberToObject(model, meta_keys[k], (double)num);
        } else {
            cJSON_AddStringToObject(model, meta_keys[k][0] == 'm' ? "trained_mask" : meta_keys[k], v);
        }
    }
    cJSON_AddStringToObject(j, "data", o->data);
    cJSON_AddStringToObject(j, "split", cp_split_name(o->split));
    cJSON_AddNumberToObject(j, "images", (double)images);
    cJSON_AddNumberToObject(j, "skipped", (double)skipped);
    cJSON_AddNumberToObject(j, "size", c->size);
    cJSON_AddStringToObject(j, "mask", mask_desc);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddNumberToObject(j, "ctx_weight", ctx_weight);
    cJSON_AddStringToObject(j, "protocol", PROTOCOL);
    cJSON_AddStringToObject(j, "device", dev->name);
    cJSON_AddItemToObject(j, "metrics", metrics_json(m, true));
    cJSON_AddItemToObject(j, "mean_fill", metrics_json(fl, false));
    cJSON_AddItemToObject(j, "diffusion_fill", metrics_json(df, false));
    cJSON *fr = cJSON_AddObjectToObject(j, "framing");
    cJSON_AddNumberToObject(fr, "zoom", o->zoom > 0 ? o->zoom : 1.0);
    cJSON_AddNumberToObject(fr, "shift", o->shift);
    cJSON_AddBoolToObject(fr, "gray", o->gray);
    char *text = cJSON_Print(j);
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(j);
}

static void print_text(const eval_opts *o, const cp_checkpoint *ck, const cp_model_config *c,
                       const cp_device_info *dev, const char *mask_desc, uint64_t images,
                       size_t skipped, double ctx_weight, const cp_epoch_metrics *m,
                       const cp_epoch_metrics *fl, const cp_epoch_metrics *df)
{
    printf("model      %s\n"
           "           preset %s, size %dx%d, widths %d,%d,%d,%d,%d,%d, latent %d, batchnorm %s\n"
           "           trained %s steps (%s complete epochs) with %s masks\n",
           o->model, c->preset, c->size, c->size, c->widths[0], c->widths[1], c->widths[2],
           c->widths[3], c->widths[4], c->widths[5], c->latent, c->batchnorm ? "on" : "off",
           meta_or(ck, "step", "?"), meta_or(ck, "epoch", "?"), meta_or(ck, "mask", "unknown"));
    printf("data       %s, split %s: %llu images", o->data, cp_split_name(o->split),
           (unsigned long long)images);
    if (skipped) printf(" (%zu unreadable skipped)", skipped);
    printf("\nmask       %s (seed %llu), at %dx%d\n", mask_desc, (unsigned long long)o->seed, c->size,
           c->size);
    if (o->zoom > 0)
        printf("framing    zoom %.3g, shift %.3g (re-framed about the centre, outside reflected)%s\n",
               (double)o->zoom, (double)o->shift, o->gray ? ", in grayscale" : "");
    else
        printf("framing    as it is%s\n", o->gray ? ", in grayscale" : "");
    printf("protocol   %s\n", PROTOCOL);
    printf("device     %s\n\n", dev->name);
    printf("%-22s %12s %16s %16s\n", "", "model", "mean-fill floor", "diffusion floor");
    printf("%-22s %12.2f %16.2f %16.2f\n", "hole PSNR (dB)", m->hole_psnr, fl->hole_psnr, df->hole_psnr);
    printf("%-22s %12.2f %16.2f %16.2f\n", "PSNR (dB)", m->psnr, fl->psnr, df->psnr);
    printf("%-22s %12.4f %16.4f %16.4f\n", "SSIM", m->ssim, fl->ssim, df->ssim);
    printf("%-22s %12.2f %16.2f %16.2f\n", "hole L1 (0..255)", m->hole_l1, fl->hole_l1, df->hole_l1);
    char label[64];
    snprintf(label, sizeof label, "L_rec (ctx %.3g)", ctx_weight);
    printf("%-22s %12.5f %16s %16s\n", label, m->rec, "-", "-");
    printf("%-22s %12.4f %16s %16s\n", "L_adv", m->adv, "-", "-");
    printf("%-22s %12.4f %16s %16s\n", "L_D", m->d, "-", "-");
    if (isfinite(m->hole_psnr) && isfinite(fl->hole_psnr))
        printf("\nthe model is %.2f dB %s the mean-colour fill in the hole\n",
               fabs(m->hole_psnr - fl->hole_psnr), m->hole_psnr >= fl->hole_psnr ? "above" : "BELOW");
    if (isfinite(m->hole_psnr) && isfinite(df->hole_psnr))
        printf("the model is %.2f dB %s the diffusion fill in the hole\n",
               fabs(m->hole_psnr - df->hole_psnr), m->hole_psnr >= df->hole_psnr ? "above" : "BELOW");
}

/* NaN or Inf metrics (a model whose outputs are NaN) are a failure, never
 * "null" with exit 0. */
static cp_status check_finite(const cp_epoch_metrics *m, const char *model)
{
    const struct {
        const char *name;
        double v;
    } f[] = {{"hole PSNR", m->hole_psnr}, {"PSNR", m->psnr}, {"SSIM", m->ssim},
             {"hole L1", m->hole_l1},     {"L_rec", m->rec}, {"L_adv", m->adv}, {"L_D", m->d}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!isfinite(f[i].v))
            return cp_set_error(CP_ERR_NUMERIC,
                                "the %s of %s is %s: its outputs are not finite numbers (NaN or "
                                "Inf weights, or a diverged run); no metrics reported",
                                f[i].name, model, isnan(f[i].v) ? "NaN" : "infinite");
    return CP_OK;
}

int cmd_eval(int argc, char **argv)
{
    const char *cmd = "eval";
    for (int i = 1; i + 1 < argc; i++) /* the detector's and the unmask chain's tasks */
        if (strcmp(argv[i], "--task") == 0) {
            if (strcmp(argv[i + 1], "detect") == 0 || strcmp(argv[i + 1], "unmask") == 0)
                return cmd_eval_task(argc, argv, argv[i + 1]);
            if (strcmp(argv[i + 1], "inpaint") != 0)
                return cli_usage_error(cmd, "--task '%s': inpaint (default), detect or unmask",
                                       argv[i + 1]);
        }
    eval_opts o = {.mask = "center", .split = CP_SPLIT_TEST, .seed = 1, .batch = 16};
    int rc = parse(argc, argv, &o);
    if (rc >= 0) return rc;
    cp_checkpoint *ck = NULL;
    cp_dataset *ds = NULL;
    cp_mask_source *masks = NULL;
    cp_context *ctx = NULL;
    cp_model *model = NULL;
    cp_inpainter *ip = NULL;
    cp_status st = cp_checkpoint_open(o.model, &ck);
    const cp_model_config *c = st == CP_OK ? cp_checkpoint_config(ck) : NULL;
    if (st == CP_OK) {
        st = cp_dataset_open(o.data, o.split, &ds);
        if (st == CP_ERR_INVALID_ARGUMENT && o.split != CP_SPLIT_ALL) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", cp_last_error());
            st = cp_set_error(st, "%s (a small folder may have no %s image: try --split all)", msg,
                              cp_split_name(o.split));
        }
    }
    if (st == CP_OK) st = cp_dataset_verify(ds, 0);
    if (st == CP_OK) st = cp_mask_source_create(o.mask, c->size, &masks);
    if (st == CP_OK) st = cp_mask_source_check(masks, ds);
    if (st == CP_OK && o.dump) st = eval_dump_prepare(o.dump);
    if (st == CP_OK) st = env_context_create(o.device, &ctx);
    if (st == CP_OK) st = cp_checkpoint_load_model(ck, ctx, false, &model);
    double ctx_weight = 0.1; /* MODEL.md's default when the file does not say */
    if (st == CP_OK) {
        const char *v = cp_checkpoint_meta(ck, "ctx_weight");
        char *end;
        double w = v ? strtod(v, &end) : 0;
        if (v && *v && !*end && w >= 0) ctx_weight = w;
    }
    uint64_t count = ds ? cp_dataset_count(ds) : 0;
    if (o.max_images && o.max_images < count) count = o.max_images;
    int batch = o.batch;
    if (count && (uint64_t)batch > count) batch = (int)count;
    if (st == CP_OK) st = cp_inpainter_create(model, batch, true, (float)ctx_weight, &ip);
    cp_epoch_metrics m, fl, df;
    if (st == CP_OK) {
        fprintf(stderr, "clinpaint eval: %llu %s images of %s at %dx%d, mask %s, on %s ...\n",
                (unsigned long long)count, cp_split_name(o.split), o.data, c->size, c->size,
                cp_mask_source_describe(masks), cp_context_device(ctx)->name);
        cp_eval_request rq = {.seed = o.seed, .max_images = o.max_images, .zoom = o.zoom,
                              .shift = o.shift, .gray = o.gray};
        if (o.dump) {
            rq.each = eval_dump_image;
            rq.user = (void *)o.dump;
        }
        st = cp_evaluate_framed(ip, ds, masks, c->size, &rq, &m, &fl, &df);
    }
    if (st == CP_OK) st = check_finite(&m, o.model);
    if (st == CP_OK && o.dump)
        fprintf(stderr, "clinpaint eval: wrote %llu images, masks and composites to %s\n",
                (unsigned long long)m.images, o.dump);
    if (st != CP_OK) {
        rc = cli_fail(cmd, st);
    } else {
        const cp_device_info *dev = cp_context_device(ctx);
        size_t skipped = cp_dataset_skipped(ds);
        if (o.json)
            print_json(&o, ck, c, dev, cp_mask_source_describe(masks), m.images, skipped, ctx_weight,
                       &m, &fl, &df);
        else
            print_text(&o, ck, c, dev, cp_mask_source_describe(masks), m.images, skipped, ctx_weight,
                       &m, &fl, &df);
        rc = CLI_EXIT_OK;
    }
    cp_inpainter_free(ip);
    cp_model_free(model);
    cp_context_free(ctx);
    cp_mask_source_free(masks);
    cp_dataset_free(ds);
    cp_checkpoint_close(ck);
    return rc;
}
