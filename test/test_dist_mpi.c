/* `mpirun -np 2 clinpaint train` (each rank on the default device, PoCL
 * with one thread in CI): the same model as one process at the same
 * global batch, a 2-rank checkpoint resumed by one process continues the
 * same losses, and a rank that fails or is killed ends the whole run
 * with a non-zero exit (under a deadline: a hang fails the test). Exit 77
 * (skipped) when clinpaint was built without MPI or mpirun is missing. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clinpaint/checkpoint.h"
#include "clinpaint/dist.h"
#include "clinpaint/synth.h"
#include "util/cli_spawn.h"
#include "util/run_compare.h"
#include "util/test_util.h"

static char *work_dir, *data_dir, clinpaint_bin[1024], mpirun_bin[1024];

static char *path_in(const char *name) { return tu_run_work_path(name, &work_dir, &data_dir); }

static bool find_mpirun(void)
{
    const char *path = getenv("PATH");
    if (!path) return false;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(mpirun_bin, sizeof mpirun_bin, "%s/mpirun", dir);
        if (access(mpirun_bin, X_OK) == 0) return true;
    }
    return false;
}

/* The training options of every run here: the small model of test_dist,
 * without batch norm (per-replica statistics differ by design). */
#define MODEL "--size", "32", "--widths", "4,8,8,8,8,8", "--latent", "16", "--seed", "7", \
              "--batch", "4", "--threads", "1", "--eval-images", "4"

static const char *const ONE_THREAD[] = {"POCL_MAX_PTHREAD_COUNT=1", NULL};
/* Under mpirun, LeakSanitizer is off: Open MPI unloads its plugins in
 * MPI_Finalize, so their allocations are reported from an unknown module
 * that no suppression can name. The trainer and replica code that the
 * ranks run is leak-checked in-process by test_dist; ASan and UBSan stay
 * on here. */
static const char *const MPI_ENV[] = {"POCL_MAX_PTHREAD_COUNT=1",
                                      "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0", NULL};

/* Runs clinpaint directly (mpirun == false) or as `mpirun -np 2 clinpaint`
 * (the tu_cli helpers run $CLINPAINT_BIN: pointed at mpirun for that). */
static tu_cli_proc start(bool mpi, const char *const *args)
{
    const char *argv[64];
    int n = 0;
    if (mpi) {
        static const char *const pre[] = {"--allow-run-as-root", "--oversubscribe", "-np", "2",
                                          "-x", "POCL_MAX_PTHREAD_COUNT", "-x", "ASAN_OPTIONS"};
        for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) argv[n++] = pre[i];
        argv[n++] = clinpaint_bin;
    }
    for (int i = 0; args[i]; i++) argv[n++] = args[i];
    argv[n] = NULL;
    setenv("CLINPAINT_BIN", mpi ? mpirun_bin : clinpaint_bin, 1);
    tu_cli_opts o = {.env = mpi ? MPI_ENV : ONE_THREAD};
    return tu_cli_start(argv, &o);
}

static void run_ok(bool mpi, const char *const *args)
{
    tu_cli_proc p = start(mpi, args);
    tu_cli_result r;
    ck_assert_msg(tu_cli_wait(&p, 300, &r), "%s did not finish in 5 minutes", mpi ? "mpirun" : "train");
    ck_assert_msg(r.exit_code == 0, "exit %d\n%.2000s%.4000s", r.exit_code, r.out, r.err);
    tu_cli_free(&r);
}

START_TEST(two_ranks_train_the_model_of_one)
{
    char *one = path_in("one"), *two = path_in("two");
    const char *a[] = {"train", "--data", data_dir, "--out", one, MODEL, "--max-steps", "20", NULL};
    const char *b[] = {"train", "--data", data_dir, "--out", two, MODEL, "--max-steps", "20", NULL};
    run_ok(false, a);
    run_ok(true, b);
    tu_assert_same_training(one, two, 1, 20, 1e-5);
    free(one);
    free(two);
}
END_TEST

START_TEST(two_rank_checkpoint_resumes_on_one)
{
    char *one = path_in("whole"), *split = path_in("split");
    char ckpt[1200];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt/last.safetensors", split);
    const char *a[] = {"train", "--data", data_dir, "--out", one, MODEL, "--max-steps", "20", NULL};
    const char *b[] = {"train", "--data", data_dir, "--out", split, MODEL, "--max-steps", "7", NULL};
    const char *c[] = {"train", "--resume", ckpt, "--data", data_dir, "--max-steps", "20",
                       "--threads", "1", "--eval-images", "4", NULL};
    run_ok(false, a);
    run_ok(true, b);
    run_ok(false, c);
    tu_assert_same_training(one, split, 8, 20, 1e-5);
    free(one);
    free(split);
}
END_TEST

