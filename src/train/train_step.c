/* One training iteration (include/clinpaint/train_step.h). */
#include "clinpaint/train_step.h"
#include "backend/opencl/runtime/check.h"

#include <stddef.h>

/* Runs the graph in three pieces, handing each network's gradients to the
 * hook before its update segment. */
static cp_status run_with_hook(cp_model *m, cp_train_graph *t, const cp_train_step_options *o)
{
    const struct {
        int update_segment, group;
    } stops[2] = {{t->d_update_segment, CP_GROUP_D}, {t->g_update_segment, CP_GROUP_G}};
    int from = 0;
    for (int k = 0; k < 2; k++) {
        if (stops[k].update_segment <= from)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                                "train step: the graph has no update segments");
        CP_TRY(cp_graph_run_segments(t->graph, from, stops[k].update_segment));
        CP_TRY(o->on_gradients(o->user, m, t, stops[k].group));
        from = stops[k].update_segment;
    }
    return cp_graph_run_segments(t->graph, from, cp_graph_segment_count(t->graph));
}

cp_status cp_train_step(cp_model *m, cp_train_graph *t, const float *images, const float *masks,
                        const cp_train_step_options *o, cp_train_scalars *out)
{
    cp_context *ctx = m->ctx;
    cp_tensor tx, tm;
    if (images) {
        CP_TRY(cp_graph_tensor(t->graph, t->x, &tx));
        CP_TRY(cp_tensor_upload(ctx, &tx, images));
    }
    if (masks) {
        CP_TRY(cp_graph_tensor(t->graph, t->mask, &tm));
        CP_TRY(cp_tensor_upload(ctx, &tm, masks));
    }
    /* The Adam nodes read these when they are enqueued. */
    m->step_d++;
    m->step_g++;
    bool hooked = o && o->on_gradients;
    if (o && o->profile) CP_TRY(cp_graph_profile_begin(t->graph));
    cp_status st = hooked ? run_with_hook(m, t, o) : cp_graph_run(t->graph);
    if (o && o->profile) st = cp_graph_profile_end(t->graph, st, o->profile);
    CP_TRY(st);
    if (!out) return CP_OK;
    cp_node *nodes[6] = {t->loss_rec, t->loss_adv, t->loss_g, t->loss_d, t->p_real, t->p_fake};
    float v[6];
    CP_TRY(cp_graph_read_scalars(t->graph, nodes, 6, v));
    *out = (cp_train_scalars){v[0], v[1], v[2], v[3], v[4], v[5]};
    return CP_OK;
}
