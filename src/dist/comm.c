/* The communicator's public entry points: dispatch to its kind. */
#include "dist/comm_internal.h"
#include "backend/opencl/runtime/check.h"

int cp_comm_rank(const cp_comm *c) { return c ? c->rank : 0; }
int cp_comm_size(const cp_comm *c) { return c ? c->size : 1; }

cp_status cp_comm_sum(cp_comm *c, float *data, size_t n)
{
    if (!c || c->size == 1 || n == 0) return CP_OK;
    /* Buckets keep MPI's temporary buffers and the local group's
     * scratch small whatever the model size. */
    const size_t bucket = CP_COMM_BUCKET_BYTES / sizeof(float);
    for (size_t at = 0; at < n; at += bucket) {
        size_t k = n - at < bucket ? n - at : bucket;
        CP_TRY(c->ops->sum(c, data + at, k));
    }
    return CP_OK;
}

cp_status cp_comm_broadcast(cp_comm *c, void *data, size_t bytes)
{
    if (!c || c->size == 1 || bytes == 0) return CP_OK;
    return c->ops->broadcast(c, data, bytes);
}

void cp_comm_fail(cp_comm *c)
{
    if (c && c->ops->fail) c->ops->fail(c);
}

void cp_comm_free(cp_comm *c)
{
    if (c) c->ops->free(c);
}

void cp_comm_serial_begin(cp_comm *c)
{
    if (c && c->ops->serial) c->ops->serial(c, true);
}

void cp_comm_serial_end(cp_comm *c)
{
    if (c && c->ops->serial) c->ops->serial(c, false);
}
