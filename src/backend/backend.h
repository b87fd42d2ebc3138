/* Internal: what a graph needs from a device, as a table of functions
 * (after ggml-backend). The graph module builds, differentiates and plans
 * without a device; planning asks the backend for its largest buffer and
 * each node's workspace, and running hands node ranges to `compute`.
 *
 * One backend today: OpenCL (backend/opencl/backend_opencl.h), which wraps
 * a cp_context. A new device kind implements this table; see
 * docs/architecture.md. */
#ifndef CP_BACKEND_H
#define CP_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/status.h"

typedef struct cp_node cp_node;
typedef struct cp_graph cp_graph;
typedef struct cp_backend cp_backend;

/* A device buffer, opaque to the graph (OpenCL: a cl_mem). */
typedef struct cp_backend_buffer_s *cp_backend_buffer;

/* One device command recorded while profiling. */
typedef struct cp_backend_timing {
    int node;                  /* id of the node that enqueued it, or -1 */
    bool timed;                /* false: the device gave no times for it */
    uint64_t start_ns, end_ns; /* device clock */
} cp_backend_timing;

typedef struct cp_backend_i {
    const char *(*name)(const cp_backend *b);        /* "OpenCL" */
    const char *(*device_name)(const cp_backend *b); /* for messages */
    void (*free)(cp_backend *b);                     /* the backend itself */

    /* Buffers. Offsets and counts of fill/copy are in floats, of
     * write/read in bytes. Commands run in order on one queue; a read is
     * complete on return only when `blocking`. */
    cp_status (*buffer_alloc)(cp_backend *b, size_t bytes, cp_backend_buffer *out);
    void (*buffer_free)(cp_backend *b, cp_backend_buffer buf);
    cp_status (*buffer_fill)(cp_backend *b, cp_backend_buffer buf, size_t offset, size_t count,
                             float value);
    cp_status (*buffer_write)(cp_backend *b, cp_backend_buffer buf, size_t offset_bytes,
                              size_t bytes, const void *src);
    cp_status (*buffer_read)(cp_backend *b, cp_backend_buffer buf, size_t offset_bytes,
                             size_t bytes, void *dst, bool blocking);
    cp_status (*buffer_copy)(cp_backend *b, cp_backend_buffer src, size_t src_offset,
                             cp_backend_buffer dst, size_t dst_offset, size_t count);
    /* The largest single buffer, in bytes (0: no limit). */
    uint64_t (*max_alloc_bytes)(const cp_backend *b);

    /* Ops. */
    bool (*supports_op)(const cp_backend *b, const cp_node *n);
    /* Scratch floats the node's op needs while it runs (0: none). */
    size_t (*workspace_floats)(cp_backend *b, const cp_node *n);
    /* Enqueues nodes [first, end) of a planned graph, in order. */
    cp_status (*compute)(cp_backend *b, cp_graph *g, int first, int end);
    /* Waits until every enqueued command has finished. */
    cp_status (*synchronize)(cp_backend *b);

    /* Profiling: record a timing for every command from begin to end.
     * profile_end hands over an array (caller frees) even when a timing
     * could not be read. */
    cp_status (*profile_begin)(cp_backend *b);
    cp_status (*profile_end)(cp_backend *b, cp_backend_timing **out, int *count);
} cp_backend_i;

struct cp_backend {
    const cp_backend_i *iface;
    void *context; /* the implementation's own state */
};

#endif
