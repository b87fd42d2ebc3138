/* Graph building: nodes, shapes, the first-error rule. */
#include "graph/graph_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[CP_OP_COUNT] = {
    [CP_OP_INPUT] = "input", [CP_OP_PARAM] = "param", [CP_OP_BUFFER] = "buffer",
    [CP_OP_CONV2D] = "conv2d", [CP_OP_CONV_T2D] = "conv_transpose2d",
    [CP_OP_DENSE] = "dense", [CP_OP_MAXPOOL2] = "maxpool2", [CP_OP_ELU] = "elu",
    [CP_OP_TANH] = "tanh", [CP_OP_SIGMOID] = "sigmoid", [CP_OP_ADD] = "add",
    [CP_OP_MUL] = "mul", [CP_OP_SCALE] = "scale", [CP_OP_CONCAT] = "concat",
    [CP_OP_MASK_KNOWN] = "mask_known", [CP_OP_COMPOSITE] = "composite",
    [CP_OP_BATCHNORM] = "batchnorm", [CP_OP_LOSS_REC] = "loss_rec",
    [CP_OP_LOSS_BCE] = "loss_bce", [CP_OP_MEAN] = "mean", [CP_OP_RESHAPE] = "reshape",
    [CP_OP_STOP_GRAD] = "stop_gradient", [CP_OP_CONV2D_DX] = "conv2d_dx",
    [CP_OP_CONV2D_DW] = "conv2d_dw", [CP_OP_CONV_T2D_DX] = "conv_transpose2d_dx",
    [CP_OP_CONV_T2D_DW] = "conv_transpose2d_dw", [CP_OP_DENSE_DX] = "dense_dx",
    [CP_OP_DENSE_DW] = "dense_dw", [CP_OP_BIAS_GRAD] = "bias_grad",
    [CP_OP_MAXPOOL2_DX] = "maxpool2_dx", [CP_OP_ELU_DX] = "elu_dx",
    [CP_OP_TANH_DX] = "tanh_dx", [CP_OP_SIGMOID_DX] = "sigmoid_dx",
    [CP_OP_CONCAT_DX] = "concat_dx", [CP_OP_COMPOSITE_DG] = "composite_dg",
    [CP_OP_BN_DX] = "batchnorm_dx", [CP_OP_BN_DGAMMA] = "batchnorm_dgamma", [CP_OP_LOSS_REC_DG] = "loss_rec_dg",
    [CP_OP_LOSS_BCE_DT] = "loss_bce_dt", [CP_OP_ADAM] = "adam",
    [CP_OP_ELU_FUSED] = "elu_fused", [CP_OP_ELU_DX_FUSED] = "elu_dx_fused",
    [CP_OP_LOSS_DICE] = "loss_dice", [CP_OP_LOSS_DICE_DT] = "loss_dice_dt",
};

const char *cp_op_name(cp_op op)
{
    return op >= 0 && op < CP_OP_COUNT && op_names[op] ? op_names[op] : "?";
}

cp_status cp_graph_create_on(cp_backend *b, cp_graph **out)
{
    cp_graph *g = calloc(1, sizeof *g);
    if (!g) {
        if (b) b->iface->free(b);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "graph");
    }
    g->backend = b;
    *out = g;
    return CP_OK;
}

void cp_graph_free(cp_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->count; i++) free(g->nodes[i]);
    free(g->nodes);
    cp_graph_release_arena(g);
    if (g->scratch_scalar) g->backend->iface->buffer_free(g->backend, g->scratch_scalar);
    free(g->poison);
    if (g->backend) g->backend->iface->free(g->backend);
    free(g);
}

cp_status cp_graph_status(const cp_graph *g) { return g->error; }

cp_node *cp_graph_fail(cp_graph *g, cp_status st, const char *fmt, ...)
{
    if (g->error == CP_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->error_msg, sizeof g->error_msg, fmt, ap);
        va_end(ap);
        g->error = st;
    }
    cp_set_error(g->error, "%s", g->error_msg);
    return NULL;
}

int cp_graph_segment(cp_graph *g, const char *name)
{
    if (g->segment_count == 8) return -1;
    snprintf(g->segment_names[g->segment_count], sizeof g->segment_names[0], "%s", name);
    g->segment_start[g->segment_count] = g->count;
    return g->segment_count++;
}

