/* The options both demos take (cmd_demo.c, cmd_demo_unmask.c). */
#ifndef CLINPAINT_TOOL_DEMO_CLI_H
#define CLINPAINT_TOOL_DEMO_CLI_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "clinpaint/train.h"

typedef struct demo_options {
    const char *out, *data, *device; /* data: only without --unmask */
    double minutes;
    long count;
    uint64_t max_steps; /* hidden, for tests: a step limit per training (0: none) */
} demo_options;

/* Parses --minutes, --out, --count, --device, --max-steps and, for the
 * inpainting demo, --data; `unmask`: the unmask demo (--unmask itself is
 * skipped, unknown options say "(with --unmask)"). o holds the defaults on
 * entry. Returns -1 to go on, or the exit code (0 after --help). */
int demo_parse_options(const char *cmd, int argc, char **argv, bool unmask, void (*usage)(FILE *),
                       demo_options *o);

/* on_epoch / on_message of a time-boxed training: `user` is a wrapper
 * whose first member is the cp_train_config holding train_cli's callbacks,
 * which these call. */
void demo_forward_epoch(void *user, const cp_epoch_metrics *m);
void demo_forward_message(void *user, const char *text);
#endif
