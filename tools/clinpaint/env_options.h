/* The environment variables of clinpaint (README: Environment variables),
 * read here and nowhere else: the library reads no environment, so this
 * maps them onto cp_context_options for the command, tools/measure and the
 * tests. */
#ifndef CLINPAINT_ENV_OPTIONS_H
#define CLINPAINT_ENV_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "clinpaint/runtime.h"

typedef struct env_options {
    /* CLINPAINT_DEVICE, CLINPAINT_KERNEL_DIR, the cache folder
     * (CLINPAINT_CACHE_DIR, else $XDG_CACHE_HOME/clinpaint, else
     * $HOME/.cache/clinpaint; none with CLINPAINT_NO_CACHE=1),
     * CLINPAINT_CONV=gemm|direct|igemm, CLINPAINT_GEMM=own|clblast */
    cp_context_options context;
    /* the device's tuning file is applied unless CLINPAINT_NO_TUNE=1 */
    bool apply_tuning;
    char cache_dir[1024];
} env_options;

/* Reads the environment now. `device`: the command's --device (NULL or "":
 * $CLINPAINT_DEVICE, named so in errors, else the default device). The
 * strings stay valid while the environment is unchanged. */
void env_options_read(const char *device, env_options *out);

/* A context with the environment's settings, then the device's tuning file
 * applied (a missing or corrupt one only means the untuned defaults), as
 * every command starts. */
cp_status env_context_create(const char *device, cp_context **out);

/* cp_device_select with the environment's device when `device` is NULL or "". */
cp_status env_device_select(const char *device, cp_device_info *out);

/* cp_runtime_versions, with the platform of $CLINPAINT_DEVICE's device when
 * it is set ("none" when it matches nothing), as before the library stopped
 * reading it (the library's: the default device's). */
void env_runtime_versions(char *platform, size_t platform_size, char *clblast,
                          size_t clblast_size);

/* True when this process was started by an MPI launcher (mpirun, srun):
 * its environment names a rank. Calls nothing in MPI. */
bool env_mpi_launched(void);

#endif
