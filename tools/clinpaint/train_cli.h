/* Shared by `train` and `demo`: option parsing, the progress display and
 * the final report of a training run. */
#ifndef CLINPAINT_TOOL_TRAIN_CLI_H
#define CLINPAINT_TOOL_TRAIN_CLI_H
#include <stdbool.h>
#include <stdio.h>

#include "clinpaint/train.h"

typedef struct train_cli_state {
    bool tty;
    bool line_open;  /* a \r progress line is on the terminal */
    double last_print;
    char out_buf[1024]; /* default run folder on resume */
} train_cli_state;

/* Parses train's options into cfg (argv[0] is the command). Returns -1 to
 * go on, or an exit code (help printed, usage error). */
int train_cli_parse(int argc, char **argv, cp_train_config *cfg, const char **device,
                    train_cli_state *state, void (*usage)(FILE *));
void train_cli_attach_progress(cp_train_config *cfg, train_cli_state *state, bool tty);
void train_cli_finish_line(train_cli_state *state);
/* Prints the outcome (and the resume command when stopped); returns the
 * exit code: 0 done or time limit, 130 interrupted, 1 or 2 on errors. */
int train_cli_report(const char *cmd, cp_status st, const cp_train_config *cfg,
                     const cp_train_result *res);
#endif
