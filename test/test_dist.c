/* Data parallelism in one process (clinpaint/dist.h): two replicas on two
 * contexts train the same model as one device at the same global batch,
 * a 2-replica checkpoint resumes on one replica with the same losses, the
 * in-process communicator sums, broadcasts and stops waiting when a
 * replica fails, and diverged parameters are caught. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clinpaint/checkpoint.h"
#include "clinpaint/dist.h"
#include "clinpaint/synth.h"
#include "clinpaint/train.h"
#include "dist/comm_internal.h"
#include "dist/replica.h"
#include "util/cli_run.h"
#include "util/run_compare.h"
#include "util/test_util.h"

static char *work_dir, *data_dir;

static char *path_in(const char *name) { return tu_run_work_path(name, &work_dir, &data_dir); }

/* The small model of the CLI tests, without batch norm: per-replica batch
 * statistics differ from the global batch's by design. */
static cp_train_config config(const char *out, uint64_t steps)
{
    cp_train_config c = cp_train_config_defaults();
    c.data_dir = data_dir;
    c.out_dir = out;
    c.model = (cp_model_config){"custom", 32, {4, 8, 8, 8, 8, 8}, 16, false};
    c.batch = 4;
    c.epochs = 100;
    c.seed = 7;
    c.sample_count = 2;
    c.eval_batch = 4;
    c.eval_max_images = 4;
    c.threads = 1;
    c.max_steps = steps;
    return c;
}

static void train_on(int replicas, const cp_train_config *c)
{
    cp_context *ctx[2] = {NULL, NULL};
    for (int i = 0; i < replicas; i++) TU_OK(env_context_create(NULL, &ctx[i]));
    cp_train_result r;
    TU_OK(cp_train_replicas(ctx, replicas, c, &r));
    ck_assert_uint_eq(r.step, c->max_steps);
    for (int i = 0; i < replicas; i++) cp_context_free(ctx[i]);
}

START_TEST(two_devices_train_the_model_of_one)
{
    char *one = path_in("one"), *two = path_in("two");
    cp_train_config c1 = config(one, 20), c2 = config(two, 20);
    train_on(1, &c1);
    train_on(2, &c2);
    tu_assert_same_training(one, two, 1, 20, 1e-5);
    /* Replica 0 wrote the run folder and says how many replicas ran. */
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", two);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_msg(strstr(text, "\"replicas\":\t2"), "%s", text);
    free(one);
    free(two);
}
END_TEST

START_TEST(two_replica_checkpoint_resumes_on_one)
{
    char *one = path_in("whole"), *split = path_in("split");
    cp_train_config whole = config(one, 20), first = config(split, 7);
    train_on(1, &whole);
    train_on(2, &first);
    char ckpt[1200];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt/last.safetensors", split);
    cp_train_config rest = config(split, 20);
    rest.resume = ckpt;
    train_on(1, &rest);
    tu_assert_same_training(one, split, 8, 20, 1e-5);
    free(one);
    free(split);
}
END_TEST

START_TEST(batchnorm_trains_on_two_devices)
{
    char *out = path_in("bn");
    cp_train_config c = config(out, 12);
    c.model.batchnorm = true;
    train_on(2, &c);
    static double v[64][6];
    ck_assert_int_eq(tu_read_losses(out, v, 64), 12);
    for (int i = 0; i < 12; i++)
        for (int k = 0; k < 6; k++) ck_assert(isfinite(v[i][k]));
    free(out);
}
END_TEST

START_TEST(global_batch_must_divide)
{
    char *out = path_in("odd");
    cp_train_config c = config(out, 2);
    c.batch = 3;
    cp_context *ctx[2];
    TU_OK(env_context_create(NULL, &ctx[0]));
    TU_OK(env_context_create(NULL, &ctx[1]));
    cp_train_result r;
    ck_assert_int_eq(cp_train_replicas(ctx, 2, &c, &r), CP_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(cp_last_error(), "divide"), "%s", cp_last_error());
    cp_context_free(ctx[0]);
    cp_context_free(ctx[1]);
    free(out);
}
END_TEST

START_TEST(cli_device_list_needs_a_dividing_batch)
{
    char *out = path_in("cli_odd");
    const char *argv[] = {"train", "--data", data_dir, "--out", out, "--device", "0:0,0:0",
                          "--size", "32", "--widths", "4,8,8,8,8,8", "--latent", "16",
                          "--batch", "3", NULL};
    tu_cli_result r = tu_cli_run(argv, NULL);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_msg(strstr(r.err, "--batch 3 is the global batch: it must divide by the 2"), "%s",
                  r.err);
    tu_cli_free(&r);
    const char *two[] = {"train", "--data", data_dir, "--out", out, "--device", "0:0,0:0",
                         "--size", "32", "--widths", "4,8,8,8,8,8", "--latent", "16",
                         "--batch", "4", "--max-steps", "2", "--eval-images", "4", NULL};
    r = tu_cli_run(two, NULL);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_msg(strstr(r.out, "2 replicas"), "%s", r.out);
    tu_cli_free(&r);
    free(out);
}
END_TEST

