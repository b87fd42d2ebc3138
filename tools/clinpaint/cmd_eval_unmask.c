/* clinpaint eval --task detect | unmask: the mask detector on a maskified
 * split (IoU, Dice, pixel accuracy), and the whole unmask chain against the
 * original faces (detected vs true masks vs the mean-colour fill). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_inputs.h"
#include "cli_util.h"
#include "clinpaint/checkpoint.h"
#include "clinpaint/clinpaint.h"
#include "clinpaint/unmask.h"
#include "unmask_cli.h"
#include "env_options.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clinpaint eval --task detect --detector DET --data MASKIFIED_DIR [options]\n"
            "       clinpaint eval --task unmask --detector DET --model CE --data MASKIFIED_DIR\n"
            "                      [options]\n\n"
            "--task detect: the detector's masks (thresholded) against maskify's true masks on\n"
            "DIR's split, at the detector's size: IoU, Dice and pixel accuracy over all\n"
            "pixels of the split.\n"
            "--task unmask: each masked face of the split goes through unmask at the context\n"
            "encoder's size S, and the result is compared with DIR/original: hole PSNR (over\n"
            "the true mask), whole-image PSNR and SSIM with the detected hole (thresholded\n"
            "and dilated), with the true mask (oracle) and for the mean-colour fill of the\n"
            "true mask (floor), side by side.\n\n"
            "options:\n"
            "  --detector DET     a detector checkpoint (clinpaint train --task detect)\n"
            "  --model CE         a context-encoder checkpoint (--task unmask)\n"
            "  --data DIR         a folder written by clinpaint maskify (required)\n"
            "  --split S          test (default), train or all\n"
            "  --threshold T      mask probability from which a pixel is hole (0.5)\n"
            "  --dilate PX        --task unmask: grow the detected hole by PX pixels\n"
            "                     (default: 1 per 64 px of the model's size)\n"
            "  --max-images N     only the first N images of the split\n"
            "  --batch N          images per run (default 16)\n"
            "  --json             the results as one JSON object on stdout\n"
            "  --device SEL       OpenCL device (P:D or part of its name)\n");
}

typedef struct opts {
    const char *task, *detector, *model, *data, *device;
    cp_split split;
    float threshold;
    int dilate, batch;
    uint64_t max_images;
    bool json;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    const char *cmd = "eval";
    static const char *const flags[] = {"--json", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int rc = cli_option_at(cmd, argc, argv, &i, flags, usage, &v);
        if (rc >= 0) return rc;
        long n;
        double x;
        if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--task") == 0) {
            o->task = v;
        } else if (strcmp(a, "--detector") == 0) {
            o->detector = v;
        } else if (strcmp(a, "--model") == 0) {
            o->model = v;
        } else if (strcmp(a, "--data") == 0) {
            o->data = v;
        } else if (strcmp(a, "--device") == 0) {
            o->device = v;
        } else if (strcmp(a, "--split") == 0) {
            if (strcmp(v, "test") == 0) o->split = CP_SPLIT_TEST;
            else if (strcmp(v, "train") == 0) o->split = CP_SPLIT_TRAIN;
            else if (strcmp(v, "all") == 0) o->split = CP_SPLIT_ALL;
            else return cli_usage_error(cmd, "--split '%s': choose test, train or all", v);
        } else if (strcmp(a, "--threshold") == 0) {
            if (!cli_parse_float(v, 0.001, 0.999, &x)) return cli_usage_error(cmd, "--threshold '%s': a number between 0 and 1", v);
            o->threshold = (float)x;
        } else if (strcmp(a, "--dilate") == 0) {
            if (!cli_parse_int(v, 0, 32, &n)) return cli_usage_error(cmd, "--dilate '%s': pixels from 0 to 32", v);
            o->dilate = (int)n;
        } else if (strcmp(a, "--batch") == 0) {
            if (!cli_parse_int(v, 1, 1024, &n)) return cli_usage_error(cmd, "--batch '%s': a whole number from 1 to 1024", v);
            o->batch = (int)n;
        } else if (strcmp(a, "--max-images") == 0) {
            if (!cli_parse_u64(v, &o->max_images) || o->max_images == 0)
                return cli_usage_error(cmd, "--max-images '%s': a positive whole number", v);
        } else {
            return cli_usage_error(cmd, "unknown option '%s' (with --task %s)", a, o->task);
        }
    }
    if (!o->detector) return cli_usage_error(cmd, "--detector DET is required with --task %s", o->task);
    if (strcmp(o->task, "unmask") == 0 && !o->model)
        return cli_usage_error(cmd, "--model CE is required with --task unmask");
    if (strcmp(o->task, "detect") == 0 && o->model)
        return cli_usage_error(cmd, "--task detect measures the detector alone: --model is for --task unmask");
    if (!o->data) return cli_usage_error(cmd, "--data DIR is required (a folder written by clinpaint maskify)");
    return -1;
}

static void add_metrics(cJSON *j, const char *key, const cp_metrics *m)
{
    cJSON *o = cJSON_AddObjectToObject(j, key);
    double v[3] = {m->hole_psnr, m->psnr, m->ssim};
    const char *names[3] = {"hole_psnr", "psnr", "ssim"};
    for (int k = 0; k < 3; k++)
        if (isfinite(v[k])) cJSON_AddNumberToObject(o, names[k], v[k]);
        else cJSON_AddNullToObject(o, names[k]);
}

static void add_detection(cJSON *j, const cp_detect_metrics *m)
{
    cJSON_AddNumberToObject(j, "iou", m->iou);
    cJSON_AddNumberToObject(j, "dice", m->dice);
    cJSON_AddNumberToObject(j, "pixel_accuracy", m->accuracy);
}

static void print_json(cJSON *j)
{
    char *text = cJSON_Print(j);
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(j);
}

static int eval_detect(const opts *o, cp_context *ctx, cp_detector *d)
{
    cp_detect_metrics m;
    fprintf(stderr, "clinpaint eval: detector %s (%dx%d) on the %s split of %s, on %s ...\n",
            o->detector, d->cfg.size, d->cfg.size, cp_split_name(o->split), o->data,
            cp_context_device(ctx)->name);
    cp_status st = cp_detect_evaluate(d, o->data, o->split, o->threshold, o->max_images, 0, &m);
    if (st != CP_OK) return cli_fail("eval", st);
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "task", "detect");
        cJSON_AddStringToObject(j, "detector", o->detector);
        cJSON_AddStringToObject(j, "data", o->data);
        cJSON_AddStringToObject(j, "split", cp_split_name(o->split));
        cJSON_AddNumberToObject(j, "images", (double)m.images);
        cJSON_AddNumberToObject(j, "size", d->cfg.size);
        cJSON_AddNumberToObject(j, "threshold", o->threshold);
        add_detection(j, &m);
        print_json(j);
    } else {
        printf("detector   %s (%dx%d)\n"
               "data       %s, split %s: %llu images, threshold %.2f\n\n"
               "IoU             %.4f\n"
               "Dice            %.4f\n"
               "pixel accuracy  %.4f\n",
               o->detector, d->cfg.size, d->cfg.size, o->data, cp_split_name(o->split),
               (unsigned long long)m.images, (double)o->threshold, m.iou, m.dice, m.accuracy);
    }
    return CLI_EXIT_OK;
}

static int eval_unmask(const opts *o, cp_context *ctx, cp_detector *d)
{
    cp_checkpoint *ck = NULL;
    cp_model *model = NULL;
    cp_inpainter *ip = NULL;
    cp_status st = cp_checkpoint_open(o->model, &ck);
    if (st == CP_OK) st = cp_checkpoint_load_model(ck, ctx, false, &model);
    if (st == CP_OK) st = cp_inpainter_create(model, o->batch, false, 0.0f, &ip);
    cp_unmask_eval r;
    int S = model ? model->cfg.size : 0;
    const int dilate = o->dilate < 0 ? cp_unmask_default_dilation(S) : o->dilate;
    if (st == CP_OK) {
        fprintf(stderr, "clinpaint eval: unmask with %s and %s on the %s split of %s at %dx%d, on %s ...\n",
                o->detector, o->model, cp_split_name(o->split), o->data, S, S,
                cp_context_device(ctx)->name);
        st = cp_unmask_evaluate(d, ip, S, o->data, o->split, o->threshold, dilate,
                                o->max_images, &r);
    }
    int rc = CLI_EXIT_OK;
    if (st != CP_OK) {
        rc = cli_fail("eval", st);
    } else if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "task", "unmask");
        cJSON_AddStringToObject(j, "detector", o->detector);
        cJSON_AddStringToObject(j, "model", o->model);
        cJSON_AddStringToObject(j, "data", o->data);
        cJSON_AddStringToObject(j, "split", cp_split_name(o->split));
        cJSON_AddNumberToObject(j, "images", (double)r.images);
        cJSON_AddNumberToObject(j, "size", S);
        cJSON_AddNumberToObject(j, "threshold", o->threshold);
        cJSON_AddNumberToObject(j, "dilate", dilate);
        add_metrics(j, "detected", &r.detected);
        add_metrics(j, "oracle", &r.oracle);
        add_metrics(j, "mean_fill", &r.floor);
        add_detection(cJSON_AddObjectToObject(j, "detected_hole"), &r.detection);
        print_json(j);
    } else {
        printf("detector   %s (%dx%d), threshold %.2f, dilation %d px\n"
               "model      %s (%dx%d)\n"
               "data       %s, split %s: %llu images\n"
               "protocol   against original/; hole = the true mask in every column\n\n",
               o->detector, d->cfg.size, d->cfg.size, (double)o->threshold, dilate, o->model, S,
               S, o->data, cp_split_name(o->split), (unsigned long long)r.images);
        printf("%-18s %14s %14s %16s\n", "", "detected mask", "true mask", "mean-fill floor");
        printf("%-18s %14.2f %14.2f %16.2f\n", "hole PSNR (dB)", r.detected.hole_psnr,
               r.oracle.hole_psnr, r.floor.hole_psnr);
        printf("%-18s %14.2f %14.2f %16.2f\n", "PSNR (dB)", r.detected.psnr, r.oracle.psnr,
               r.floor.psnr);
        printf("%-18s %14.4f %14.4f %16.4f\n", "SSIM", r.detected.ssim, r.oracle.ssim, r.floor.ssim);
        printf("\ndetected hole vs true mask at %dx%d: IoU %.4f, Dice %.4f, pixel accuracy %.4f\n", S,
               S, r.detection.iou, r.detection.dice, r.detection.accuracy);
        printf("detected masks are %.2f dB %s the true masks in the hole\n",
               fabs(r.detected.hole_psnr - r.oracle.hole_psnr),
               r.detected.hole_psnr >= r.oracle.hole_psnr ? "above" : "below");
    }
    cp_inpainter_free(ip);
    cp_model_free(model);
    cp_checkpoint_close(ck);
    return rc;
}

int cmd_eval_task(int argc, char **argv, const char *task)
{
    opts o = {.task = task, .split = CP_SPLIT_TEST, .threshold = 0.5f, .dilate = -1, .batch = 16};
    int rc = parse(argc, argv, &o);
    if (rc >= 0) return rc;
    cp_context *ctx = NULL;
    cp_detector *d = NULL;
    cp_status st = env_context_create(o.device, &ctx);
    if (st == CP_OK) st = cp_detector_load(ctx, o.detector, false, &d);
    if (st != CP_OK) {
        rc = cli_fail("eval", st);
    } else {
        rc = strcmp(task, "detect") == 0 ? eval_detect(&o, ctx, d) : eval_unmask(&o, ctx, d);
    }
    cp_detector_free(d);
    cp_context_free(ctx);
    return rc;
}
