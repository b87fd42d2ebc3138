/* clinpaint graphs: describe a computation once, derive its backward pass,
 * plan its device memory, and replay it every iteration without host round
 * trips. In the spirit of ggml: nodes with an op, parameters, sources and
 * flags; backward rules that emit ordinary nodes; a planner kept apart from
 * execution.
 *
 * Execution order is creation order. Nodes that change state (Adam updates,
 * batch-norm running statistics) act at their place in that order, so one
 * graph can hold a whole training iteration: G forward, the D step with its
 * Adam update, then the G step that sees the updated D.
 *
 * Node constructors never fail loudly: on a bad argument they record the
 * error in the graph, return NULL, and every later call (and cp_graph_plan)
 * returns that error. So a model can be built without checking each line. */
#ifndef CLINPAINT_GRAPH_H
#define CLINPAINT_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cp_graph cp_graph;
typedef struct cp_node cp_node;

/* A graph that runs on ctx's device. With ctx NULL the graph is built and
 * differentiated without a device (node creation never touches one) but
 * cannot be planned or run. */
cp_status cp_graph_create(cp_context *ctx, cp_graph **out);
void cp_graph_free(cp_graph *g);
/* The first error recorded while building (CP_OK if none). */
cp_status cp_graph_status(const cp_graph *g);

/* Marks the start of a named segment of the execution order ("G forward",
 * "D step", ...) and returns its index (-1 past the 8th, which is then not
 * marked). Segments can be run one range at a time
 * (cp_graph_run_segments). */
int cp_graph_segment(cp_graph *g, const char *name);
int cp_graph_segment_count(const cp_graph *g);

/* ---- leaves ---- */
/* An input whose memory the planner provides; fill it through
 * cp_graph_tensor() after planning, before each run. */
cp_node *cp_g_input(cp_graph *g, const char *name, int ndim, const int64_t *shape);
/* A trainable parameter bound to a caller-owned tensor, in `group` (>= 0,
 * e.g. 0 for G and 1 for D). */
cp_node *cp_g_param(cp_graph *g, cp_tensor *t, int group);
/* A caller-owned tensor that is not trained (batch-norm running stats). */
cp_node *cp_g_buffer(cp_graph *g, cp_tensor *t);

/* ---- operators (see ops.h for their exact meaning) ---- */
cp_node *cp_g_conv2d(cp_graph *g, cp_node *x, cp_node *w, cp_node *b, const cp_conv_params *p);
cp_node *cp_g_conv_transpose2d(cp_graph *g, cp_node *x, cp_node *w, cp_node *b,
                               const cp_conv_params *p);
cp_node *cp_g_dense(cp_graph *g, cp_node *x, cp_node *w, cp_node *b);
cp_node *cp_g_maxpool2(cp_graph *g, cp_node *x);
cp_node *cp_g_elu(cp_graph *g, cp_node *x);
cp_node *cp_g_tanh(cp_graph *g, cp_node *x);
cp_node *cp_g_sigmoid(cp_graph *g, cp_node *x);
cp_node *cp_g_add(cp_graph *g, float alpha, cp_node *a, float beta, cp_node *b);
cp_node *cp_g_mul(cp_graph *g, cp_node *a, cp_node *b);
cp_node *cp_g_scale(cp_graph *g, float alpha, cp_node *x);
cp_node *cp_g_concat(cp_graph *g, cp_node *a, cp_node *b);
cp_node *cp_g_mask_known(cp_graph *g, cp_node *x, cp_node *m);
cp_node *cp_g_composite(cp_graph *g, cp_node *gen, cp_node *x, cp_node *m);

typedef enum cp_bn_mode {
    CP_BN_TRAIN,           /* batch statistics, running statistics updated */
    CP_BN_TRAIN_NO_UPDATE, /* batch statistics, running statistics kept */
    CP_BN_EVAL             /* running statistics (no backward) */
} cp_bn_mode;
cp_node *cp_g_batchnorm(cp_graph *g, cp_node *x, cp_node *gamma, cp_node *beta,
                        cp_node *running_mean, cp_node *running_var,
                        const cp_bn_params *p, cp_bn_mode mode);

/* Scalar losses (1 element). */
cp_node *cp_g_loss_rec(cp_graph *g, cp_node *gen, cp_node *x, cp_node *m, float ctx_weight);
cp_node *cp_g_loss_bce(cp_graph *g, cp_node *logits, int label);
/* The detector's loss: per-pixel BCE of logits [N,1,H,W] against a target
 * mask of the same shape plus dice_weight (1 - soft Dice) (ops.h,
 * cp_loss_bce_dice). Differentiable in the logits only. */
cp_node *cp_g_loss_bce_dice(cp_graph *g, cp_node *logits, cp_node *target, float dice_weight);
/* Mean of all elements (1 element), e.g. mean D(x) for the log. */
cp_node *cp_g_mean(cp_graph *g, cp_node *x);

/* Same memory, other shape (element counts equal). */
cp_node *cp_g_reshape(cp_graph *g, cp_node *x, int ndim, const int64_t *shape);
/* Same values; no gradient flows back through it (detach). */
cp_node *cp_g_stop_gradient(cp_graph *g, cp_node *x);