cp_node *cp_graph_add_node(cp_graph *g, cp_op op, int ndim, const int64_t *shape,
                           cp_node *const *src, int nsrc)
{
    if (g->error != CP_OK) return cp_graph_fail(g, g->error, "%s", g->error_msg);
    if (g->planned)
        return cp_graph_fail(g, CP_ERR_INVALID_ARGUMENT,
                             "graph: nodes cannot be added after planning");
    for (int i = 0; i < nsrc; i++)
        if (!src[i])
            return cp_graph_fail(g, CP_ERR_INVALID_ARGUMENT, "graph: %s: source %d is NULL",
                                 cp_op_name(op), i);
    if (ndim < 0 || ndim > CP_MAX_DIMS)
        return cp_graph_fail(g, CP_ERR_INVALID_ARGUMENT, "graph: %s: rank %d",
                             cp_op_name(op), ndim);
    if (g->count == g->cap) {
        int cap = g->cap ? g->cap * 2 : 256;
        cp_node **grown = realloc(g->nodes, (size_t)cap * sizeof *grown);
        if (!grown) return cp_graph_fail(g, CP_ERR_OUT_OF_HOST_MEMORY, "graph nodes");
        g->nodes = grown;
        g->cap = cap;
    }
    cp_node *n = calloc(1, sizeof *n);
    if (!n) return cp_graph_fail(g, CP_ERR_OUT_OF_HOST_MEMORY, "graph node");
    n->id = g->count;
    n->op = op;
    n->dtype = CP_DTYPE_F32; /* the only one today */
    n->ndim = ndim;
    for (int i = 0; i < CP_MAX_DIMS; i++) n->shape[i] = i < ndim ? shape[i] : 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0) {
            free(n);
            return cp_graph_fail(g, CP_ERR_INVALID_ARGUMENT,
                                 "graph: %s: dimension %d has size %lld", cp_op_name(op), i,
                                 (long long)shape[i]);
        }
    for (int i = 0; i < nsrc; i++) n->src[i] = src[i];
    n->nsrc = nsrc;
    n->group = -1;
    n->last_use = -1;
    snprintf(n->name, sizeof n->name, "%s%d", cp_op_name(op), n->id);
    g->nodes[g->count++] = n;
    return n;
}

bool cp_node_is_alias(const cp_node *n)
{
    return n->op == CP_OP_RESHAPE || n->op == CP_OP_STOP_GRAD || n->op == CP_OP_ELU_FUSED ||
           n->op == CP_OP_ELU_DX_FUSED;
}

bool cp_node_is_external(const cp_node *n)
{
    return n->op == CP_OP_PARAM || n->op == CP_OP_BUFFER;
}

size_t cp_node_numel(const cp_node *n)
{
    size_t k = 1;
    for (int i = 0; i < n->ndim; i++) k *= (size_t)n->shape[i];
    return k;
}

bool cp_node_is_scalar(const cp_node *n) { return cp_node_numel(n) == 1; }

size_t cp_node_alloc_floats(const cp_node *n)
{
    if (cp_node_is_alias(n) || cp_node_is_external(n) || n->op == CP_OP_ADAM) return 0;
    return cp_node_numel(n) + n->aux_floats;
}

void cp_node_set_namef(cp_node *n, const char *fmt, ...)
{
    if (!n) return;
    char buf[4 * CP_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(n->name, buf, CP_NAME_MAX - 1);
    n->name[CP_NAME_MAX - 1] = '\0';
}

const char *cp_node_name(const cp_node *n) { return n->name; }
void cp_node_set_name(cp_node *n, const char *name)
{
    if (n) snprintf(n->name, sizeof n->name, "%s", name);
}
int cp_node_ndim(const cp_node *n) { return n->ndim; }
const int64_t *cp_node_shape(const cp_node *n) { return n->shape; }
cp_node *cp_g_grad(const cp_node *n) { return n ? n->grad : NULL; }
int cp_graph_node_count(const cp_graph *g) { return g->count; }

void cp_g_keep(cp_graph *g, cp_node *n)
{
    (void)g;
    if (n) n->keep = true;
}

void cp_graph_dump(const cp_graph *g, void *file)
{
    FILE *f = file;
    fprintf(f, "graph: %d nodes, arena %zu floats\n", g->count, g->arena_floats);
    for (int i = 0; i < g->count; i++) {
        const cp_node *n = g->nodes[i];
        fprintf(f, "%4d %-20s %-28s [", n->id, cp_op_name(n->op), n->name);
        for (int d = 0; d < n->ndim; d++) fprintf(f, d ? ",%lld" : "%lld", (long long)n->shape[d]);
        fprintf(f, "] src(");
        for (int s = 0; s < n->nsrc; s++) fprintf(f, s ? ",%d" : "%d", n->src[s]->id);
        fprintf(f, ") off %zu size %zu ws %zu last %d%s\n", n->offset, cp_node_alloc_floats(n),
                n->workspace_floats, n->storage ? n->storage->last_use : -1,
                n->keep ? " kept" : "");
    }
}
