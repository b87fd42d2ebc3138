/* Several devices in one process: one thread per replica, each running
 * the trainer on its own context, joined by the in-process communicator. */
#include "dist/comm_internal.h"
#include "backend/opencl/runtime/check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct worker {
    cp_context *ctx;
    cp_train_config cfg;
    cp_train_result res;
    cp_status st;
    char error[4096]; /* cp_last_error is per thread: carried back here */
    pthread_t thread;
    bool started;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    w->st = cp_train(w->ctx, &w->cfg, &w->res);
    if (w->st != CP_OK) snprintf(w->error, sizeof w->error, "%s", cp_last_error());
    return NULL;
}

cp_status cp_train_replicas(cp_context *const *ctxs, int n, const cp_train_config *cfg,
                            cp_train_result *result)
{
    memset(result, 0, sizeof *result);
    if (n == 1) return cp_train(ctxs[0], cfg, result);
    if (n < 1 || cfg->comm)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "cp_train_replicas: %d replicas%s", n,
                            cfg->comm ? " inside another communicator" : "");
    if (cfg->batch % n != 0 && !cfg->resume)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "--batch %d (the global batch) does not divide by the %d devices",
                            cfg->batch, n);
    worker *w = calloc((size_t)n, sizeof *w);
    cp_comm **eps = calloc((size_t)n, sizeof *eps);
    if (!w || !eps) {
        free(w);
        free(eps);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%d replicas", n);
    }
    cp_status st = cp_comm_local_create(n, eps);
    if (st != CP_OK) {
        free(w);
        free(eps);
        return st;
    }
    for (int r = 0; r < n; r++) {
        w[r].ctx = ctxs[r];
        w[r].cfg = *cfg;
        w[r].cfg.comm = eps[r];
        if (r > 0) { /* replica 0 speaks for all */
            w[r].cfg.on_progress = NULL;
            w[r].cfg.on_epoch = NULL;
            w[r].cfg.on_message = NULL;
        }
    }
    for (int r = 1; r < n; r++) {
        w[r].started = pthread_create(&w[r].thread, NULL, run_worker, &w[r]) == 0;
        if (!w[r].started) {
            w[r].st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "cannot start replica %d's thread", r);
            snprintf(w[r].error, sizeof w[r].error, "%s", cp_last_error());
            cp_comm_fail(eps[r]);
        }
    }
    run_worker(&w[0]);
    for (int r = 1; r < n; r++)
        if (w[r].started) pthread_join(w[r].thread, NULL);
    /* The replica that failed first has the message that matters; the
     * others only stopped because of it. */
    int failed = cp_comm_local_failed_rank(eps[0]);
    const worker *says = failed >= 0 && w[failed].st != CP_OK ? &w[failed] : &w[0];
    *result = w[0].res;
    st = says->st;
    if (st != CP_OK) {
        if (says != &w[0])
            cp_set_error(st, "replica %d (device %d of %d): %s", failed, failed + 1, n, says->error);
        else
            cp_set_error(st, "%s", says->error);
    }
    for (int r = 0; r < n; r++) cp_comm_free(eps[r]);
    free(eps);
    free(w);
    return st;
}
