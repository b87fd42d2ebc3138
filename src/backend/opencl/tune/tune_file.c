/* The tuning file of a device (JSON, one per device name + driver version,
 * in the cache folder):
 * {"format": "clinpaint-gemm-tune-1", "device": ..., "driver": ...,
 *  "clblast_done": bool,
 *  "clblast": {"XgemmDirect": {"WGD": 8, ...}, ...}      (optional)
 *  "classes": [{"ta","tb","lm","ln","lk", "backend": "own"|"clblast",
 *               "kernel": "rowvec"|"dot"|"local", "tm","tn","vw","lx","ly","tk",
 *               "seconds", "clblast_seconds", "label"}]}
 * Parsing checks every value; writing replaces the file atomically. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "clinpaint/files.h"
#include "backend/opencl/runtime/program_disk_cache.h"
#include "backend/opencl/tune/tune_internal.h"
#include "util/file_atomic.h"
#include "util/hash.h"
#include "util/try.h"

const char *const cp_tune_kernel_names[3] = {"rowvec", "dot", "local"};

bool cp_tune_file_path(cp_context *ctx, char *path, size_t size)
{
    char dir[1024];
    if (!cp_cache_dir(ctx, dir, sizeof dir)) return false;
    const cp_device_info *d = cp_context_device(ctx);
    uint64_t h = cp_fnv1a64(d->platform_name, strlen(d->platform_name));
    h = cp_fnv1a64_update(h, "\n", 1);
    h = cp_fnv1a64_update(h, d->name, strlen(d->name));
    h = cp_fnv1a64_update(h, "\n", 1);
    h = cp_fnv1a64_update(h, d->driver_version, strlen(d->driver_version));
    int n = snprintf(path, size, "%s/gemm-tune-%016llx.json", dir, (unsigned long long)h);
    return n > 0 && (size_t)n < size;
}

static bool route_valid(const cp_gemm_route *r)
{
    if (r->backend == CP_GEMM_CLBLAST) return true;
    if (r->backend != CP_GEMM_OWN) return false;
    bool vw = r->vw == 1 || r->vw == 2 || r->vw == 4 || r->vw == 8 || r->vw == 16;
    return (int)r->kernel >= 0 && (int)r->kernel <= 2 && vw && r->tm >= 1 && r->tm <= 16 &&
           r->tn >= 1 && r->tn <= 16 && r->lx >= 1 && r->lx <= 1024 && r->ly >= 1 &&
           r->ly <= 1024 &&
           (r->kernel == CP_GEMM_K_LOCAL ? r->tk >= 1 && r->tk <= 64
                                         : r->tk >= 0 && r->tk % r->vw == 0);
}

static bool get_int(const cJSON *o, const char *key, int lo, int hi, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
        v->valuedouble != floor(v->valuedouble))
        return false;
    *out = (int)v->valuedouble;
    return true;
}

/* Names CLBlast accepts; the file's names must be among these (they are
 * kept as pointers to these literals). */
static const char *known_param(const char *s)
{
    static const char *names[] = {"GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG",
                                  "NDIMB", "NDIMC", "NWG", "SA", "SB", "STRM", "STRN",
                                  "VWM", "VWN", "WGD", "MDIMCD", "NDIMCD", "MDIMAD",
                                  "NDIMBD", "KWID", "VWMD", "VWND", "PADA", "PADB"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(s, names[i]) == 0) return names[i];
    return NULL;
}

static cp_status parse_file(const cp_device_info *dev, const char *text, tune_file *f)
{
    memset(f, 0, sizeof *f);
    cJSON *j = cJSON_Parse(text);
    cp_status st = cp_set_error(CP_ERR_FORMAT, "tuning file: not valid JSON");
    if (!j) return st;
    st = cp_set_error(CP_ERR_FORMAT, "tuning file: wrong format, device or contents");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *devn = cJSON_GetObjectItemCaseSensitive(j, "device");
    const cJSON *drv = cJSON_GetObjectItemCaseSensitive(j, "driver");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, TUNE_FORMAT) != 0 ||
        !cJSON_IsString(devn) || strcmp(devn->valuestring, dev->name) != 0 ||
        !cJSON_IsString(drv) || strcmp(drv->valuestring, dev->driver_version) != 0)
        goto done;
    f->clblast_done = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "clblast_done"));
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(j, "clblast");
    if (cb) {
        if (!cJSON_IsObject(cb) || cJSON_GetArraySize(cb) != 1) goto done;
        const cJSON *kern = cb->child;
        if (!cJSON_IsObject(kern) || !kern->string) goto done;
        if (strcmp(kern->string, "Xgemm") == 0) f->clblast.kernel = "Xgemm";
        else if (strcmp(kern->string, "XgemmDirect") == 0) f->clblast.kernel = "XgemmDirect";
        else goto done;
        const cJSON *p;
        cJSON_ArrayForEach(p, kern)
        {
            const char *nm = p->string ? known_param(p->string) : NULL;
            if (!nm || f->clblast.count == 16 || !cJSON_IsNumber(p) || p->valuedouble < 0 ||
                p->valuedouble > 4096 || p->valuedouble != floor(p->valuedouble))
                goto done;
            f->clblast.names[f->clblast.count] = nm;
            f->clblast.values[f->clblast.count++] = (size_t)p->valuedouble;
        }
        f->has_clblast = f->clblast.count > 0;
    }
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(j, "classes");
    if (!cJSON_IsArray(cls)) goto done;
    const cJSON *e;
    cJSON_ArrayForEach(e, cls)
    {
        if (f->count == MAX_CLASSES || !cJSON_IsObject(e)) goto done;
        tune_entry *t = &f->entries[f->count];
        int ta, tb, kern = 0;
        if (!get_int(e, "ta", 0, 1, &ta) || !get_int(e, "tb", 0, 1, &tb) ||
            !get_int(e, "lm", 0, 12, &t->cls.lm) || !get_int(e, "ln", 0, 12, &t->cls.ln) ||
            !get_int(e, "lk", 0, 12, &t->cls.lk))
            goto done;
        t->cls.ta = ta;
        t->cls.tb = tb;
        const cJSON *be = cJSON_GetObjectItemCaseSensitive(e, "backend");
        if (!cJSON_IsString(be)) goto done;
        if (strcmp(be->valuestring, "clblast") == 0) {
            t->route = (cp_gemm_route){.backend = CP_GEMM_CLBLAST};
        } else if (strcmp(be->valuestring, "own") == 0) {
            const cJSON *kn = cJSON_GetObjectItemCaseSensitive(e, "kernel");
            if (!cJSON_IsString(kn)) goto done;
            kern = -1;
            for (int i = 0; i < 3; i++)
                if (strcmp(kn->valuestring, cp_tune_kernel_names[i]) == 0) kern = i;
            t->route = (cp_gemm_route){.backend = CP_GEMM_OWN, .kernel = (cp_gemm_kernel)kern};
            if (kern < 0 || !get_int(e, "tm", 1, 16, &t->route.tm) ||
                !get_int(e, "tn", 1, 16, &t->route.tn) ||
                !get_int(e, "vw", 1, 16, &t->route.vw) ||
                !get_int(e, "lx", 1, 1024, &t->route.lx) ||
                !get_int(e, "ly", 1, 1024, &t->route.ly) ||
                !get_int(e, "tk", 0, 65536, &t->route.tk) || !route_valid(&t->route))
                goto done;
        } else {
            goto done;
        }
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "seconds");
        t->seconds = cJSON_IsNumber(s) ? s->valuedouble : 0;
        s = cJSON_GetObjectItemCaseSensitive(e, "clblast_seconds");
        t->clblast_seconds = cJSON_IsNumber(s) ? s->valuedouble : 0;
        s = cJSON_GetObjectItemCaseSensitive(e, "label");
        snprintf(t->label, sizeof t->label, "%s", cJSON_IsString(s) ? s->valuestring : "");
        f->count++;
    }
    st = CP_OK;
