#include "cli_util.h"
#include "env_options.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinpaint/files.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "clinpaint %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'clinpaint %s --help' for usage.\n", cmd);
    return CLI_EXIT_USAGE;
}

int cli_fail(const char *cmd, cp_status st)
{
    const char *msg = cp_last_error();
    fprintf(stderr, "clinpaint %s: error: %s%s%s\n", cmd, cp_status_str(st),
            msg[0] ? ": " : "", msg);
    if (st == CP_ERR_INVALID_ARGUMENT || st == CP_ERR_NO_DEVICE)
        return CLI_EXIT_USAGE;
    if (st == CP_ERR_INTERRUPTED) return CLI_EXIT_INTERRUPTED;
    return CLI_EXIT_FAIL;
}

bool cli_parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (!s || !*s) return false;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-') return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = (uint64_t)v;
    return true;
}

bool cli_parse_float(const char *s, double lo, double hi, double *out)
{
    char *end;
    if (!s || !*s) return false;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi) return false;
    *out = v;
    return true;
}

const char *cli_option_value(int argc, char **argv, int *i, const char *name, bool *matched)
{
    size_t n = strlen(name);
    *matched = false;
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') {
        *matched = true;
        return argv[*i] + n + 1;
    }
    if (argv[*i][n] != '\0') return NULL;
    *matched = true;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

bool cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

static volatile int *sigint_flag;

static void say_now(const char *text)
{
    /* write(2) is async-signal-safe; nothing to do if it fails */
    ssize_t w = write(STDERR_FILENO, text, strlen(text));
    (void)w;
}

static void on_sigint(int sig)
{
    (void)sig;
    if (*sigint_flag) {
        say_now("\nclinpaint: interrupted again: exiting now\n");
        _exit(CLI_EXIT_INTERRUPTED);
    }
    *sigint_flag = 1;
    say_now("\nclinpaint: stopping after this step and saving (Ctrl-C again to quit at once)\n");
}

void cli_catch_sigint(volatile int *flag)
{
    sigint_flag = flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

void cli_release_sigint(void)
{
    signal(SIGINT, SIG_DFL);
}

void cli_warn_cache_dir(const char *cmd)
{
    static bool warned;
    env_options e;
    env_options_read(NULL, &e);
    char why[1400];
    if (warned || cp_cache_dir_usable(e.context.cache_dir, why, sizeof why)) return;
    if (!why[0]) return; /* switched off, or no home folder: nothing to say */
    warned = true;
    fprintf(stderr, "clinpaint %s: warning: %s\n", cmd, why);
}
