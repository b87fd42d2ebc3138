/* The detector's data: maskify's folders, negatives, evaluation counts and
 * sample grids (train/detect_internal.h). */
#include "clinpaint/image.h"
#include "backend/opencl/runtime/check.h"
#include "train/detect_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

cp_status cp_detect_data_open(const char *dir, cp_split split, int S, bool originals,
                              cp_detect_data *out)
{
    memset(out, 0, sizeof *out);
    char masked[1100], mask[1100], orig[1100];
    snprintf(masked, sizeof masked, "%s/masked", dir);
    snprintf(mask, sizeof mask, "%s/mask", dir);
    snprintf(orig, sizeof orig, "%s/original", dir);
    if (!is_dir(masked) || !is_dir(mask))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "%s is not a maskified folder: it needs masked/ and mask/ (made by "
                            "clinpaint maskify --data FACES --out DIR)",
                            dir);
    cp_status st = cp_dataset_open(masked, split, &out->images);
    if (st == CP_OK) st = cp_mask_source_create(mask, S, &out->masks);
    if (st == CP_OK) st = cp_mask_source_check(out->masks, out->images);
    if (st == CP_OK && originals && is_dir(orig)) st = cp_dataset_open(orig, CP_SPLIT_ALL, &out->originals);
    if (st != CP_OK) cp_detect_data_free(out);
    return st;
}

void cp_detect_data_free(cp_detect_data *d)
{
    cp_dataset_free(d->images);
    cp_dataset_free(d->originals);
    cp_mask_source_free(d->masks);
    memset(d, 0, sizeof *d);
}

/* The original of a masked image: the same relative path (maskify writes
 * both as NAME.png); data sets are sorted by relative path. */
bool cp_detect_find_original(const cp_dataset *ds, const char *rel, size_t *at)
{
    size_t lo = 0, hi = cp_dataset_count(ds);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(cp_dataset_relpath(ds, mid), rel);
        if (c == 0) {
            *at = mid;
            return true;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    return x ^ (x >> 33);
}

cp_status cp_detect_negatives(const cp_detect_data *d, const cp_batch *b, uint64_t seed,
                              float share, float *images, float *masks, int *replaced)
{
    *replaced = 0;
    if (!d->originals || share <= 0) return CP_OK;
    int S = b->size;
    size_t plane = (size_t)S * S;
    uint8_t *rgb = malloc(plane * 3);
    if (!rgb) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "negatives");
    cp_status st = CP_OK;
    for (int k = 0; k < b->n && st == CP_OK; k++) {
        uint64_t h = mix(seed * UINT64_C(0x9e3779b97f4a7c15) ^ mix(b->sample_ids[k] + 77));
        if ((double)(h >> 11) * 0x1.0p-53 >= (double)share) continue;
        size_t at;
        if (!cp_detect_find_original(d->originals, b->relpaths[k], &at)) continue;
        st = cp_dataset_load(d->originals, at, S, rgb);
        if (st == CP_ERR_FORMAT) { /* warned about once; the masked sample stays */
            st = CP_OK;
            continue;
        }
        if (st != CP_OK) break;
        cp_rgb_to_chw(rgb, S, b->flipped[k], images + (size_t)k * 3 * plane);
        memset(masks + (size_t)k * plane, 0, plane * sizeof *masks);
        (*replaced)++;
    }
    free(rgb);
    return st;
}

void cp_detect_count(cp_detect_metrics *m, const float *prob, const float *masks, size_t pixels,
                     float threshold)
{
    for (size_t i = 0; i < pixels; i++) {
        bool p = prob[i] >= threshold, t = masks[i] >= 0.5f;
        m->tp += p && t;
        m->fp += p && !t;
        m->fn += !p && t;
        m->tn += !p && !t;
    }
    uint64_t tp = m->tp, fp = m->fp, fn = m->fn, all = tp + fp + fn + m->tn;
    m->iou = tp + fp + fn ? (double)tp / (double)(tp + fp + fn) : 1.0;
    m->dice = tp + fp + fn ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : 1.0;
    m->accuracy = all ? (double)(tp + m->tn) / (double)all : 1.0;
}

