/* The sub-commands of `clinpaint`, one file each (cmd_<name>.c).
 * Each returns the process exit code: 0 success, 1 failure, 2 usage error,
 * 130 interrupted. Errors go to stderr, results to stdout. */
#ifndef CLINPAINT_TOOL_COMMANDS_H
#define CLINPAINT_TOOL_COMMANDS_H

typedef struct cp_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cp_command;

int cmd_devices(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_maskify(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_inpaint(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_unmask(int argc, char **argv);

extern const cp_command cp_commands[];
#endif
