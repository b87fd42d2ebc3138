/* Checkpoints: model tensors and Adam state in safetensors, configuration
 * and run state in its metadata. */
#include "clinpaint/checkpoint.h"
#include "clinpaint/safetensors.h"
#include "clinpaint/train.h"
#include "backend/opencl/runtime/check.h"
#include "model/checkpoint_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cp_checkpoint {
    cp_st_file *file;
    cp_model_config cfg;
    char path[1024];
};

static const char *net_of(const cp_model_tensor *t) { return t->group == CP_GROUP_G ? "G" : "D"; }

static cp_status add_tensor(cp_st_writer *w, cp_context *ctx, const char *name,
                            const cp_tensor *t, float *host)
{
    CP_TRY(cp_tensor_download(ctx, t, host));
    return cp_st_writer_add_f32(w, name, t->ndim, t->shape, host);
}

cp_status cp_checkpoint_save(const cp_model *m, const char *path, const cp_meta_entry *extra,
                             int extra_count)
{
    size_t max = 0;
    for (int i = 0; i < m->count; i++)
        if (cp_tensor_numel(&m->tensors[i].value) > max) max = cp_tensor_numel(&m->tensors[i].value);
    float *host = malloc((max ? max : 1) * sizeof *host);
    cp_st_writer *w = NULL;
    if (!host) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "checkpoint");
    cp_status st = cp_st_writer_create(&w);
    char name[CP_NAME_MAX + 16];
    for (int i = 0; i < m->count && st == CP_OK; i++)
        st = add_tensor(w, m->ctx, m->tensors[i].name, &m->tensors[i].value, host);
    for (int i = 0; i < m->count && st == CP_OK; i++) {
        const cp_model_tensor *t = &m->tensors[i];
        if (!t->trainable) continue;
        snprintf(name, sizeof name, "opt.%s.m.%s", net_of(t), t->name);
        st = add_tensor(w, m->ctx, name, &t->m, host);
        if (st != CP_OK) break;
        snprintf(name, sizeof name, "opt.%s.v.%s", net_of(t), t->name);
        st = add_tensor(w, m->ctx, name, &t->v, host);
    }
    free(host);
    const cp_model_config *c = &m->cfg;
    char widths[96], size[16], latent[16], step_g[32], step_d[32];
    snprintf(widths, sizeof widths, "%d,%d,%d,%d,%d,%d", c->widths[0], c->widths[1], c->widths[2],
             c->widths[3], c->widths[4], c->widths[5]);
    snprintf(size, sizeof size, "%d", c->size);
    snprintf(latent, sizeof latent, "%d", c->latent);
    snprintf(step_g, sizeof step_g, "%" PRId64, m->step_g);
    snprintf(step_d, sizeof step_d, "%" PRId64, m->step_d);
    const cp_meta_entry base[] = {
        {"format", CP_CHECKPOINT_FORMAT}, {"preset", c->preset}, {"size", size},
        {"widths", widths}, {"latent", latent}, {"batchnorm", c->batchnorm ? "1" : "0"},
        {"step_g", step_g}, {"step_d", step_d},
    };
    for (size_t i = 0; i < sizeof base / sizeof base[0] && st == CP_OK; i++)
        st = cp_st_writer_set_meta(w, base[i].key, base[i].value);
    for (int i = 0; i < extra_count && st == CP_OK; i++)
        st = cp_st_writer_set_meta(w, extra[i].key, extra[i].value);
    if (st == CP_OK) st = cp_st_writer_save(w, path);
    cp_st_writer_free(w);
    return st;
}

cp_status cp_checkpoint_open(const char *path, cp_checkpoint **out)
{
    *out = NULL;
    cp_checkpoint *c = calloc(1, sizeof *c);
    if (!c) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "checkpoint");
    snprintf(c->path, sizeof c->path, "%s", path);
    cp_status st = cp_st_open(path, &c->file);
    if (st != CP_OK) {
        free(c);
        return st;
    }
    const char *format = cp_st_meta(c->file, "format");
    if (!format || strcmp(format, CP_CHECKPOINT_FORMAT) != 0) {
        /* The message first: `format` lives in the file's memory. */
        st = cp_set_error(CP_ERR_FORMAT,
                          "%s is a safetensors file but not a clinpaint checkpoint (metadata "
                          "format is %s%.64s%s, expected \"%s\")",
                          path, format ? "\"" : "missing", format ? format : "",
                          format ? "\"" : "", CP_CHECKPOINT_FORMAT);
        cp_checkpoint_close(c);
        return st;
    }
    st = cp_checkpoint_check_meta(c->file, path, &c->cfg);
    if (st != CP_OK) {
        cp_checkpoint_close(c);
        return st;
    }
    const cp_model_config *cfg = &c->cfg;
    st = cp_model_config_validate(cfg);
    if (st != CP_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cp_last_error());
        cp_checkpoint_close(c);
        return cp_set_error(CP_ERR_FORMAT, "%s: bad configuration: %s", path, msg);
    }
    *out = c;
    return CP_OK;
}

void cp_checkpoint_close(cp_checkpoint *c)
{
    if (!c) return;
    cp_st_close(c->file);
    free(c);
}

const cp_model_config *cp_checkpoint_config(const cp_checkpoint *c) { return &c->cfg; }

