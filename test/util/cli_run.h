/* Runs the built `clinpaint` command ($CLINPAINT_BIN, set by ctest) and
 * captures its exit code, stdout and stderr. */
#ifndef CP_TEST_CLI_RUN_H
#define CP_TEST_CLI_RUN_H

typedef struct tu_cli_result {
    int exit_code;  /* -1 if it did not exit normally (crash) */
    char *out, *err; /* NUL-terminated, malloc'ed */
} tu_cli_result;

/* argv is NULL-terminated and excludes the program name. `env` is an
 * optional "NAME=value" to add (NULL for none). */
tu_cli_result tu_cli_run(const char *const *argv, const char *env);
void tu_cli_free(tu_cli_result *r);

#endif
