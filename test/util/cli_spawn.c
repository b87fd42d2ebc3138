#define _XOPEN_SOURCE 700
#include "util/cli_spawn.h"

#include "clinpaint/image.h"
#include "util/test_util.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The whole of a captured output file. */
static char *slurp(const char *path)
{
    size_t n;
    return tu_read_file(path, &n);
}

tu_cli_proc tu_cli_start(const char *const *argv, const tu_cli_opts *opts)
{
    const char *bin = getenv("CLINPAINT_BIN");
    ck_assert_msg(bin != NULL, "CLINPAINT_BIN not set (run through ctest)");
    tu_cli_proc p;
    snprintf(p.out_path, sizeof p.out_path, "/tmp/clinpaint-cli-out-XXXXXX");
    snprintf(p.err_path, sizeof p.err_path, "/tmp/clinpaint-cli-err-XXXXXX");
    int out_fd = mkstemp(p.out_path), err_fd = mkstemp(p.err_path);
    ck_assert(out_fd >= 0 && err_fd >= 0);
    int argc = 0;
    while (argv[argc]) argc++;
    p.pid = fork();
    ck_assert(p.pid >= 0);
    if (p.pid == 0) {
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        for (int i = 0; opts && opts->env && opts->env[i]; i++) putenv((char *)opts->env[i]);
        if (opts && opts->max_file_bytes > 0) {
            signal(SIGXFSZ, SIG_IGN); /* kept across exec: writes fail with EFBIG */
            struct rlimit rl = {(rlim_t)opts->max_file_bytes, (rlim_t)opts->max_file_bytes};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(126);
        }
        char **args = calloc((size_t)argc + 2, sizeof *args);
        if (!args) _exit(127);
        args[0] = (char *)bin;
        for (int i = 0; i < argc; i++) args[i + 1] = (char *)argv[i];
        execv(bin, args);
        _exit(127);
    }
    close(out_fd);
    close(err_fd);
    return p;
}

char *tu_cli_stderr_now(const tu_cli_proc *p)
{
    return slurp(p->err_path);
}

bool tu_cli_wait(tu_cli_proc *p, double timeout_s, tu_cli_result *r)
{
    int status = 0;
    bool in_time = false;
    for (double waited = 0; waited < timeout_s; waited += 0.02) {
        pid_t w = waitpid(p->pid, &status, WNOHANG);
        ck_assert(w >= 0);
        if (w == p->pid) {
            in_time = true;
            break;
        }
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    }
    if (!in_time) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &status, 0);
    }
    r->exit_code = in_time && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r->out = slurp(p->out_path);
    r->err = slurp(p->err_path);
    unlink(p->out_path);
    unlink(p->err_path);
    return in_time;
}

tu_cli_result tu_cli_run_opts(const char *const *argv, const tu_cli_opts *opts)
{
    tu_cli_proc p = tu_cli_start(argv, opts);
    tu_cli_result r;
    ck_assert_msg(tu_cli_wait(&p, 600, &r), "clinpaint ran for more than 10 minutes");
    return r;
}

bool tu_png_writer_reports_full_disk(void)
{
    char dir[] = "/tmp/clinpaint-png-probe-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/probe.png", dir);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {1000, 1000};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(2);
        cp_image img;
        if (cp_image_alloc(64, 64, &img) != CP_OK) _exit(2);
        uint32_t x = 2463534242u; /* xorshift noise: PNG cannot compress it below 1000 bytes */
        for (size_t i = 0; i < (size_t)64 * 64 * 3; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            img.pixels[i] = (uint8_t)(x >> 24);
        }
        _exit(cp_image_write_png(path, &img) == CP_OK ? 0 : 1); /* noise: far over 1000 bytes */
    }
    int status;
    waitpid(pid, &status, 0);
    unlink(path);
    rmdir(dir);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 2);
    return WEXITSTATUS(status) == 1;
}
