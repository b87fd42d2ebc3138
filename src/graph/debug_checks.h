/* Internal: the planner's debug aids while running (cp_plan_options
 * poison_freed and check_writes). */
#ifndef CP_GRAPH_DEBUG_CHECKS_H
#define CP_GRAPH_DEBUG_CHECKS_H
#include "graph/graph_internal.h"

/* Runs nodes [first, end) one at a time: fills each region the planner
 * freed with NaN once its last reader has run, and with check_writes
 * verifies that each node wrote nothing but its own output. */
cp_status cp_graph_run_debug(cp_graph *g, int first, int end);
#endif
