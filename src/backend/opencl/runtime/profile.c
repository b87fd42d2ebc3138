#include "backend/opencl/runtime/profile.h"
#include "backend/opencl/runtime/context_internal.h"

#include <stdlib.h>

void cp_profile_begin(cp_context *ctx)
{
    ctx->profiling = true;
    ctx->profile_tag = -1;
}

void cp_profile_set_tag(cp_context *ctx, int tag) { ctx->profile_tag = tag; }

cp_profile_event *cp_profile_end(cp_context *ctx, int *count)
{
    cp_profile_event *e = ctx->events;
    /* Slots handed out but never filled (a failed enqueue) hold NULL. */
    int n = 0;
    for (int i = 0; i < ctx->event_count; i++)
        if (e[i].event) e[n++] = e[i];
    *count = n;
    ctx->events = NULL;
    ctx->event_count = ctx->event_cap = 0;
    ctx->profiling = false;
    return e;
}

cl_event *cp_profile_slot(cp_context *ctx)
{
    if (!ctx->profiling) return NULL;
    if (ctx->event_count == ctx->event_cap) {
        int cap = ctx->event_cap ? ctx->event_cap * 2 : 256;
        cp_profile_event *grown = realloc(ctx->events, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        ctx->events = grown;
        ctx->event_cap = cap;
    }
    cp_profile_event *e = &ctx->events[ctx->event_count++];
    e->event = NULL;
    e->tag = ctx->profile_tag;
    return &e->event;
}
