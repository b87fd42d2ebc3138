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
#include "util/test_util.h"

static char *work_dir, *data_dir;

static char *path_in(const char *name)
{
    if (!work_dir) {
        work_dir = tu_tempdir();
        data_dir = malloc(strlen(work_dir) + 8);
        sprintf(data_dir, "%s/faces", work_dir);
        TU_OK(cp_synth_write_dataset(data_dir, 48, 32, 5));
    }
    char *p = malloc(strlen(work_dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", work_dir, name);
    return p;
}

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
    for (int i = 0; i < replicas; i++) TU_OK(cp_context_create(NULL, &ctx[i]));
    cp_train_result r;
    TU_OK(cp_train_replicas(ctx, replicas, c, &r));
    ck_assert_uint_eq(r.step, c->max_steps);
    for (int i = 0; i < replicas; i++) cp_context_free(ctx[i]);
}

/* log.csv columns L_rec, L_adv, L_G, L_D, D(x), D(y) of steps from..to. */
static int read_losses(const char *out, double v[][6], int max)
{
    char path[1200], line[512];
    snprintf(path, sizeof path, "%s/log.csv", out);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        unsigned long long step, epoch;
        ck_assert_int_eq(sscanf(line, "%llu,%llu,%lf,%lf,%lf,%lf,%lf,%lf", &step, &epoch, &v[n][0],
                                &v[n][1], &v[n][2], &v[n][3], &v[n][4], &v[n][5]),
                         8);
        ck_assert_uint_eq(step, (unsigned long long)n + 1);
        n++;
    }
    fclose(f);
    return n;
}

static void assert_losses_close(const char *a, const char *b, int from, int to)
{
    static double va[64][6], vb[64][6];
    ck_assert_int_ge(read_losses(a, va, 64), to);
    ck_assert_int_ge(read_losses(b, vb, 64), to);
    for (int i = from - 1; i < to; i++)
        for (int k = 0; k < 6; k++) {
            double rel = fabs(va[i][k] - vb[i][k]) / fmax(fabs(va[i][k]), 1e-12);
            ck_assert_msg(rel <= 1e-5, "step %d column %d: %.9g against %.9g (relative %.2g)",
                          i + 1, k, va[i][k], vb[i][k], rel);
        }
}

/* Largest difference between the trainable parameters of two checkpoints. */
static double param_difference(const char *run_a, const char *run_b)
{
    cp_model *m[2];
    const char *runs[2] = {run_a, run_b};
    for (int i = 0; i < 2; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/ckpt/last.safetensors", runs[i]);
        cp_checkpoint *ck;
        TU_OK(cp_checkpoint_open(path, &ck));
        TU_OK(cp_checkpoint_load_model(ck, tu_ctx(), true, &m[i]));
        cp_checkpoint_close(ck);
    }
    ck_assert_int_eq(m[0]->count, m[1]->count);
    double worst = 0;
    for (int t = 0; t < m[0]->count; t++) {
        if (!m[0]->tensors[t].trainable) continue;
        float *a = tu_download(&m[0]->tensors[t].value), *b = tu_download(&m[1]->tensors[t].value);
        for (size_t i = 0; i < cp_tensor_numel(&m[0]->tensors[t].value); i++)
            worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
        free(a);
        free(b);
    }
    ck_assert_int_eq(m[0]->step_g, m[1]->step_g);
    cp_model_free(m[0]);
    cp_model_free(m[1]);
    return worst;
}

START_TEST(two_devices_train_the_model_of_one)
{
    char *one = path_in("one"), *two = path_in("two");
    cp_train_config c1 = config(one, 20), c2 = config(two, 20);
    train_on(1, &c1);
    train_on(2, &c2);
    assert_losses_close(one, two, 1, 20);
    double d = param_difference(one, two);
    ck_assert_msg(d <= 1e-5, "parameters differ by %.3g after 20 steps", d);
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
    assert_losses_close(one, split, 8, 20);
    double d = param_difference(one, split);
    ck_assert_msg(d <= 1e-5, "parameters differ by %.3g after the resumed run", d);
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
    ck_assert_int_eq(read_losses(out, v, 64), 12);
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
    TU_OK(cp_context_create(NULL, &ctx[0]));
    TU_OK(cp_context_create(NULL, &ctx[1]));
    cp_train_result r;
    ck_assert_int_eq(cp_train_replicas(ctx, 2, &c, &r), CP_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(cp_last_error(), "divide"), "%s", cp_last_error());
    cp_context_free(ctx[0]);
    cp_context_free(ctx[1]);
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

static void *peer_models(void *arg)
{
    peer *p = arg;
    cp_model_config mc = {"custom", 32, {4, 8, 8, 8, 8, 8}, 16, false};
    cp_model *m;
    TU_OK(cp_context_create(NULL, &p->ctx));
    TU_OK(cp_model_create(p->ctx, &mc, &m));
    TU_OK(cp_model_init(m, p->seed));
    cp_replica rep = {.comm = p->comm};
    p->identical_before = cp_replica_check_identical(&rep, m, 1);
    p->st = cp_replica_broadcast_model(&rep, m);
    p->identical_after = cp_replica_check_identical(&rep, m, 1);
    cp_replica_release(&rep);
    cp_model_free(m);
    cp_context_free(p->ctx);
    return NULL;
}

START_TEST(diverged_parameters_are_caught)
{
    cp_comm *eps[2];
    TU_OK(cp_comm_local_create(2, eps));
    peer p[2] = {{.comm = eps[0], .seed = 1}, {.comm = eps[1], .seed = 2}};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, peer_models, &p[1]), 0);
    peer_models(&p[0]);
    pthread_join(th, NULL);
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(p[r].identical_before, CP_ERR_INTERNAL);
        TU_OK(p[r].st);
        TU_OK(p[r].identical_after);
    }
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
    tcase_add_test(tc, two_devices_train_the_model_of_one);
    tcase_add_test(tc, two_replica_checkpoint_resumes_on_one);
    tcase_add_test(tc, batchnorm_trains_on_two_devices);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    if (work_dir) tu_rmdir(work_dir);
    return failed;
}
