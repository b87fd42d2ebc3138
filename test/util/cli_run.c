#define _XOPEN_SOURCE 700
#include "util/cli_run.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

tu_cli_result tu_cli_run(const char *const *argv, const char *env)
{
    const char *bin = getenv("CLINPAINT_BIN");
    ck_assert_msg(bin != NULL, "CLINPAINT_BIN not set (run through ctest)");
    char out_path[] = "/tmp/clinpaint-cli-out-XXXXXX", err_path[] = "/tmp/clinpaint-cli-err-XXXXXX";
    int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
    ck_assert(out_fd >= 0 && err_fd >= 0);
    int argc = 0;
    while (argv[argc]) argc++;
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        if (env) putenv((char *)env);
        char **args = calloc((size_t)argc + 2, sizeof *args);
        args[0] = (char *)bin;
        for (int i = 0; i < argc; i++) args[i + 1] = (char *)argv[i];
        execv(bin, args);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    close(out_fd);
    close(err_fd);
    tu_cli_result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    unlink(out_path);
    unlink(err_path);
    return r;
}

void tu_cli_free(tu_cli_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