START_TEST(indivisible_batch_is_a_usage_error)
{
    char *out = path_in("odd");
    const char *a[] = {"train", "--data", data_dir, "--out", out, "--size", "32", "--widths",
                       "4,8,8,8,8,8", "--latent", "16", "--batch", "3", NULL};
    tu_cli_proc p = start(true, a);
    tu_cli_result r;
    ck_assert(tu_cli_wait(&p, 120, &r));
    ck_assert_int_ne(r.exit_code, 0);
    ck_assert_msg(strstr(r.err, "must divide by the 2"), "%.4000s", r.err);
    tu_cli_free(&r);
    free(out);
}
END_TEST

/* The pids of mpirun's children (the ranks), from /proc. */
static int rank_pids(pid_t parent, pid_t *pids, int max)
{
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        char path[300], line[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        int pid = 0, ppid = 0;
        char comm[256] = "";
        if (fgets(line, sizeof line, f) &&
            sscanf(line, "%d (%255[^)]) %*c %d", &pid, comm, &ppid) == 3 && ppid == parent &&
            strcmp(comm, "clinpaint") == 0)
            pids[n++] = pid;
        fclose(f);
    }
    closedir(d);
    return n;
}

START_TEST(a_killed_rank_ends_the_run)
{
    char *out = path_in("killed");
    char ckpt[1200];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt/last.safetensors", out);
    const char *a[] = {"train", "--data", data_dir, "--out", out, MODEL, "--epochs", "100000", NULL};
    tu_cli_proc p = start(true, a);
    struct stat sb;
    /* Wait for the first epoch's checkpoint (10 batches), then kill rank 1. */
    for (int i = 0; i < 1200 && stat(ckpt, &sb) != 0; i++)
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    ck_assert_msg(stat(ckpt, &sb) == 0, "no checkpoint after 2 minutes");
    pid_t pids[4];
    ck_assert_int_eq(rank_pids(p.pid, pids, 4), 2);
    kill(pids[0] > pids[1] ? pids[0] : pids[1], SIGKILL);
    tu_cli_result r;
    ck_assert_msg(tu_cli_wait(&p, 60, &r), "mpirun still running 60 s after a rank was killed");
    ck_assert_int_ne(r.exit_code, 0);
    cp_checkpoint *ck;
    TU_OK(cp_checkpoint_open(ckpt, &ck)); /* the last checkpoint is whole */
    cp_checkpoint_close(ck);
    tu_cli_free(&r);
    free(out);
}
END_TEST

START_TEST(a_failing_rank_ends_the_run)
{
    char *out = path_in("failing");
    /* MPMD: rank 1 gets a data folder that does not exist. */
    const char *argv[] = {"--allow-run-as-root", "--oversubscribe", "-x", "POCL_MAX_PTHREAD_COUNT",
                          "-x", "ASAN_OPTIONS", "-np", "1", clinpaint_bin,
                          "train", "--data", data_dir, "--out", out, MODEL, ":", "-np", "1",
                          clinpaint_bin, "train", "--data", "/nonexistent-clinpaint-data", "--out",
                          out, MODEL, NULL};
    setenv("CLINPAINT_BIN", mpirun_bin, 1);
    tu_cli_opts o = {.env = MPI_ENV};
    tu_cli_proc p = tu_cli_start(argv, &o);
    tu_cli_result r;
    ck_assert_msg(tu_cli_wait(&p, 120, &r), "mpirun still running 2 minutes after a rank failed");
    ck_assert_int_ne(r.exit_code, 0);
    ck_assert_msg(strstr(r.err, "rank 1 of 2") && strstr(r.err, "nonexistent-clinpaint-data"),
                  "%.4000s", r.err);
    tu_cli_free(&r);
    free(out);
}
END_TEST

int main(void)
{
    const char *bin = getenv("CLINPAINT_BIN");
    if (!cp_comm_mpi_available() || !bin || !find_mpirun()) {
        printf("skipped: %s\n", !cp_comm_mpi_available() ? "built without MPI (CLINPAINT_MPI off)"
                                : !bin                   ? "CLINPAINT_BIN not set (run through ctest)"
                                                         : "mpirun not on PATH");
        return 77;
    }
    snprintf(clinpaint_bin, sizeof clinpaint_bin, "%s", bin);
    Suite *s = suite_create("dist_mpi");
    TCase *tc = tcase_create("mpirun");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, indivisible_batch_is_a_usage_error);
    tcase_add_test(tc, two_ranks_train_the_model_of_one);
    tcase_add_test(tc, two_rank_checkpoint_resumes_on_one);
    tcase_add_test(tc, a_failing_rank_ends_the_run);
    tcase_add_test(tc, a_killed_rank_ends_the_run);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    if (work_dir) tu_rmdir(work_dir);
    return failed;
}
