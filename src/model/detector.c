/* The mask detector (clinpaint/detector.h): presets, its tensors (a
 * cp_model built from cp_detector_layers) and its checkpoints. */
#include "clinpaint/detector.h"
#include "clinpaint/safetensors.h"
#include "backend/opencl/runtime/check.h"
#include "model/checkpoint_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cp_status cp_detector_config_preset(const char *name, cp_detector_config *out)
{
    static const struct {
        const char *name;
        int size, levels, widths[CP_DETECTOR_MAX_LEVELS];
    } presets[] = {
        {"tiny", 64, 4, {8, 16, 32, 64, 0}},
        {"small", 128, 4, {12, 24, 48, 96, 0}},
    };
    for (size_t i = 0; name && i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i].name) != 0) continue;
        memset(out, 0, sizeof *out);
        snprintf(out->preset, sizeof out->preset, "%s", name);
        out->size = presets[i].size;
        out->levels = presets[i].levels;
        memcpy(out->widths, presets[i].widths, sizeof out->widths);
        return CP_OK;
    }
    return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                        "unknown detector preset '%s' (choose tiny or small)", name ? name : "");
}

cp_status cp_detector_config_validate(const cp_detector_config *c)
{
    if (c->size < 16 || c->size > 512 || (c->size & (c->size - 1)) != 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "detector size %d must be a power of two from 16 to 512", c->size);
    if (c->levels < 2 || c->levels > CP_DETECTOR_MAX_LEVELS)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "detector levels %d must be in 2..%d",
                            c->levels, CP_DETECTOR_MAX_LEVELS);
    if ((c->size >> (c->levels - 1)) < 4)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "detector size %d is too small for %d levels (the bottom would be "
                            "under 4 px)",
                            c->size, c->levels);
    for (int i = 0; i < c->levels; i++)
        if (c->widths[i] < 1 || c->widths[i] > 1024)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT, "detector width %d = %d must be in 1..1024",
                                i + 1, c->widths[i]);
    return CP_OK;
}

cp_status cp_detector_create(cp_context *ctx, const cp_detector_config *cfg, cp_detector **out)
{
    *out = NULL;
    cp_layer_table table;
    CP_TRY(cp_detector_layers(cfg, &table));
    cp_detector *d = calloc(1, sizeof *d);
    if (!d) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "detector");
    d->cfg = *cfg;
    cp_status st = cp_model_create_layers(ctx, &table, &d->net);
    if (st != CP_OK) {
        free(d);
        return st;
    }
    *out = d;
    return CP_OK;
}

void cp_detector_free(cp_detector *d)
{
    if (!d) return;
    cp_model_free(d->net);
    free(d);
}

cp_status cp_detector_init(cp_detector *d, uint64_t seed) { return cp_model_init(d->net, seed); }

/* ---- checkpoints ---- */

static cp_status add_tensor(cp_st_writer *w, cp_context *ctx, const char *name,
                            const cp_tensor *t, float *host)
{
    CP_TRY(cp_tensor_download(ctx, t, host));
    return cp_st_writer_add_f32(w, name, t->ndim, t->shape, host);
}

