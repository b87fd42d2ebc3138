/* One data-parallel replica's part of a training step (replica.h). */
#include "dist/replica.h"
#include "backend/opencl/runtime/check.h"
#include "util/hash.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static cp_status reserve(float **buf, size_t *have, size_t need)
{
    if (*have >= need) return CP_OK;
    float *p = realloc(*buf, need * sizeof(float));
    if (!p) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "%zu floats of gradient staging", need);
    *buf = p;
    *have = need;
    return CP_OK;
}

cp_status cp_replica_average_gradients(void *user, cp_model *m, cp_train_graph *t, int group)
{
    cp_replica *r = user;
    int n = cp_comm_size(r->comm);
    if (n == 1) return CP_OK;
    /* The backward pass is only enqueued: finish it first, so that the
     * time counted is the exchange's (download, sum, upload), not compute. */
    CP_TRY(cp_context_finish(m->ctx));
    double t0 = now_s();
    CP_TRY(reserve(&r->staging, &r->staging_floats, cp_model_param_count(m, group)));
    /* Every replica walks the same tensors in the same order, so the
     * staging buffers line up element by element. */
    size_t at = 0;
    for (int i = 0; i < m->count; i++) {
        if (m->tensors[i].group != group || !m->tensors[i].trainable || !t->grad[i]) continue;
        cp_tensor g;
        CP_TRY(cp_graph_tensor(t->graph, t->grad[i], &g));
        CP_TRY(cp_tensor_download(m->ctx, &g, r->staging + at));
        at += cp_tensor_numel(&g);
    }
    CP_TRY(cp_comm_sum(r->comm, r->staging, at));
    const float scale = 1.0f / (float)n;
    for (size_t k = 0; k < at; k++) r->staging[k] *= scale;
    at = 0;
    for (int i = 0; i < m->count; i++) {
        if (m->tensors[i].group != group || !m->tensors[i].trainable || !t->grad[i]) continue;
        cp_tensor g;
        CP_TRY(cp_graph_tensor(t->graph, t->grad[i], &g));
        CP_TRY(cp_tensor_upload(m->ctx, &g, r->staging + at));
        at += cp_tensor_numel(&g);
    }
    r->comm_seconds += now_s() - t0;
    return CP_OK;
}

/* Calls fn on every device tensor of the model that must match across
 * replicas: values, and Adam's moments of the trainable ones. */
static cp_status each_state_tensor(cp_replica *r, cp_model *m, bool trainable_only,
                                   cp_status (*fn)(cp_replica *r, cp_model *m, cp_tensor *t,
                                                   void *arg),
                                   void *arg)
{
    for (int i = 0; i < m->count; i++) {
        cp_model_tensor *mt = &m->tensors[i];
        if (trainable_only && !mt->trainable) continue;
        CP_TRY(fn(r, m, &mt->value, arg));
        if (!mt->trainable) continue;
        CP_TRY(fn(r, m, &mt->m, arg));
        CP_TRY(fn(r, m, &mt->v, arg));
    }
    return CP_OK;
}

static cp_status broadcast_tensor(cp_replica *r, cp_model *m, cp_tensor *t, void *arg)
{
    size_t n = cp_tensor_numel(t);
    CP_TRY(reserve(&r->staging, &r->staging_floats, n));
    CP_TRY(cp_tensor_download(m->ctx, t, r->staging));
    CP_TRY(cp_comm_broadcast(r->comm, r->staging, n * sizeof(float)));
    return cp_tensor_upload(m->ctx, t, r->staging);
}

cp_status cp_replica_broadcast_model(cp_replica *r, cp_model *m)
{
    if (cp_comm_size(r->comm) == 1) return CP_OK;
    CP_TRY(each_state_tensor(r, m, false, broadcast_tensor, NULL));
    int64_t steps[2] = {m->step_d, m->step_g};
    CP_TRY(cp_comm_broadcast(r->comm, steps, sizeof steps));
    m->step_d = steps[0];
    m->step_g = steps[1];
    return CP_OK;
}

static cp_status hash_tensor(cp_replica *r, cp_model *m, cp_tensor *t, void *arg)
{
    size_t n = cp_tensor_numel(t);
    CP_TRY(reserve(&r->staging, &r->staging_floats, n));
    CP_TRY(cp_tensor_download(m->ctx, t, r->staging));
    uint64_t *h = arg;
    *h = cp_fnv1a64_update(*h, r->staging, n * sizeof(float));
    return CP_OK;
}

cp_status cp_replica_check_identical(cp_replica *r, cp_model *m, uint64_t step)
{
    if (cp_comm_size(r->comm) == 1) return CP_OK;
    uint64_t mine = CP_FNV1A64_INIT;
    CP_TRY(each_state_tensor(r, m, true, hash_tensor, &mine));
    uint64_t first = mine;
    CP_TRY(cp_comm_broadcast(r->comm, &first, sizeof first));
    float differ = first != mine ? 1.0f : 0.0f;
    CP_TRY(cp_comm_sum(r->comm, &differ, 1));
    if (differ > 0)
        return cp_set_error(CP_ERR_INTERNAL,
                            "the replicas' parameters diverged by step %" PRIu64 " (%d of %d "
                            "replicas differ from replica 0; this replica %s): a bug or a "
                            "faulty device; the last checkpoint is from before",
                            step, (int)differ, cp_comm_size(r->comm),
                            first != mine ? "differs" : "matches");
    return CP_OK;
}

cp_status cp_replica_slice(cp_replica *r, const cp_batch *b, const float **images,
                           const float **masks)
{
    int n = cp_comm_size(r->comm), rank = cp_comm_rank(r->comm);
    if (n == 1) {
        *images = b->images;
        *masks = b->masks;
        return CP_OK;
    }
    if (b->n % n != 0)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "batch of %d does not split over %d replicas",
                            b->n, n);
    int per = b->n / n;
    size_t px = (size_t)b->size * (size_t)b->size;
    size_t have_img = r->slice_capacity * 3 * px, have_mask = r->slice_capacity * px;
    CP_TRY(reserve(&r->images, &have_img, (size_t)per * 3 * px));
    CP_TRY(reserve(&r->masks, &have_mask, (size_t)per * px));
    if ((size_t)per > r->slice_capacity) r->slice_capacity = (size_t)per;
    for (int k = 0; k < per; k++) {
        size_t src = (size_t)(rank + k * n);
        memcpy(r->images + (size_t)k * 3 * px, b->images + src * 3 * px, 3 * px * sizeof(float));
        if (b->masks) memcpy(r->masks + (size_t)k * px, b->masks + src * px, px * sizeof(float));
    }
    *images = r->images;
    *masks = b->masks ? r->masks : NULL;
    return CP_OK;
}

void cp_replica_release(cp_replica *r)
{
    free(r->staging);
    free(r->images);
    free(r->masks);
    memset(r, 0, sizeof *r);
}
