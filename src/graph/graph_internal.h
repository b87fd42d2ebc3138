/* Internal: graph nodes, shared by the builder, autodiff, planner and
 * executor. */
#ifndef CP_GRAPH_INTERNAL_H
#define CP_GRAPH_INTERNAL_H

#include "clinpaint/graph.h"

#define CP_MAX_SRC 5

typedef enum cp_op {
    /* leaves */
    CP_OP_INPUT,
    CP_OP_PARAM,
    CP_OP_BUFFER,
    /* forward */
    CP_OP_CONV2D,
    CP_OP_CONV_T2D,
    CP_OP_DENSE,
    CP_OP_MAXPOOL2,
    CP_OP_ELU,
    CP_OP_TANH,
    CP_OP_SIGMOID,
    CP_OP_ADD,
    CP_OP_MUL,
    CP_OP_SCALE,
    CP_OP_CONCAT,
    CP_OP_MASK_KNOWN,
    CP_OP_COMPOSITE,
    CP_OP_BATCHNORM,
    CP_OP_LOSS_REC,
    CP_OP_LOSS_BCE,
    CP_OP_MEAN,
    CP_OP_RESHAPE,     /* alias */
    CP_OP_STOP_GRAD,   /* alias */
    /* backward */
    CP_OP_CONV2D_DX,
    CP_OP_CONV2D_DW,
    CP_OP_CONV_T2D_DX,
    CP_OP_CONV_T2D_DW,
    CP_OP_DENSE_DX,
    CP_OP_DENSE_DW,
    CP_OP_BIAS_GRAD,
    CP_OP_MAXPOOL2_DX,
    CP_OP_ELU_DX,
    CP_OP_TANH_DX,
    CP_OP_SIGMOID_DX,
    CP_OP_CONCAT_DX,   /* one part of the concatenation's gradient */
    CP_OP_COMPOSITE_DG,
    CP_OP_BN_DX,
    CP_OP_BN_DGAMMA,
    CP_OP_LOSS_REC_DG,
    CP_OP_LOSS_BCE_DT,
    /* state updates */
    CP_OP_ADAM,
    /* fused (fuse.c): an ELU whose source computes it in its epilogue; an
     * alias of the source, differentiated as an ELU */
    CP_OP_ELU_FUSED,
    /* fused (fuse.c): an ELU backward done by the input-gradient node that
     * produced its dy (src[0] after the pass; src[1] the ELU output); an
     * alias of it */
    CP_OP_ELU_DX_FUSED,
    CP_OP_COUNT
} cp_op;

const char *cp_op_name(cp_op op);

struct cp_node {
    int id; /* index in creation (= execution) order */
    cp_op op;
    char name[CP_NAME_MAX];
    int ndim;
    int64_t shape[CP_MAX_DIMS];
    cp_node *src[CP_MAX_SRC];
    int nsrc;

    /* op parameters */
    cp_conv_params conv;
    cp_bn_params bn;
    cp_bn_mode bn_mode;
    float alpha, beta;  /* add, scale; loss grad scale */
    float ctx_weight;   /* loss_rec */
    int label;          /* loss_bce */
    int part;           /* concat_dx: 0 = first, 1 = second */
    cp_adam_params adam;
    const int64_t *step;
    cp_tensor *adam_m, *adam_v;
    cp_node *fwd;       /* backward nodes: the forward node whose aux they use */
    bool fused_elu;     /* conv / transposed conv: ELU applied in the epilogue
                           (fuse.c; its ELU node is then CP_OP_ELU_FUSED) */
    bool fused_elu_grad; /* conv / transposed conv / max-pool dx whose input x
                            is an ELU output: dx times ELU'(x) in the
                            epilogue (fuse.c; the ELU_DX is CP_OP_ELU_DX_FUSED) */

    /* leaves bound to caller tensors */
    cp_tensor *bound;
    int group;          /* parameter group, -1 if none */

    /* memory */
    size_t aux_floats;       /* extra floats after the value (bn mean, invstd) */
    size_t workspace_floats; /* scratch for the op, only while it runs */
    bool keep;               /* alive until the end of the run */
    cp_node *grad;           /* after cp_g_backward */

    /* planner results */
    cp_node *storage;        /* node whose allocation holds this value */
    size_t offset;           /* floats, in the arena */
    int last_use;            /* id of the last node reading this storage */
};

struct cp_graph {
    cp_context *ctx;
    cp_node **nodes;
    int count, cap;
    cp_status error;
    char error_msg[1024];
    /* segments: name and first node id */
    char segment_names[8][32];
    int segment_start[8];
    int segment_count;
    /* plan */
    bool planned;
    cp_plan_options opts;
    cl_mem *arenas;       /* the arena, cut into buffers of chunk_floats */
    int arena_count;
    size_t chunk_floats;
    size_t arena_floats;
    cl_mem workspace; /* shared by every node's op; offset 0 */
    size_t workspace_floats;
    cl_mem scratch_scalar; /* losses' value output when only the grad is wanted */
    struct cp_poison_region *poison; /* debug: regions to fill with NaN */
    int poison_count;
};

/* Appends a node (sources, shape); NULL after an earlier error. */
cp_node *cp_graph_add_node(cp_graph *g, cp_op op, int ndim, const int64_t *shape,
                           cp_node *const *src, int nsrc);
/* Records the first error of the graph and returns NULL. */
cp_node *cp_graph_fail(cp_graph *g, cp_status st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* printf into the node's name, cut to CP_NAME_MAX (names are for messages). */
void cp_node_set_namef(cp_node *n, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

bool cp_node_is_alias(const cp_node *n);
bool cp_node_is_external(const cp_node *n); /* bound leaves: not planned */
bool cp_node_is_scalar(const cp_node *n);
/* Floats the planner allocates for the node's value (0 for aliases,
 * external leaves and state updates). */
size_t cp_node_alloc_floats(const cp_node *n);

/* The fusion pass (fuse.c), run by the planner before it plans: a conv or
 * transposed conv whose only reader is an ELU computes the ELU itself, and
 * the ELU node becomes an alias of it; likewise an ELU backward whose dy
 * comes only from the dx of a conv, transposed conv or max pool fed by that
 * ELU's output. Fusions whose conditions no longer
 * hold (a reader added since, a kept conv output, `enable` false) are
 * undone, so the pass can run before every plan. Returns the number of
 * fused pairs. */
int cp_graph_fuse(cp_graph *g, bool enable);

#endif
