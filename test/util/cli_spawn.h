/* Runs the built `clinpaint` command with more control than cli_run.h: an
 * environment of several variables, a simulated full disk, and a process
 * that runs in the background (for locks and signals). */
#ifndef CP_TEST_CLI_SPAWN_H
#define CP_TEST_CLI_SPAWN_H
#include <stdbool.h>
#include <sys/types.h>

#include "util/cli_run.h"

typedef struct tu_cli_opts {
    const char *const *env; /* NULL-terminated "NAME=value" list to add, or NULL */
    long max_file_bytes;    /* > 0: RLIMIT_FSIZE with SIGXFSZ ignored, so a write past
                               it fails with EFBIG as on a full disk */
} tu_cli_opts;

typedef struct tu_cli_proc {
    pid_t pid;
    char out_path[64], err_path[64];
} tu_cli_proc;

/* Starts clinpaint with argv (NULL-terminated, no program name). */
tu_cli_proc tu_cli_start(const char *const *argv, const tu_cli_opts *opts);
/* What it has written to stderr so far (malloc'ed). */
char *tu_cli_stderr_now(const tu_cli_proc *p);
/* Waits up to timeout_s; false (and the process killed) when it ran past.
 * Fills *r either way. */
bool tu_cli_wait(tu_cli_proc *p, double timeout_s, tu_cli_result *r);
/* Start and wait (10 minutes at most). */
tu_cli_result tu_cli_run_opts(const char *const *argv, const tu_cli_opts *opts);

/* Whether cp_image_write_png reports a write that fails for lack of room
 * (tried in a child process under RLIMIT_FSIZE). The full-disk tests of
 * synth and inpaint need this from the PNG writer; where it cannot, they
 * say so and check nothing. */
bool tu_png_writer_reports_full_disk(void);

#endif
