/* Command lines of options and inputs (cli_inputs.h). */
#include "cli_inputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

static bool listed(const char *const *names, const char *name)
{
    for (; names && *names; names++)
        if (strcmp(*names, name) == 0) return true;
    return false;
}

int cli_scan_inputs(const cli_inputs_spec *s, int argc, char **argv, const char ***inputs_out,
                    int *n_inputs)
{
    *n_inputs = 0;
    const char **inputs = *inputs_out = calloc((size_t)argc + 1, sizeof *inputs);
    if (!inputs) {
        fprintf(stderr, "clinpaint %s: out of host memory\n", s->cmd);
        return CLI_EXIT_FAIL;
    }
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            inputs[(*n_inputs)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (cli_is_help(a)) {
            s->usage(stdout);
            return CLI_EXIT_OK;
        }
        const char *v = NULL;
        const char *eq = s->allow_equals ? strchr(a, '=') : NULL;
        char name[64];
        if (eq && a[1] == '-' && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            v = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
        int rc;
        if (!v && listed(s->flags, name)) {
            rc = s->on_option(s->user, name, NULL);
        } else if (!listed(s->valued, name)) {
            return cli_usage_error(s->cmd, "unknown option '%s'", a);
        } else {
            if (!v) {
                if (i + 1 >= argc) return cli_usage_error(s->cmd, "%s needs a value", name);
                v = argv[++i];
            }
            rc = s->on_option(s->user, name, v);
        }
        if (rc >= 0) return rc;
    }
    return -1;
}

int cli_option_at(const char *cmd, int argc, char **argv, int *i, const char *const *flags,
                  void (*usage)(FILE *f), const char **value)
{
    const char *a = argv[*i];
    *value = NULL;
    if (cli_is_help(a)) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (listed(flags, a)) return -1;
    if (strncmp(a, "--", 2) != 0) return cli_usage_error(cmd, "unexpected argument '%s'", a);
    if (*i + 1 >= argc) return cli_usage_error(cmd, "%s needs a value", a);
    *value = argv[++*i];
    return -1;
}
