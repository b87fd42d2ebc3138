/* The plain way to run clinpaint: cli_spawn.c does the work. */
#include "util/cli_run.h"

#include <stdlib.h>

#include "util/cli_spawn.h"

tu_cli_result tu_cli_run(const char *const *argv, const char *env)
{
    const char *const envs[] = {env, NULL};
    tu_cli_opts opts = {.env = env ? envs : NULL, .max_file_bytes = 0};
    return tu_cli_run_opts(argv, &opts);
}

void tu_cli_free(tu_cli_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
