/* The unmask chain against the truth (clinpaint/unmask.h): detected hole
 * vs true hole (oracle) vs the mean-colour fill, over a maskified split. */
#include "clinpaint/image.h"
#include "backend/opencl/runtime/check.h"
#include "train/detect_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct eval_bufs {
    float *xs, *xd, *orig, *truth, *hole, *prob, *y, *fill;
    uint8_t *rgb;
} eval_bufs;

static void bufs_free(eval_bufs *b)
{
    free(b->xs);
    free(b->xd);
    free(b->orig);
    free(b->truth);
    free(b->hole);
    free(b->prob);
    free(b->y);
    free(b->fill);
    free(b->rgb);
}

static cp_status load_chw(const cp_dataset *ds, size_t i, int S, uint8_t *rgb, float *out)
{
    CP_TRY(cp_dataset_load(ds, i, S, rgb));
    cp_rgb_to_chw(rgb, S, 0, out);
    return CP_OK;
}

/* One batch of n images: detect, inpaint twice, score three ways. */
static cp_status score(cp_detector *d, cp_detector_graph *inf, cp_inpainter *ip, int S, int n,
                       float threshold, int dilate, eval_bufs *b, cp_metrics_acc acc[3],
                       cp_detect_metrics *det)
{
    const int D = d->cfg.size;
    const size_t px = (size_t)S * S, dpx = (size_t)D * D;
    CP_TRY(cp_detector_predict(d, inf, b->xd, n, b->prob));
    for (int k = 0; k < n; k++) {
        size_t holes;
        CP_TRY(cp_unmask_hole(b->prob + (size_t)k * dpx, D, S, threshold, dilate,
                              b->hole + (size_t)k * px, &holes));
    }
    cp_detect_count(det, b->hole, b->truth, (size_t)n * px, 0.5f);
    /* Detected, then oracle: the true mask's own fill (a last partial batch
     * gets the inpainter's graph of its own size). */
    for (int pass = 0; pass < 2; pass++) {
        CP_TRY(cp_inpainter_run(ip, n, b->xs, pass == 0 ? b->hole : b->truth, b->y, NULL, NULL));
        for (int k = 0; k < n; k++)
            CP_TRY(cp_metrics_add(&acc[pass], b->y + (size_t)k * 3 * px, b->orig + (size_t)k * 3 * px,
                                  b->truth + (size_t)k * px, S));
    }
    for (int k = 0; k < n; k++) {
        CP_TRY(cp_mean_fill(b->xs + (size_t)k * 3 * px, b->truth + (size_t)k * px, S, b->fill));
        CP_TRY(cp_metrics_add(&acc[2], b->fill, b->orig + (size_t)k * 3 * px,
                              b->truth + (size_t)k * px, S));
    }
    return CP_OK;
}

cp_status cp_unmask_evaluate(cp_detector *d, cp_inpainter *ip, int S, const char *data_dir,
                             cp_split split, float threshold, int dilate, uint64_t max_images,
                             cp_unmask_eval *out)
{
    memset(out, 0, sizeof *out);
    cp_detect_data data;
    CP_TRY(cp_detect_data_open(data_dir, split, S, true, &data));
    if (!data.originals) {
        cp_detect_data_free(&data);
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s has no original/ folder (the faces before masking), needed to "
                            "score the unmasked faces",
                            data_dir);
    }
    const int B = cp_inpainter_batch(ip), D = d->cfg.size;
    const size_t px = (size_t)S * S, dpx = (size_t)D * D, nb = (size_t)B;
    eval_bufs b = {malloc(nb * 3 * px * sizeof(float)), malloc(nb * 3 * dpx * sizeof(float)),
                   malloc(nb * 3 * px * sizeof(float)), malloc(nb * px * sizeof(float)),
                   malloc(nb * px * sizeof(float)),     malloc(nb * dpx * sizeof(float)),
                   malloc(nb * 3 * px * sizeof(float)), malloc(3 * px * sizeof(float)),
                   malloc(3 * (px > dpx ? px : dpx))};
    cp_detector_graph inf = {0};
    cp_status st = b.xs && b.xd && b.orig && b.truth && b.hole && b.prob && b.y && b.fill && b.rgb
                       ? cp_detector_build_infer(d, B, &inf)
                       : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "unmask evaluation");
    cp_plan_options po = cp_plan_defaults();
    if (st == CP_OK) st = cp_graph_plan(inf.graph, &po);
    cp_metrics_acc acc[3];
    for (int k = 0; k < 3; k++) cp_metrics_init(&acc[k]);
    size_t count = cp_dataset_count(data.images);
    if (max_images && max_images < count) count = (size_t)max_images;
    int n = 0;
    for (size_t i = 0; i < count && st == CP_OK; i++) {
        const char *rel = cp_dataset_relpath(data.images, i);
        size_t o;
        if (!cp_detect_find_original(data.originals, rel, &o)) {
            st = cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s/original has no %s", data_dir, rel);
            break;
        }
        st = load_chw(data.images, i, S, b.rgb, b.xs + (size_t)n * 3 * px);
        if (st == CP_OK) st = load_chw(data.images, i, D, b.rgb, b.xd + (size_t)n * 3 * dpx);
        if (st == CP_OK) st = load_chw(data.originals, o, S, b.rgb, b.orig + (size_t)n * 3 * px);
        if (st == CP_OK) st = cp_mask_source_get(data.masks, rel, 0, 0, b.truth + (size_t)n * px);
        if (st == CP_ERR_FORMAT) { /* an unreadable file: warned about, left out */
            st = CP_OK;
            continue;
        }
        if (st == CP_OK && ++n == B) {
            st = score(d, &inf, ip, S, n, threshold, dilate, &b, acc, &out->detection);
            out->images += (uint64_t)n;
            n = 0;
        }
    }
    if (st == CP_OK && n > 0) {
        st = score(d, &inf, ip, S, n, threshold, dilate, &b, acc, &out->detection);
        out->images += (uint64_t)n;
    }
    if (st == CP_OK) st = cp_metrics_result(&acc[0], &out->detected);
    if (st == CP_OK) st = cp_metrics_result(&acc[1], &out->oracle);
    if (st == CP_OK) st = cp_metrics_result(&acc[2], &out->floor);
    out->detection.images = out->images;
    cp_detector_graph_free(&inf);
    bufs_free(&b);
    cp_detect_data_free(&data);
    return st;
}
