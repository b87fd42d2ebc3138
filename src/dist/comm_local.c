/* The in-process communicator: replicas are threads of one process. Each
 * collective is a barrier; the last replica to arrive does the work for
 * all (sums in rank order, so every replica gets the same bits). */
#include "dist/comm_internal.h"
#include "backend/opencl/runtime/check.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct group {
    pthread_mutex_t mu;
    /* Held by one replica while it sets up: CLBlast's first call per
     * routine (its kernel database) is not safe on two threads at once. */
    pthread_mutex_t serial;
    pthread_cond_t cv;
    int n, arrived, refs;
    uint64_t generation;
    void **bufs;  /* per rank: its buffer in the collective under way */
    size_t len;   /* elements or bytes of that collective */
    int failed_rank; /* -1 while every replica is well */
    cp_comm *endpoints;
} group;

static cp_status peer_failed(const group *g)
{
    return cp_set_error(CP_ERR_INTERRUPTED, "replica %d failed, so this replica stopped too",
                        g->failed_rank);
}

/* Waits for every replica; the last one runs `work` on all buffers. */
static cp_status collective(cp_comm *c, void *data, size_t len,
                            void (*work)(void **bufs, int n, size_t len))
{
    group *g = c->impl;
    pthread_mutex_lock(&g->mu);
    if (g->failed_rank >= 0) {
        pthread_mutex_unlock(&g->mu);
        return peer_failed(g);
    }
    if (g->arrived == 0) g->len = len;
    if (g->len != len) { /* a bug: the replicas are out of step */
        g->failed_rank = c->rank;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        return cp_set_error(CP_ERR_INTERNAL, "replicas out of step (%zu against %zu values)",
                            len, g->len);
    }
    g->bufs[c->rank] = data;
    uint64_t gen = g->generation;
    if (++g->arrived == g->n) {
        work(g->bufs, g->n, len);
        g->arrived = 0;
        g->generation++;
        pthread_cond_broadcast(&g->cv);
    } else {
        while (g->generation == gen && g->failed_rank < 0) pthread_cond_wait(&g->cv, &g->mu);
    }
    cp_status st = g->generation == gen ? peer_failed(g) : CP_OK;
    pthread_mutex_unlock(&g->mu);
    return st;
}

static void sum_work(void **bufs, int n, size_t len)
{
    float **b = (float **)bufs;
    for (size_t i = 0; i < len; i++) {
        float s = 0;
        for (int r = 0; r < n; r++) s += b[r][i];
        for (int r = 0; r < n; r++) b[r][i] = s;
    }
}

static void broadcast_work(void **bufs, int n, size_t len)
{
    for (int r = 1; r < n; r++) memcpy(bufs[r], bufs[0], len);
}

static cp_status local_sum(cp_comm *c, float *data, size_t n)
{
    return collective(c, data, n, sum_work);
}

static cp_status local_broadcast(cp_comm *c, void *data, size_t bytes)
{
    return collective(c, data, bytes, broadcast_work);
}

static void local_fail(cp_comm *c)
{
    group *g = c->impl;
    pthread_mutex_lock(&g->mu);
    if (g->failed_rank < 0) g->failed_rank = c->rank;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void local_serial(cp_comm *c, bool begin)
{
    group *g = c->impl;
    if (begin)
        pthread_mutex_lock(&g->serial);
    else
        pthread_mutex_unlock(&g->serial);
}

static void local_free(cp_comm *c)
{
    group *g = c->impl;
    pthread_mutex_lock(&g->mu);
    bool last = --g->refs == 0;
    pthread_mutex_unlock(&g->mu);
    if (!last) return;
    pthread_mutex_destroy(&g->mu);
    pthread_mutex_destroy(&g->serial);
    pthread_cond_destroy(&g->cv);
    free(g->bufs);
    free(g->endpoints);
    free(g);
}

static const cp_comm_ops local_ops = {local_sum, local_broadcast, local_fail, local_free,
                                       local_serial};

cp_status cp_comm_local_create(int n, cp_comm **endpoints)
{
    if (n < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "replica count %d", n);
    group *g = calloc(1, sizeof *g);
    if (!g) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "replica group");
    g->bufs = calloc((size_t)n, sizeof *g->bufs);
    g->endpoints = calloc((size_t)n, sizeof *g->endpoints);
    if (!g->bufs || !g->endpoints || pthread_mutex_init(&g->mu, NULL) != 0) {
        free(g->bufs);
        free(g->endpoints);
        free(g);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "replica group");
    }
    if (pthread_mutex_init(&g->serial, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        free(g->bufs);
        free(g->endpoints);
        free(g);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "replica group");
    }
    if (pthread_cond_init(&g->cv, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        pthread_mutex_destroy(&g->serial);
        free(g->bufs);
        free(g->endpoints);
        free(g);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "replica group");
    }
    g->n = g->refs = n;
    g->failed_rank = -1;
    for (int r = 0; r < n; r++) {
        g->endpoints[r] = (cp_comm){&local_ops, r, n, g};
        endpoints[r] = &g->endpoints[r];
    }
    return CP_OK;
}

int cp_comm_local_failed_rank(const cp_comm *c)
{
    group *g = c->impl;
    pthread_mutex_lock(&g->mu);
    int r = g->failed_rank;
    pthread_mutex_unlock(&g->mu);
    return r;
}