done:
    cJSON_Delete(j);
    return st;
}

/* Only a file that does not exist is "missing" (tuning not run yet); one
 * that cannot be read, is not a regular file (a FIFO is never opened for
 * reading, which would block) or is over 16 MiB, far larger than any tuning
 * file, is an error, checked before it is read. */
static cp_status read_text(const char *path, char **out, bool *missing)
{
    *out = NULL;
    *missing = false;
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) {
        *missing = true;
        return CP_OK;
    }
    size_t n;
    return cp_read_file(path, (16u << 20) - 1, out, &n);
}

cp_status cp_tune_file_write(cp_context *ctx, const char *path, const tune_file *f)
{
    const cp_device_info *dev = cp_context_device(ctx);
    cJSON *j = cJSON_CreateObject();
    if (!j) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "tuning file");
    cJSON_AddStringToObject(j, "format", TUNE_FORMAT);
    cJSON_AddStringToObject(j, "device", dev->name);
    cJSON_AddStringToObject(j, "driver", dev->driver_version);
    cJSON_AddBoolToObject(j, "clblast_done", f->clblast_done);
    if (f->has_clblast) {
        cJSON *cb = cJSON_AddObjectToObject(j, "clblast");
        cJSON *k = cb ? cJSON_AddObjectToObject(cb, f->clblast.kernel) : NULL;
        for (int i = 0; k && i < f->clblast.count; i++)
            cJSON_AddNumberToObject(k, f->clblast.names[i], (double)f->clblast.values[i]);
    }
    cJSON *arr = cJSON_AddArrayToObject(j, "classes");
    for (int i = 0; arr && i < f->count; i++) {
        const tune_entry *t = &f->entries[i];
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        cJSON_AddItemToArray(arr, e);
        cJSON_AddNumberToObject(e, "ta", t->cls.ta);
        cJSON_AddNumberToObject(e, "tb", t->cls.tb);
        cJSON_AddNumberToObject(e, "lm", t->cls.lm);
        cJSON_AddNumberToObject(e, "ln", t->cls.ln);
        cJSON_AddNumberToObject(e, "lk", t->cls.lk);
        bool own = t->route.backend == CP_GEMM_OWN;
        cJSON_AddStringToObject(e, "backend", own ? "own" : "clblast");
        if (own) {
            cJSON_AddStringToObject(e, "kernel", cp_tune_kernel_names[t->route.kernel]);
            cJSON_AddNumberToObject(e, "tm", t->route.tm);
            cJSON_AddNumberToObject(e, "tn", t->route.tn);
            cJSON_AddNumberToObject(e, "vw", t->route.vw);
            cJSON_AddNumberToObject(e, "lx", t->route.lx);
            cJSON_AddNumberToObject(e, "ly", t->route.ly);
            cJSON_AddNumberToObject(e, "tk", t->route.tk);
        }
        cJSON_AddNumberToObject(e, "seconds", t->seconds);
        cJSON_AddNumberToObject(e, "clblast_seconds", t->clblast_seconds);
        cJSON_AddStringToObject(e, "label", t->label);
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "tuning file");
    cp_status st = cp_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

cp_status cp_tune_file_load(cp_context *ctx, const char *path, tune_file *f, bool *missing)
{
    memset(f, 0, sizeof *f);
    char *text;
    CP_TRY(read_text(path, &text, missing));
    if (*missing) return CP_OK;
    cp_status st = parse_file(cp_context_device(ctx), text, f);
    free(text);
    if (st != CP_OK) memset(f, 0, sizeof *f);
    return st;
}
