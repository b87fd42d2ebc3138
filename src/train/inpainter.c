/* Runs the inference graph on host batches. A batch smaller than the
 * graph's gets a graph of its own size (built on first use), so that
 * batch statistics and losses never include padding. */
#include "clinpaint/inpaint.h"
#include "backend/opencl/runtime/check.h"

#include <stdlib.h>
#include <string.h>

typedef struct sized_graph {
    cp_infer_graph g;
    bool built;
} sized_graph;

struct cp_inpainter {
    cp_model *m;
    int batch;
    bool with_losses;
    float ctx_weight;
    sized_graph full, partial; /* batch, and the last odd size asked for */
};

cp_status cp_inpainter_create(cp_model *m, int batch, bool with_losses, float ctx_weight,
                              cp_inpainter **out)
{
    *out = NULL;
    if (batch < 1) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "inpaint batch %d < 1", batch);
    cp_inpainter *p = calloc(1, sizeof *p);
    if (!p) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "inpainter");
    p->m = m;
    p->batch = batch;
    p->with_losses = with_losses;
    p->ctx_weight = ctx_weight;
    *out = p;
    return CP_OK;
}

void cp_inpainter_free(cp_inpainter *p)
{
    if (!p) return;
    if (p->full.built) cp_infer_graph_free(&p->full.g);
    if (p->partial.built) cp_infer_graph_free(&p->partial.g);
    free(p);
}

int cp_inpainter_batch(const cp_inpainter *p) { return p->batch; }

static cp_status graph_for(cp_inpainter *p, int n, cp_infer_graph **out)
{
    sized_graph *s = n == p->batch ? &p->full : &p->partial;
    if (s->built && s->g.batch != n) {
        cp_infer_graph_free(&s->g);
        s->built = false;
    }
    if (!s->built) {
        CP_TRY(cp_model_build_infer(p->m, n, p->with_losses, p->ctx_weight, &s->g));
        cp_plan_options o = cp_plan_defaults();
        cp_status st = cp_graph_plan(s->g.graph, &o);
        if (st != CP_OK) {
            cp_infer_graph_free(&s->g);
            return st;
        }
        s->built = true;
    }
    *out = &s->g;
    return CP_OK;
}

cp_status cp_inpainter_run(cp_inpainter *p, int n, const float *images, const float *masks,
                           float *y, float *g_out, cp_eval_losses *losses)
{
    if (n < 1 || n > p->batch)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "inpaint: %d images for a batch of %d", n,
                            p->batch);
    cp_infer_graph *ig;
    CP_TRY(graph_for(p, n, &ig));
    cp_context *ctx = p->m->ctx;
    cp_tensor tx, tm, ty, tg;
    CP_TRY(cp_graph_tensor(ig->graph, ig->x, &tx));
    CP_TRY(cp_graph_tensor(ig->graph, ig->mask, &tm));
    CP_TRY(cp_tensor_upload(ctx, &tx, images));
    CP_TRY(cp_tensor_upload(ctx, &tm, masks));
    CP_TRY(cp_graph_run(ig->graph));
    CP_TRY(cp_graph_tensor(ig->graph, ig->y, &ty));
    CP_TRY(cp_tensor_download(ctx, &ty, y));
    if (g_out) {
        CP_TRY(cp_graph_tensor(ig->graph, ig->g_out, &tg));
        CP_TRY(cp_tensor_download(ctx, &tg, g_out));
    }
    if (losses) {
        if (!p->with_losses)
            return cp_set_error(CP_ERR_INVALID_ARGUMENT, "inpaint: created without losses");
        float l[3];
        cp_node *nodes[3] = {ig->loss_rec, ig->loss_adv, ig->loss_d};
        CP_TRY(cp_graph_read_scalars(ig->graph, nodes, 3, l));
        *losses = (cp_eval_losses){l[0], l[1], l[2]};
    }
    return CP_OK;
}
