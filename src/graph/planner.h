/* Internal: the memory planner's result. */
#ifndef CP_GRAPH_PLANNER_H
#define CP_GRAPH_PLANNER_H
#include "graph/graph_internal.h"

typedef struct cp_poison_region {
    int after_node; /* poison once this node has run */
    size_t off, size;
} cp_poison_region;

typedef struct cp_plan_result {
    size_t arena_floats;      /* planned */
    size_t chunk_floats;      /* the arena is cut into buffers of this size */
    size_t workspace_floats;  /* the largest workspace (a buffer of its own) */
    size_t unplanned_floats;  /* every value and workspace on its own */
    cp_poison_region *poison; /* with poison_freed */
    int poison_count, poison_cap;
} cp_plan_result;

/* Sets every node's offset / storage / last_use. */
cp_status cp_plan_compute(cp_graph *g, const cp_plan_options *o, cp_plan_result *r);
#endif
