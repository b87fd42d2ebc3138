/* Will a training iteration fit the device? Planned before anything runs,
 * so a too-large batch is refused with the largest one that fits. */
#include "clinpaint/train.h"
#include "backend/opencl/runtime/check.h"
#include "train/train_internal.h"

/* Activations of one iteration at `batch`, from the plan (no allocation).
 * UINT64_MAX when a single tensor exceeds the device's largest buffer. */
static cp_status arena_bytes(cp_model *m, int batch, uint64_t *bytes)
{
    cp_train_options o = cp_train_defaults();
    cp_train_graph tg;
    CP_TRY(cp_model_build_train(m, batch, &o, &tg));
    cp_plan_options po = cp_plan_defaults();
    cp_status st = cp_graph_plan_size(tg.graph, &po, bytes, NULL);
    cp_train_graph_free(&tg);
    if (st == CP_ERR_OUT_OF_DEVICE_MEMORY) {
        *bytes = UINT64_MAX;
        st = CP_OK;
    }
    return st;
}

static bool fits(const cp_device_info *d, uint64_t model, uint64_t arena)
{
    /* The planner cuts the arena into buffers the device allows; leave 10 %
     * of the device for the driver, CLBlast's buffers and evaluation. */
    return arena != UINT64_MAX && model + arena <= d->global_mem_bytes / 10 * 9;
}

cp_status cp_train_check_memory(cp_model *m, int batch, uint64_t *needed, int *largest)
{
    const cp_device_info *d = cp_context_device(m->ctx);
    uint64_t mb = cp_model_bytes(m), ab;
    /* Host memory first: the model's size alone can exhaust it. */
    CP_TRY(cp_train_check_host_memory(d, &m->cfg, batch, 0, 0));
    /* Activations are left to the device check below: on a CPU device the
     * driver's global memory size already stands for the host's. */
    CP_TRY(arena_bytes(m, batch, &ab));
    *needed = ab == UINT64_MAX ? UINT64_MAX : mb + ab;
    if (fits(d, mb, ab)) {
        *largest = batch;
        return CP_OK;
    }
    /* Activations grow with the batch: bisect for the largest that fits. */
    int lo = 0, hi = batch; /* lo fits (0 trivially), hi does not */
    int min_batch = m->cfg.batchnorm ? 2 : 1;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (mid < min_batch) {
            lo = mid;
            continue;
        }
        CP_TRY(arena_bytes(m, mid, &ab));
        if (fits(d, mb, ab))
            lo = mid;
        else
            hi = mid;
    }
    *largest = lo >= min_batch ? lo : 0;
    return CP_OK;
}

cp_status cp_train_memory(cp_context *ctx, const cp_model_config *cfg, int batch,
                          uint64_t *bytes, int *largest_batch)
{
    /* Before cp_model_create: an absurd model is refused without allocating. */
    CP_TRY(cp_model_config_validate(cfg));
    CP_TRY(cp_train_check_host_memory(cp_context_device(ctx), cfg, batch, 0, 0));
    cp_model *m;
    CP_TRY(cp_model_create(ctx, cfg, &m));
    cp_status st = cp_train_check_memory(m, batch, bytes, largest_batch);
    cp_model_free(m);
    return st;
}
