/* The demos' options (demo_cli.h). */
#include "demo_cli.h"

#include <string.h>

#include "cli_util.h"

int demo_parse_options(const char *cmd, int argc, char **argv, bool unmask, void (*usage)(FILE *),
                       demo_options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (unmask && strcmp(a, "--unmask") == 0) continue;
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (!unmask && strncmp(a, "--", 2) != 0)
            return cli_usage_error(cmd, "unexpected argument '%s'", a);
        if (strcmp(a, "--minutes") && strcmp(a, "--out") && (unmask || strcmp(a, "--data")) &&
            strcmp(a, "--count") && strcmp(a, "--device") && strcmp(a, "--max-steps"))
            return cli_usage_error(cmd, "unknown option '%s'%s", a, unmask ? " (with --unmask)" : "");
        if (i + 1 >= argc) return cli_usage_error(cmd, "%s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--minutes") == 0) {
            if (!cli_parse_float(v, 0.01, 1e6, &o->minutes))
                return cli_usage_error(cmd, "--minutes '%s': a positive number (at least 0.01)", v);
        } else if (strcmp(a, "--out") == 0) {
            if (!v[0]) return cli_usage_error(cmd, "--out needs a folder");
            o->out = v;
        } else if (strcmp(a, "--data") == 0) {
            o->data = v;
        } else if (strcmp(a, "--count") == 0) {
            if (!cli_parse_int(v, 16, 1000000, &o->count))
                return cli_usage_error(cmd, "--count '%s': a whole number from 16 to 1000000", v);
        } else if (strcmp(a, "--device") == 0) {
            o->device = v;
        } else {
            if (!cli_parse_u64(v, &o->max_steps) || o->max_steps == 0)
                return cli_usage_error(cmd, "--max-steps '%s': a positive whole number", v);
        }
    }
    return -1;
}

void demo_forward_epoch(void *user, const cp_epoch_metrics *m)
{
    const cp_train_config *inner = user;
    inner->on_epoch(inner->user, m);
}

void demo_forward_message(void *user, const char *text)
{
    const cp_train_config *inner = user;
    inner->on_message(inner->user, text);
}
