/* Small helpers shared by the sub-commands: option parsing and messages. */
#ifndef CLINPAINT_TOOL_CLI_UTIL_H
#define CLINPAINT_TOOL_CLI_UTIL_H
#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/status.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_INTERRUPTED 130

/* Prints "clinpaint CMD: <message>" to stderr and a hint to run --help;
 * returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints "clinpaint CMD: error: <status>: <last error>" to stderr and
 * returns the exit code for the status (2 for a bad argument or no device,
 * 130 when interrupted, else 1). */
int cli_fail(const char *cmd, cp_status st);

/* Strict number parsing: the whole string must be a number in [lo, hi]. */
bool cli_parse_int(const char *s, long lo, long hi, long *out);
bool cli_parse_u64(const char *s, uint64_t *out);
bool cli_parse_float(const char *s, double lo, double hi, double *out);

/* Option argv[*i] named `name`, as "--name VALUE" or "--name=VALUE":
 * *matched says whether it is that option; returns its value (NULL when
 * the value is missing) and advances *i past a separate value. */
const char *cli_option_value(int argc, char **argv, int *i, const char *name, bool *matched);

/* True for "--help" and "-h". */
bool cli_is_help(const char *arg);

/* Ctrl-C for commands that stop cleanly (train, demo): the first SIGINT
 * sets *flag (the command finishes its step and saves); the second ends the
 * process at once with exit code 130 (_exit), even inside a kernel build
 * that would otherwise hold it for a minute. Writes are atomic and resume
 * repairs the logs, so nothing is left half done. */
void cli_catch_sigint(volatile int *flag);
/* Back to the default (Ctrl-C ends the process at once). */
void cli_release_sigint(void);

/* Prints, once per process, why the kernel cache folder is not used (see
 * CLINPAINT_CACHE_DIR in the README), if it is not. */
void cli_warn_cache_dir(const char *cmd);
#endif
