/* Internal: per-command events while a graph is profiled. Launch helpers
 * ask for a slot; when profiling is off there is none (NULL) and nothing
 * is recorded, so the normal path pays nothing. */
#ifndef CP_RUNTIME_PROFILE_H
#define CP_RUNTIME_PROFILE_H
#include "clinpaint/runtime.h"

typedef struct cp_profile_event {
    cl_event event;
    int tag; /* what the caller was running (a graph node id) */
} cp_profile_event;

/* Starts/stops recording; stopping returns the events (caller releases
 * each event and frees the array). */
void cp_profile_begin(cp_context *ctx);
void cp_profile_set_tag(cp_context *ctx, int tag);
cp_profile_event *cp_profile_end(cp_context *ctx, int *count);

/* Where to put the event of the next command, or NULL when not profiling
 * (or out of memory). Use: `cl_event *ev = event ? event : cp_profile_slot(ctx);` */
cl_event *cp_profile_slot(cp_context *ctx);
#endif