cp_status cp_detector_save(const cp_detector *d, const char *path, const cp_meta_entry *extra,
                           int extra_count)
{
    const cp_model *m = d->net;
    size_t max = 1;
    for (int i = 0; i < m->count; i++)
        if (cp_tensor_numel(&m->tensors[i].value) > max) max = cp_tensor_numel(&m->tensors[i].value);
    float *host = malloc(max * sizeof *host);
    if (!host) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "detector checkpoint");
    cp_st_writer *w = NULL;
    cp_status st = cp_st_writer_create(&w);
    char name[CP_NAME_MAX + 24];
    for (int i = 0; i < m->count && st == CP_OK; i++)
        st = add_tensor(w, m->ctx, m->tensors[i].name, &m->tensors[i].value, host);
    for (int i = 0; i < m->count && st == CP_OK; i++) {
        const cp_model_tensor *t = &m->tensors[i];
        snprintf(name, sizeof name, "opt.detector.m.%s", t->name);
        st = add_tensor(w, m->ctx, name, &t->m, host);
        snprintf(name, sizeof name, "opt.detector.v.%s", t->name);
        if (st == CP_OK) st = add_tensor(w, m->ctx, name, &t->v, host);
    }
    free(host);
    const cp_detector_config *c = &d->cfg;
    char size[16], levels[16], widths[96] = "", step[32];
    snprintf(size, sizeof size, "%d", c->size);
    snprintf(levels, sizeof levels, "%d", c->levels);
    for (int i = 0; i < c->levels; i++) {
        size_t k = strlen(widths);
        snprintf(widths + k, sizeof widths - k, i ? ",%d" : "%d", c->widths[i]);
    }
    snprintf(step, sizeof step, "%" PRId64, m->step_g);
    const cp_meta_entry base[] = {{"format", CP_DETECTOR_FORMAT}, {"preset", c->preset},
                                  {"size", size}, {"levels", levels}, {"widths", widths},
                                  {"step_adam", step}};
    for (size_t i = 0; i < sizeof base / sizeof base[0] && st == CP_OK; i++)
        st = cp_st_writer_set_meta(w, base[i].key, base[i].value);
    for (int i = 0; i < extra_count && st == CP_OK; i++)
        st = cp_st_writer_set_meta(w, extra[i].key, extra[i].value);
    if (st == CP_OK) st = cp_st_writer_save(w, path);
    cp_st_writer_free(w);
    return st;
}

/* The configuration in the metadata, every number checked. */
static cp_status read_config(const cp_st_file *f, const char *path, cp_detector_config *c)
{
    memset(c, 0, sizeof *c);
    const char *format = cp_st_meta(f, "format");
    if (!format || strcmp(format, CP_DETECTOR_FORMAT) != 0)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s is not a clinpaint detector checkpoint (metadata format is "
                            "%s%.64s%s, expected \"%s\"%s)",
                            path, format ? "\"" : "missing", format ? format : "",
                            format ? "\"" : "", CP_DETECTOR_FORMAT,
                            format && strcmp(format, CP_CHECKPOINT_FORMAT) == 0
                                ? ": it is a context encoder, give it to --model"
                                : "");
    const char *preset = cp_st_meta(f, "preset"), *widths = cp_st_meta(f, "widths");
    uint64_t size, levels;
    if (!cp_parse_u64_strict(cp_st_meta(f, "size"), 16, 512, &size) ||
        !cp_parse_u64_strict(cp_st_meta(f, "levels"), 2, CP_DETECTOR_MAX_LEVELS, &levels) ||
        !widths)
        return cp_set_error(CP_ERR_FORMAT, "%s: detector size, levels or widths missing or out "
                                           "of range in the metadata",
                            path);
    snprintf(c->preset, sizeof c->preset, "%s", preset ? preset : "custom");
    c->size = (int)size;
    c->levels = (int)levels;
    const char *p = widths;
    for (int i = 0; i < c->levels; i++) {
        char num[16];
        size_t k = strcspn(p, ",");
        uint64_t w;
        if (k == 0 || k >= sizeof num) return cp_set_error(CP_ERR_FORMAT, "%s: bad widths '%.64s'", path, widths);
        memcpy(num, p, k);
        num[k] = 0;
        if (!cp_parse_u64_strict(num, 1, 1024, &w))
            return cp_set_error(CP_ERR_FORMAT, "%s: bad widths '%.64s'", path, widths);
        c->widths[i] = (int)w;
        p += k;
        if (*p == ',') p++;
        else if (i + 1 < c->levels)
            return cp_set_error(CP_ERR_FORMAT, "%s: widths '%.64s' has fewer than %d entries",
                                path, widths, c->levels);
    }
    if (*p) return cp_set_error(CP_ERR_FORMAT, "%s: widths '%.64s' has more than %d entries", path, widths, c->levels);
    cp_status st = cp_detector_config_validate(c);
    if (st != CP_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cp_last_error());
        return cp_set_error(CP_ERR_FORMAT, "%s: bad configuration: %s", path, msg);
    }
    return CP_OK;
}

