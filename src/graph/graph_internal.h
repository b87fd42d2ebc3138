/* Internal: graph nodes, shared by the builder, autodiff, the planner, the
 * runner and the backends that compute them (backend/backend.h). Nothing
 * here touches a device. */
#ifndef CP_GRAPH_INTERNAL_H
#define CP_GRAPH_INTERNAL_H

#include "clinpaint/graph.h"
#include "backend/backend.h"

#define CP_MAX_SRC 5

/* Propagates a failed cp_status (its message is already set). The graph
 * module does not include the OpenCL runtime's check.h. */
#define CP_GRAPH_TRY(expr)                                                   \
    do {                                                                     \
        cp_status cp_graph_st_ = (expr);                                     \
        if (cp_graph_st_ != CP_OK) return cp_graph_st_;                      \
    } while (0)

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
    /* the detector's loss (BCE + soft Dice) and its gradient */
    CP_OP_LOSS_DICE,
    CP_OP_LOSS_DICE_DT,
    /* fused (fuse.c): an ELU backward done by the input-gradient node that
     * produced its dy (src[0] after the pass; src[1] the ELU output); an
     * alias of it */
    CP_OP_ELU_DX_FUSED,
    CP_OP_COUNT
} cp_op;

const char *cp_op_name(cp_op op);

/* Element type of a node's value. Only float32 runs today; the field is
 * there so that a half-precision backend needs no new node layout. */
typedef enum cp_dtype { CP_DTYPE_F32 } cp_dtype;

/* An op's parameters, one member per op family (ggml's op_params): the
 * member that is valid follows from the node's op. */
typedef union cp_op_params {
    cp_conv_params conv; /* conv2d, conv_transpose2d and their _dx/_dw */
    struct {
        cp_bn_params p;
        cp_bn_mode mode;
    } bn;                /* batchnorm */
    struct {
        float alpha, beta;
    } add;               /* add: alpha a + beta b; scale: alpha x */
    struct {
        float ctx_weight; /* weight of the known pixels */
        float grad_scale; /* loss_rec_dg: d(loss)/d(L_rec), folded in */
    } loss_rec;          /* loss_rec, loss_rec_dg */
    struct {
        int label;
        float grad_scale; /* loss_bce_dt */
    } loss_bce;          /* loss_bce, loss_bce_dt */
    struct {
        int part;        /* 0: the first source's channels, 1: the second's */
    } concat_dx;
    struct {
        float dice_weight; /* weight of the soft Dice term */
        float grad_scale;  /* loss_dice_dt */
    } loss_dice;         /* loss_dice, loss_dice_dt */
    struct {
        cp_adam_params p;
        const int64_t *step; /* read when the node runs */
        cp_tensor *m, *v;    /* caller-owned moments */
    } adam;
} cp_op_params;

struct cp_node {
    int id; /* index in creation (= execution) order */
    cp_op op;
    cp_op_params params;
    cp_dtype dtype;
    char name[CP_NAME_MAX];
    int ndim;
    int64_t shape[CP_MAX_DIMS];
    cp_node *src[CP_MAX_SRC]; /* batchnorm_dx/_dgamma: src[3] is the forward
                                 node, whose statistics follow its value */
    int nsrc;

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
    bool keep;               /* alive until the end of the run */
    cp_node *grad;           /* after cp_g_backward */

    /* planner results */
    size_t workspace_floats; /* scratch while the op runs (the backend's size) */
    cp_node *storage;        /* node whose allocation holds this value */
    size_t offset;           /* floats, in the arena */
    int last_use;            /* id of the last node reading this storage */
};

struct cp_graph {
    cp_backend *backend; /* plans and runs the graph; NULL: build only */
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
    cp_backend_buffer *arenas; /* the arena, cut into buffers of chunk_floats */
    int arena_count;
    size_t chunk_floats;
    size_t arena_floats;
    cp_backend_buffer workspace; /* shared by every node's op; offset 0 */
    size_t workspace_floats;
    cp_backend_buffer scratch_scalar; /* losses' value output when only the grad is wanted */
    struct cp_poison_region *poison; /* debug: regions to fill with NaN */
    int poison_count;
};

/* A graph on backend `b` (taken over, freed with the graph). With b NULL
 * the graph can be built and differentiated, not planned or run. */
cp_status cp_graph_create_on(cp_backend *b, cp_graph **out);

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

/* Where a node's value lives: its buffer and offset (floats). Planned
 * graphs only; bound leaves give the caller's tensor. */
cp_backend_buffer cp_graph_node_buffer(const cp_graph *g, const cp_node *n, size_t *offset);
/* The arena buffer holding arena offset `off` (floats), and the offset
 * inside it; NULL past the arena. */
cp_backend_buffer cp_graph_arena_at(const cp_graph *g, size_t off, size_t *local);
/* Frees the arena and workspace buffers (the plan's). */
void cp_graph_release_arena(cp_graph *g);
/* A node's value as a tensor view. cp_tensor is the OpenCL backend's
 * (buffer, offset) pair, which the public API hands out. */
cp_tensor cp_graph_node_tensor(const cp_graph *g, const cp_node *n);

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