/* ---- automatic differentiation ----
 * Appends the nodes computing d(loss)/d(p) for every parameter p of `group`
 * (every group if group < 0) and for each of `extra` (inputs whose gradient
 * is wanted, e.g. by a gradient check). Only what those need is
 * differentiated. loss must be a scalar. Afterwards cp_g_grad() gives the
 * gradient node of a parameter or extra node (NULL if it does not depend on
 * loss). Calling it again (another loss) replaces the gradients. */
cp_status cp_g_backward(cp_graph *g, cp_node *loss, int group, cp_node *const *extra,
                        int extra_count);
cp_node *cp_g_grad(const cp_node *n);

/* Appends an Adam update of the parameter `param` with gradient `grad`,
 * moments m and v (caller-owned, same size). The step number is read from
 * *step when the graph runs (t >= 1), so replays need no rebuild. */
cp_status cp_g_adam(cp_graph *g, cp_node *param, cp_node *grad, cp_tensor *m,
                    cp_tensor *v, const cp_adam_params *p, const int64_t *step);

/* Keeps a node's value until the end of the run (outputs, logged scalars,
 * gradients inspected by tests). */
void cp_g_keep(cp_graph *g, cp_node *n);

/* ---- node info ---- */
const char *cp_node_name(const cp_node *n);
void cp_node_set_name(cp_node *n, const char *name);
int cp_node_ndim(const cp_node *n);
const int64_t *cp_node_shape(const cp_node *n);
size_t cp_node_numel(const cp_node *n);

/* ---- planning and running ---- */
typedef struct cp_plan_options {
    bool reuse;         /* share memory between tensors whose lives do not
                           overlap (false: every tensor gets its own) */
    bool in_place;      /* element-wise ops may overwrite a dying input */
    bool poison_freed;  /* debug: fill freed regions with NaN while running */
    bool check_writes;  /* debug: after every node, verify that it wrote only
                           its own output (slow: copies the arena to the
                           host twice per node) */
    uint64_t chunk_bytes; /* largest arena buffer; 0: the device's largest
                             allocation. The arena is cut into such buffers
                             and no tensor straddles two. */
    bool no_fusion;     /* keep every op its own kernel (default false: a
                           convolution whose only reader is an ELU computes
                           the ELU in its epilogue, and that convolution's
                           value, read with cp_graph_tensor, is the ELU's) */
} cp_plan_options;
cp_plan_options cp_plan_defaults(void); /* reuse, in place, no poison */

/* Plans without allocating: the compute arena's bytes (activations,
 * gradients, workspaces), and the sum of all its tensors' sizes unplanned. */
cp_status cp_graph_plan_size(cp_graph *g, const cp_plan_options *o, uint64_t *arena_bytes,
                             uint64_t *unplanned_bytes);
/* Plans and allocates the arena. Fails with CP_ERR_OUT_OF_DEVICE_MEMORY
 * (needed bytes in the message) before anything runs if it cannot fit. */
cp_status cp_graph_plan(cp_graph *g, const cp_plan_options *o);
uint64_t cp_graph_arena_bytes(const cp_graph *g);

/* The device memory of a node after planning (a view). For inputs: write
 * before cp_graph_run. For kept nodes: read after. */
cp_status cp_graph_tensor(cp_graph *g, const cp_node *n, cp_tensor *out);

/* Enqueues the whole graph on the in-order queue: no clFinish, no host read. */
cp_status cp_graph_run(cp_graph *g);

/* Enqueues segments first..end-1 only (nodes before the first segment go
 * with segment 0). Running every segment in order, in any number of calls,
 * is the same as one cp_graph_run. */
cp_status cp_graph_run_segments(cp_graph *g, int first, int end);

/* Reads back scalars of kept nodes (first element of each) once, at the
 * end of the queue: the only host round trip of an iteration. */
cp_status cp_graph_read_scalars(cp_graph *g, cp_node *const *nodes, int count, float *out);

/* ---- profiling ---- */
typedef struct cp_op_profile {
    const char *op;   /* op name */
    int count;        /* nodes run */
    double ms;        /* device time */
    double gflop;     /* floating-point work (0 if not counted) */
} cp_op_profile;
typedef struct cp_graph_profile {
    cp_op_profile ops[48];
    int op_count;
    double wall_ms;   /* first kernel start to last kernel end */
    double busy_ms;   /* sum of kernel times */
    double idle_share; /* 1 - busy / wall: the device waiting on the host */
} cp_graph_profile;
/* Runs the graph once with an event on every command and fills the table
 * (blocks until done). */
cp_status cp_graph_run_profiled(cp_graph *g, cp_graph_profile *out);
/* The same around runs of your own (e.g. cp_graph_run_segments):
 * cp_graph_profile_begin, the runs, then cp_graph_profile_end with the
 * runs' status (returned, or the first profiling error). */
cp_status cp_graph_profile_begin(cp_graph *g);
cp_status cp_graph_profile_end(cp_graph *g, cp_status run_status, cp_graph_profile *out);

/* Number of nodes. */
int cp_graph_node_count(const cp_graph *g);

/* Debug: one line per node (id, op, name, shape, sources, offset, size,
 * workspace, last use) to `f` (a FILE *). */
void cp_graph_dump(const cp_graph *g, void *f);

#ifdef __cplusplus
}
#endif
#endif