const char *cp_checkpoint_meta(const cp_checkpoint *c, const char *key)
{
    return cp_st_meta(c->file, key);
}

bool cp_checkpoint_has_optimizer(const cp_checkpoint *c)
{
    for (size_t i = 0; i < cp_st_count(c->file); i++)
        if (strncmp(cp_st_at(c->file, i)->name, "opt.", 4) == 0) return true;
    return false;
}

static cp_status load_tensor(const cp_checkpoint *c, cp_context *ctx, const char *name,
                             cp_tensor *t, float *host)
{
    if (!cp_st_find(c->file, name))
        return cp_set_error(CP_ERR_FORMAT, "%s: tensor %s is missing (the file does not match "
                                           "its own configuration)",
                            c->path, name);
    CP_TRY(cp_st_get_f32(c->file, name, t->ndim, t->shape, host));
    /* NaN or Inf weights make every output NaN (an all-black image) with no
     * error anywhere later: refuse them here, by name. */
    size_t n = cp_tensor_numel(t);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(host[i]))
            return cp_set_error(CP_ERR_NUMERIC,
                                "%s: tensor %s holds a non-finite value (%s at element %zu): the "
                                "checkpoint is corrupt or comes from a diverged run",
                                c->path, name, isnan(host[i]) ? "NaN" : "Inf", i);
    return cp_tensor_upload(ctx, t, host);
}

static bool parse_i64(const char *s, int64_t *out)
{
    uint64_t v;
    if (!cp_parse_u64_strict(s, 0, INT64_MAX, &v)) return false;
    *out = (int64_t)v;
    return true;
}

cp_status cp_checkpoint_load_model(const cp_checkpoint *c, cp_context *ctx, bool with_optimizer,
                                   cp_model **out)
{
    *out = NULL;
    if (with_optimizer && !cp_checkpoint_has_optimizer(c))
        return cp_set_error(CP_ERR_FORMAT,
                            "%s holds no optimizer state (opt.*): it can run inpaint and eval "
                            "but cannot resume training",
                            c->path);
    /* The configuration in the metadata sizes the model: before building
     * it, check that the file really holds that many weights (a hostile
     * "widths" must not allocate gigabytes) and that they fit in memory. */
    uint64_t params = cp_model_config_params(&c->cfg), held = 0;
    for (size_t i = 0; i < cp_st_count(c->file); i++) {
        const cp_st_tensor *t = cp_st_at(c->file, i);
        if (strncmp(t->name, "opt.", 4) != 0) held += t->numel;
    }
    if (held < params)
        return cp_set_error(CP_ERR_FORMAT,
                            "%s: its configuration (size %d, widths %d,%d,%d,%d,%d,%d, latent %d) "
                            "has %llu parameters but the file holds %llu values: it does not match "
                            "its own configuration",
                            c->path, c->cfg.size, c->cfg.widths[0], c->cfg.widths[1],
                            c->cfg.widths[2], c->cfg.widths[3], c->cfg.widths[4], c->cfg.widths[5],
                            c->cfg.latent, (unsigned long long)params, (unsigned long long)held);
    uint64_t avail = cp_host_memory_available(), need = params * 4 * 3;
    if (avail && need > avail)
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY,
                            "%s: this model needs %.2f GiB of host memory (weights and Adam "
                            "state), %.2f GiB available",
                            c->path, (double)need / (1u << 30), (double)avail / (1u << 30));
    cp_model *m;
    CP_TRY(cp_model_create(ctx, &c->cfg, &m));
    size_t max = 0;
    for (int i = 0; i < m->count; i++)
        if (cp_tensor_numel(&m->tensors[i].value) > max) max = cp_tensor_numel(&m->tensors[i].value);
    float *host = malloc(max * sizeof *host);
    cp_status st = host ? CP_OK : cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "checkpoint");
    char name[CP_NAME_MAX + 16];
    for (int i = 0; i < m->count && st == CP_OK; i++) {
        cp_model_tensor *t = &m->tensors[i];
        st = load_tensor(c, ctx, t->name, &t->value, host);
        if (st != CP_OK || !t->trainable) continue;
        if (with_optimizer) {
            snprintf(name, sizeof name, "opt.%s.m.%s", net_of(t), t->name);
            st = load_tensor(c, ctx, name, &t->m, host);
            snprintf(name, sizeof name, "opt.%s.v.%s", net_of(t), t->name);
            if (st == CP_OK) st = load_tensor(c, ctx, name, &t->v, host);
        } else {
            st = cp_tensor_fill(ctx, &t->m, 0.0f);
            if (st == CP_OK) st = cp_tensor_fill(ctx, &t->v, 0.0f);
        }
    }
    free(host);
    if (st == CP_OK && with_optimizer &&
        (!parse_i64(cp_st_meta(c->file, "step_g"), &m->step_g) ||
         !parse_i64(cp_st_meta(c->file, "step_d"), &m->step_d)))
        st = cp_set_error(CP_ERR_FORMAT, "%s: step_g/step_d metadata missing or malformed",
                          c->path);
    if (st == CP_OK) st = cp_context_finish(ctx);
    if (st != CP_OK) {
        cp_model_free(m);
        return st;
    }
    *out = m;
    return CP_OK;
}