/* ---- the in-process communicator ---- */

typedef struct peer {
    cp_comm *comm;
    float data[3];
    cp_status st;
    bool fail_instead;
    uint64_t seed;
    cp_context *ctx;
    cp_status identical_before, identical_after;
    char error[1024];
} peer;

static void *peer_collectives(void *arg)
{
    peer *p = arg;
    if (p->fail_instead) {
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL); /* the other waits first */
        cp_comm_fail(p->comm);
        return NULL;
    }
    p->st = cp_comm_sum(p->comm, p->data, 3);
    if (p->st == CP_OK) p->st = cp_comm_broadcast(p->comm, p->data + 2, sizeof(float));
    return NULL;
}

START_TEST(local_sum_broadcast_and_failure)
{
    cp_comm *eps[2];
    TU_OK(cp_comm_local_create(2, eps));
    peer p[2] = {{.comm = eps[0], .data = {1, 2, 3}}, {.comm = eps[1], .data = {10, 20, 30}}};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, peer_collectives, &p[1]), 0);
    peer_collectives(&p[0]);
    pthread_join(th, NULL);
    for (int r = 0; r < 2; r++) {
        TU_OK(p[r].st);
        ck_assert_float_eq(p[r].data[0], 11);
        ck_assert_float_eq(p[r].data[1], 22);
        ck_assert_float_eq(p[r].data[2], 33);
    }
    /* A replica that fails releases the one waiting for it. */
    p[1].fail_instead = true;
    ck_assert_int_eq(pthread_create(&th, NULL, peer_collectives, &p[1]), 0);
    peer_collectives(&p[0]);
    pthread_join(th, NULL);
    ck_assert_int_eq(p[0].st, CP_ERR_INTERRUPTED);
    ck_assert_int_eq(cp_comm_local_failed_rank(eps[0]), 1);
    cp_comm_free(eps[0]);
    cp_comm_free(eps[1]);
}
END_TEST

/* No assertion inside: a failed one would leave the other thread on a
 * stack frame that is gone. Statuses are checked after the join. */
static void *peer_models(void *arg)
{
    peer *p = arg;
    cp_model_config mc = {"custom", 32, {4, 8, 8, 8, 8, 8}, 16, false};
    cp_model *m = NULL;
    p->st = cp_model_create(p->ctx, &mc, &m);
    if (p->st == CP_OK) p->st = cp_model_init(m, p->seed);
    if (p->st != CP_OK) {
        snprintf(p->error, sizeof p->error, "%s", cp_last_error());
        cp_comm_fail(p->comm);
    } else {
        cp_replica rep = {.comm = p->comm};
        p->identical_before = cp_replica_check_identical(&rep, m, 1);
        p->st = cp_replica_broadcast_model(&rep, m);
        p->identical_after = cp_replica_check_identical(&rep, m, 1);
        snprintf(p->error, sizeof p->error, "%s", cp_last_error());
        cp_replica_release(&rep);
    }
    cp_model_free(m);
    return NULL;
}

START_TEST(diverged_parameters_are_caught)
{
    cp_comm *eps[2];
    TU_OK(cp_comm_local_create(2, eps));
    peer p[2] = {{.comm = eps[0], .seed = 1}, {.comm = eps[1], .seed = 2}};
    /* One after the other: OpenCL platform discovery is not safe to run
     * on two threads at once (cp_train_replicas gets its contexts made). */
    TU_OK(env_context_create(NULL, &p[0].ctx));
    TU_OK(env_context_create(NULL, &p[1].ctx));
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, peer_models, &p[1]), 0);
    peer_models(&p[0]);
    pthread_join(th, NULL);
    for (int r = 0; r < 2; r++) {
        ck_assert_msg(p[r].st == CP_OK, "replica %d: %s", r, p[r].error);
        ck_assert_int_eq(p[r].identical_before, CP_ERR_INTERNAL);
        TU_OK(p[r].identical_after);
    }
    cp_context_free(p[0].ctx);
    cp_context_free(p[1].ctx);
    cp_comm_free(eps[0]);
    cp_comm_free(eps[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("in_process");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, local_sum_broadcast_and_failure);
    tcase_add_test(tc, diverged_parameters_are_caught);
    tcase_add_test(tc, global_batch_must_divide);
    tcase_add_test(tc, cli_device_list_needs_a_dividing_batch);
    tcase_add_test(tc, two_devices_train_the_model_of_one);
    tcase_add_test(tc, two_replica_checkpoint_resumes_on_one);
    tcase_add_test(tc, batchnorm_trains_on_two_devices);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    if (work_dir) tu_rmdir(work_dir);
    return failed;
}