static cp_status load_tensor(const cp_st_file *f, const char *path, cp_context *ctx,
                             const char *name, cp_tensor *t, float *host)
{
    if (!cp_st_find(f, name))
        return cp_set_error(CP_ERR_FORMAT, "%s: tensor %s is missing", path, name);
    CP_TRY(cp_st_get_f32(f, name, t->ndim, t->shape, host));
    size_t n = cp_tensor_numel(t);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(host[i]))
            return cp_set_error(CP_ERR_NUMERIC,
                                "%s: tensor %s holds a non-finite value at element %zu: the "
                                "checkpoint is corrupt or comes from a diverged run",
                                path, name, i);
    return cp_tensor_upload(ctx, t, host);
}

cp_status cp_detector_load(cp_context *ctx, const char *path, bool with_optimizer,
                           cp_detector **out)
{
    *out = NULL;
    cp_st_file *f;
    CP_TRY(cp_st_open(path, &f));
    cp_detector_config cfg;
    cp_detector *d = NULL;
    cp_status st = read_config(f, path, &cfg);
    /* The metadata sizes the network: before allocating it, the file must
     * hold at least that many values (a hostile "widths" allocates nothing). */
    cp_layer_table table;
    if (st == CP_OK) st = cp_detector_layers(&cfg, &table);
    uint64_t params = 0, held = 0;
    for (int i = 0; st == CP_OK && i < table.count; i++) {
        const cp_layer *l = &table.layers[i];
        uint64_t k = (uint64_t)cp_layer_kernel(l);
        params += (uint64_t)l->c_in * (uint64_t)l->c_out * k * k + (uint64_t)l->c_out;
    }
    for (size_t i = 0; st == CP_OK && i < cp_st_count(f); i++)
        if (strncmp(cp_st_at(f, i)->name, "opt.", 4) != 0) held += cp_st_at(f, i)->numel;
    if (st == CP_OK && held < params)
        st = cp_set_error(CP_ERR_FORMAT,
                          "%s: its configuration has %llu parameters but the file holds %llu "
                          "values: it does not match its own configuration",
                          path, (unsigned long long)params, (unsigned long long)held);
    if (st == CP_OK) st = cp_detector_create(ctx, &cfg, &d);
    float *host = NULL;
    if (st == CP_OK) {
        size_t max = 1;
        for (int i = 0; i < d->net->count; i++)
            if (cp_tensor_numel(&d->net->tensors[i].value) > max)
                max = cp_tensor_numel(&d->net->tensors[i].value);
        host = malloc(max * sizeof *host);
        if (!host) st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "detector checkpoint");
    }
    char name[CP_NAME_MAX + 24];
    for (int i = 0; st == CP_OK && i < d->net->count; i++) {
        cp_model_tensor *t = &d->net->tensors[i];
        st = load_tensor(f, path, ctx, t->name, &t->value, host);
        if (st != CP_OK) break;
        if (with_optimizer) {
            snprintf(name, sizeof name, "opt.detector.m.%s", t->name);
            st = load_tensor(f, path, ctx, name, &t->m, host);
            snprintf(name, sizeof name, "opt.detector.v.%s", t->name);
            if (st == CP_OK) st = load_tensor(f, path, ctx, name, &t->v, host);
        } else {
            st = cp_tensor_fill(ctx, &t->m, 0.0f);
            if (st == CP_OK) st = cp_tensor_fill(ctx, &t->v, 0.0f);
        }
    }
    free(host);
    if (st == CP_OK && with_optimizer) {
        uint64_t step;
        if (!cp_parse_u64_strict(cp_st_meta(f, "step_adam"), 0, INT64_MAX, &step))
            st = cp_set_error(CP_ERR_FORMAT, "%s: step_adam metadata missing or malformed", path);
        else
            d->net->step_g = (int64_t)step;
    }
    cp_st_close(f);
    if (st == CP_OK) st = cp_context_finish(ctx);
    if (st != CP_OK) {
        cp_detector_free(d);
        return st;
    }
    *out = d;
    return CP_OK;
}

bool cp_detector_meta(const char *path, const char *key, char *buf, size_t size)
{
    cp_st_file *f;
    if (cp_st_open(path, &f) != CP_OK) return false;
    const char *v = cp_st_meta(f, key);
    if (v) snprintf(buf, size, "%s", v);
    cp_st_close(f);
    return v != NULL;
}
