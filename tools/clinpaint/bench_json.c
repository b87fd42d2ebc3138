/* clinpaint bench's JSON file: one device's results as an entry, and
 * reading a saved file back (--load, --compare). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bench_cli.h"
#include "cli_util.h"
#include "clinpaint/files.h"
#include "clinpaint/clinpaint.h"

static cJSON *stat_json(const cp_bench_stat *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "median", s->median);
    cJSON_AddNumberToObject(o, "min", s->min);
    cJSON_AddNumberToObject(o, "q1", s->q1);
    cJSON_AddNumberToObject(o, "q3", s->q3);
    cJSON_AddNumberToObject(o, "max", s->max);
    cJSON_AddNumberToObject(o, "runs", s->runs);
    return o;
}

static cJSON *iteration_json(const cp_bench_iteration *it)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "batch", it->batch);
    cJSON_AddBoolToObject(o, "fits", it->fits);
    if (!it->fits) {
        cJSON_AddNullToObject(o, "images_per_s");
        cJSON_AddStringToObject(o, "note", it->note);
        return o;
    }
    cJSON_AddNumberToObject(o, "images_per_s", it->images_per_s);
    cJSON_AddItemToObject(o, "ms", stat_json(&it->ms));
    cJSON_AddNumberToObject(o, "idle_share", it->idle_share);
    cJSON_AddNumberToObject(o, "profiled_wall_ms", it->profiled_wall_ms);
    cJSON_AddNumberToObject(o, "profiled_busy_ms", it->profiled_busy_ms);
    cJSON_AddNumberToObject(o, "arena_bytes", (double)it->arena_bytes);
    cJSON_AddNumberToObject(o, "model_bytes", (double)it->model_bytes);
    cJSON_AddNumberToObject(o, "peak_bytes", (double)it->peak_bytes);
    return o;
}

cJSON *bench_device_json(const cp_bench_result *r, cJSON *startup)
{
    cJSON *d = cJSON_CreateObject();
    char sel[32];
    snprintf(sel, sizeof sel, "%d:%d", r->device.platform_index, r->device.device_index);
    cJSON_AddStringToObject(d, "id", sel);
    cJSON_AddStringToObject(d, "name", r->device.name);
    cJSON_AddStringToObject(d, "vendor", r->device.vendor);
    cJSON_AddStringToObject(d, "type", r->device.type_name);
    cJSON_AddStringToObject(d, "platform", r->device.platform_name);
    cJSON_AddStringToObject(d, "platform_version", r->device.platform_version);
    cJSON_AddStringToObject(d, "driver_version", r->device.driver_version);
    cJSON_AddNumberToObject(d, "compute_units", r->device.compute_units);
    cJSON_AddStringToObject(d, "preset", r->preset);
    cJSON_AddNumberToObject(d, "image_size", r->image_size);
    cJSON_AddStringToObject(d, "gemm_route", r->gemm_route);
    cJSON *g = cJSON_AddArrayToObject(d, "gemm");
    for (int i = 0; i < r->gemm_count; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n", r->gemm[i].n);
        cJSON_AddStringToObject(o, "route", r->gemm[i].route);
        cJSON_AddNumberToObject(o, "gflops", r->gemm[i].gflops);
        cJSON_AddItemToObject(o, "ms", stat_json(&r->gemm[i].ms));
        cJSON_AddItemToArray(g, o);
    }
    cJSON_AddNumberToObject(d, "gemm_ceiling_gflops", r->gemm_ceiling_gflops);
    cJSON *bw = cJSON_AddObjectToObject(d, "bandwidth");
    cJSON_AddNumberToObject(bw, "gbs", r->bandwidth_gbs);
    cJSON_AddNumberToObject(bw, "bytes", (double)r->bandwidth_bytes);
    cJSON_AddItemToObject(bw, "ms", stat_json(&r->bandwidth_ms));
    cJSON_AddNumberToObject(d, "ridge_flop_per_byte", r->ridge_flop_per_byte);
    cJSON_AddNumberToObject(d, "layers_batch", r->layers_batch);
    cJSON *ls = cJSON_AddArrayToObject(d, "layers");
    for (int i = 0; i < r->layer_count; i++) {
        const cp_bench_layer_type *t = &r->layers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddNumberToObject(o, "shapes", t->shapes);
        cJSON_AddNumberToObject(o, "uses", t->uses);
        cJSON_AddItemToObject(o, "fwd_ms", stat_json(&t->fwd_ms));
        cJSON_AddItemToObject(o, "bwd_ms", stat_json(&t->bwd_ms));
        cJSON_AddNumberToObject(o, "fwd_gflop", t->fwd_gflop);
        cJSON_AddNumberToObject(o, "bwd_gflop", t->bwd_gflop);
        cJSON_AddNumberToObject(o, "fwd_gflops", t->fwd_gflops);
        cJSON_AddNumberToObject(o, "bwd_gflops", t->bwd_gflops);
        cJSON_AddNumberToObject(o, "fwd_share", t->fwd_share);
        cJSON_AddNumberToObject(o, "bwd_share", t->bwd_share);
        cJSON_AddStringToObject(o, "share_of", i == 4 ? "bandwidth" : "sgemm");
        cJSON_AddNumberToObject(o, "bytes", t->bytes);
        cJSON_AddNumberToObject(o, "gbs", t->gbs);
        cJSON_AddNumberToObject(o, "intensity", t->intensity);
        cJSON_AddStringToObject(o, "limited_by", t->memory_bound ? "memory" : "compute");
        cJSON_AddItemToArray(ls, o);
    }
    if (r->iteration_count > 0) cJSON_AddItemToObject(d, "iteration", iteration_json(&r->iterations[0]));
    cJSON *its = cJSON_AddArrayToObject(d, "iterations");
    for (int i = 0; i < r->iteration_count; i++) cJSON_AddItemToArray(its, iteration_json(&r->iterations[i]));
    cJSON *inf = cJSON_AddArrayToObject(d, "inference");
    for (int i = 0; i < r->inference_count; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "batch", r->inference[i].batch);
        cJSON_AddBoolToObject(o, "fits", r->inference[i].fits);
        if (!r->inference[i].fits) {
            cJSON_AddNullToObject(o, "images_per_s");
            cJSON_AddStringToObject(o, "note", r->inference[i].note);
            cJSON_AddItemToArray(inf, o);
            continue;
        }
        cJSON_AddNumberToObject(o, "images_per_s", r->inference[i].images_per_s);
        cJSON_AddItemToObject(o, "ms", stat_json(&r->inference[i].ms));
        cJSON_AddNumberToObject(o, "arena_bytes", (double)r->inference[i].arena_bytes);
        cJSON_AddItemToArray(inf, o);
    }
    cJSON *mem = cJSON_AddObjectToObject(d, "memory");
    if (r->iteration_count > 0) {
        const cp_bench_iteration *it = &r->iterations[0];
        cJSON_AddNumberToObject(mem, "batch", it->batch);
        cJSON_AddNumberToObject(mem, "model_bytes", (double)it->model_bytes);
        cJSON_AddNumberToObject(mem, "arena_bytes", (double)it->arena_bytes);
        cJSON_AddNumberToObject(mem, "planned_bytes", (double)(it->model_bytes + it->arena_bytes));
        cJSON_AddNumberToObject(mem, "peak_bytes", (double)it->peak_bytes);
    }
    cJSON_AddItemToObject(d, "startup", startup);
    cJSON_AddNumberToObject(d, "bench_seconds", r->seconds);
    return d;
}

cJSON *bench_load_json(const char *path)
{
    /* A bench file is a few hundred KiB; 64 MiB is far beyond any. */
    char *buf;
    size_t size;
    if (cp_read_file(path, (size_t)64 << 20, &buf, &size) != CP_OK) {
        fprintf(stderr, "clinpaint bench: error: %s\n", cp_last_error());
        return NULL;
    }
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "devices"))) {
        fprintf(stderr, "clinpaint bench: error: %s is not a clinpaint bench JSON file\n", path);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}
