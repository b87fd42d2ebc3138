#include "env_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/tune.h"

/* Set, non-empty and not "0". */
static bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static void read_cache_dir(char *dir, size_t size)
{
    dir[0] = '\0';
    if (env_flag("CLINPAINT_NO_CACHE")) return;
    const char *env = getenv("CLINPAINT_CACHE_DIR");
    int n;
    if (env && *env)
        n = snprintf(dir, size, "%s", env);
    else if ((env = getenv("XDG_CACHE_HOME")) && *env)
        n = snprintf(dir, size, "%s/clinpaint", env);
    else if ((env = getenv("HOME")) && *env)
        n = snprintf(dir, size, "%s/.cache/clinpaint", env);
    else
        return;
    if (n < 0 || (size_t)n >= size) dir[0] = '\0'; /* too long: no disk cache */
}

void env_options_read(const char *device, env_options *out)
{
    memset(out, 0, sizeof *out);
    cp_context_options *o = &out->context;
    *o = cp_context_options_default();
    if (device && *device) {
        o->device = device;
    } else {
        o->device = getenv("CLINPAINT_DEVICE");
        o->device_origin = "CLINPAINT_DEVICE";
    }
    o->kernel_dir = getenv("CLINPAINT_KERNEL_DIR");
    read_cache_dir(out->cache_dir, sizeof out->cache_dir);
    o->cache_dir = out->cache_dir[0] ? out->cache_dir : NULL;
    const char *conv = getenv("CLINPAINT_CONV");
    if (!conv || !cp_conv_route_parse(conv, &o->conv_route)) o->conv_route = CP_CONV_AUTO;
    const char *gemm = getenv("CLINPAINT_GEMM");
    if (gemm && strcmp(gemm, "own") == 0) o->gemm = CP_GEMM_PREFER_OWN;
    if (gemm && strcmp(gemm, "clblast") == 0) o->gemm = CP_GEMM_PREFER_CLBLAST;
    out->apply_tuning = !env_flag("CLINPAINT_NO_TUNE");
}

cp_status env_context_create(const char *device, cp_context **out)
{
    env_options e;
    env_options_read(device, &e);
    cp_status st = cp_context_create_with(&e.context, out);
    if (st != CP_OK || !e.apply_tuning) return st;
    /* Stored tuning for this device (clinpaint tune); a missing or corrupt
     * file only means the untuned defaults. */
    (void)cp_tune_apply(*out);
    return CP_OK;
}

cp_status env_device_select(const char *device, cp_device_info *out)
{
    env_options e;
    env_options_read(device, &e);
    return cp_device_select_named(e.context.device, e.context.device_origin, out);
}

void env_runtime_versions(char *platform, size_t platform_size, char *clblast,
                          size_t clblast_size)
{
    cp_runtime_versions(platform, platform_size, clblast, clblast_size);
    const char *device = getenv("CLINPAINT_DEVICE");
    cp_device_info info;
    if (device && *device) {
        if (cp_device_select(device, &info) == CP_OK)
            snprintf(platform, platform_size, "%s (%s)", info.platform_version,
                     info.platform_name);
        else
            snprintf(platform, platform_size, "none");
    }
    cp_clear_error();
}

bool env_mpi_launched(void)
{
    static const char *const rank_variables[] = {
        "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MPI_LOCALRANKID",
    };
    for (size_t i = 0; i < sizeof rank_variables / sizeof rank_variables[0]; i++)
        if (getenv(rank_variables[i])) return true;
    return false;
}
