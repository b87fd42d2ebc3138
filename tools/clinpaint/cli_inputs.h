/* The command line of commands that take input files among their options
 * (inpaint, unmask): words not starting with '-' and all words after "--"
 * are inputs; the rest are flags or options with a value. */
#ifndef CLINPAINT_TOOL_CLI_INPUTS_H
#define CLINPAINT_TOOL_CLI_INPUTS_H
#include <stdbool.h>
#include <stdio.h>

typedef struct cli_inputs_spec {
    const char *cmd;                 /* for messages */
    const char *const *flags;        /* options without a value (NULL-terminated) */
    const char *const *valued;       /* options with a value (NULL-terminated) */
    bool allow_equals;               /* also --name=value */
    void (*usage)(FILE *f);          /* --help prints it on stdout */
    /* Called per option (value NULL for a flag): returns -1 to go on, or
     * an exit code that ends the scan. */
    int (*on_option)(void *user, const char *name, const char *value);
    void *user;
} cli_inputs_spec;

/* Scans argv[1..argc-1]; *inputs (allocated, the caller frees; NULL when
 * out of memory, said on stderr, exit 1) receives the inputs and *n_inputs
 * their count. Returns -1 when every word was taken, or the exit code: 0
 * after --help, 2 for an unknown option or a missing value, or what
 * on_option returned. */
int cli_scan_inputs(const cli_inputs_spec *s, int argc, char **argv, const char ***inputs,
                    int *n_inputs);

/* The head of an option loop of a command without inputs, at argv[*i]:
 * --help prints usage (exit 0); a flag of `flags` (NULL-terminated) gives
 * *value NULL; any other "--name" takes the next word as *value (*i moves
 * on); a word without "--" is an "unexpected argument". Returns -1 with
 * *value set, or the exit code. */
int cli_option_at(const char *cmd, int argc, char **argv, int *i, const char *const *flags,
                  void (*usage)(FILE *f), const char **value);
#endif