cp_status cp_detect_evaluate_with(cp_detector *d, cp_detector_graph *inf,
                                  const cp_detect_data *data, float threshold,
                                  uint64_t max_images, int threads, cp_detect_metrics *out)
{
    memset(out, 0, sizeof *out);
    int S = d->cfg.size;
    cp_loader_options lo = cp_loader_defaults();
    lo.size = S;
    lo.batch = inf->batch;
    lo.train = false;
    lo.threads = threads;
    lo.cache_bytes = 0;
    lo.masks = data->masks;
    cp_loader *ld;
    CP_TRY(cp_loader_create(data->images, &lo, &ld));
    size_t plane = (size_t)S * S;
    float *prob = malloc((size_t)inf->batch * plane * sizeof *prob);
    cp_status st = prob ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "evaluation");
    uint64_t batches = cp_loader_batches_per_epoch(ld);
    for (uint64_t i = 0; i < batches && st == CP_OK; i++) {
        if (max_images && out->images >= max_images) break;
        const cp_batch *b;
        st = cp_loader_next(ld, &b);
        if (st != CP_OK) break;
        int n = b->n;
        if (max_images && out->images + (uint64_t)n > max_images) n = (int)(max_images - out->images);
        st = cp_detector_predict(d, inf, b->images, n, prob);
        if (st != CP_OK) break;
        cp_detect_count(out, prob, b->masks, (size_t)n * plane, threshold);
        out->images += (uint64_t)n;
    }
    free(prob);
    cp_loader_free(ld);
    return st;
}

/* A one-channel mask in [0, 1] as a grey 3-channel image in [-1, 1]. */
static void mask_to_rgb(const float *m, size_t plane, float *rgb)
{
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < plane; i++) rgb[c * plane + i] = 2.0f * m[i] - 1.0f;
}

cp_status cp_detect_write_samples(const char *path, cp_detector *d, cp_detector_graph *inf,
                                  const cp_detect_data *data, int count)
{
    int S = d->cfg.size;
    size_t plane = (size_t)S * S, avail = cp_dataset_count(data->images);
    if ((size_t)count > avail) count = (int)avail;
    if (count > inf->batch) count = inf->batch;
    if (count < 1) return CP_OK;
    float *img = malloc((size_t)count * 3 * plane * sizeof *img);
    float *truth = malloc((size_t)count * plane * sizeof *truth);
    float *prob = malloc((size_t)count * plane * sizeof *prob);
    float *cells = malloc((size_t)count * 2 * 3 * plane * sizeof *cells);
    const float **grid = malloc((size_t)count * 3 * sizeof *grid);
    uint8_t *rgb = malloc(plane * 3);
    cp_status st = img && truth && prob && cells && grid && rgb
                       ? CP_OK
                       : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "sample grid");
    for (int k = 0; k < count && st == CP_OK; k++) {
        st = cp_dataset_load(data->images, (size_t)k, S, rgb);
        if (st != CP_OK) break;
        cp_rgb_to_chw(rgb, S, 0, img + (size_t)k * 3 * plane);
        st = cp_mask_source_get(data->masks, cp_dataset_relpath(data->images, (size_t)k), 0, 0,
                                truth + (size_t)k * plane);
    }
    if (st == CP_OK) st = cp_detector_predict(d, inf, img, count, prob);
    for (int k = 0; k < count && st == CP_OK; k++) {
        float *p = cells + (size_t)(2 * k) * 3 * plane, *t = p + 3 * plane;
        mask_to_rgb(prob + (size_t)k * plane, plane, p);
        mask_to_rgb(truth + (size_t)k * plane, plane, t);
        grid[3 * k] = img + (size_t)k * 3 * plane;
        grid[3 * k + 1] = p;
        grid[3 * k + 2] = t;
    }
    if (st == CP_OK) st = cp_image_write_grid_png(path, grid, 3 * count, 3, S);
    free(img);
    free(truth);
    free(prob);
    free(cells);
    free(grid);
    free(rgb);
    return st;
}
