/* Internal: what kind of work each op is, for reports that group ops
 * (clinpaint bench) without reading the graph's nodes. */
#ifndef CP_GRAPH_OP_INFO_H
#define CP_GRAPH_OP_INFO_H

#include <stdbool.h>

#include "clinpaint/graph.h"

typedef enum cp_op_class {
    CP_OP_CLASS_FREE,        /* leaves and aliases: no device work */
    CP_OP_CLASS_GEMM,        /* convolutions and dense layers, and their gradients */
    CP_OP_CLASS_ELEMENTWISE, /* the rest: a few flop per element, memory-bound */
} cp_op_class;

typedef struct cp_op_info {
    cp_op_class op_class;
    bool backward; /* a gradient or a state update (Adam) */
} cp_op_info;

/* By the op name a cp_graph_profile row carries; false for no such op. */
bool cp_op_info_named(const char *op_name, cp_op_info *out);
/* Of node i (0 <= i < cp_graph_node_count). */
cp_op_info cp_graph_node_info(const cp_graph *g, int i);
/* Estimated bytes node i reads and writes: its output and every source
 * once; Adam: parameter, gradient, m, v read, three of them written. */
double cp_graph_node_bytes(const cp_graph *g, int i);
#endif
