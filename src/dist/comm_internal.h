/* Internal: the communicator's operations, one table per kind (in-process
 * threads, MPI). */
#ifndef CP_DIST_COMM_INTERNAL_H
#define CP_DIST_COMM_INTERNAL_H

#include "clinpaint/dist.h"

typedef struct cp_comm_ops {
    cp_status (*sum)(cp_comm *c, float *data, size_t n);
    cp_status (*broadcast)(cp_comm *c, void *data, size_t bytes);
    void (*fail)(cp_comm *c);
    void (*free)(cp_comm *c);
    /* Replicas in one process: one at a time between begin and end (NULL
     * for MPI, whose replicas are processes). */
    void (*serial)(cp_comm *c, bool begin);
} cp_comm_ops;

struct cp_comm {
    const cp_comm_ops *ops;
    int rank, size;
    void *impl;
};

/* One replica at a time in one process (no-op with MPI or no comm). */
void cp_comm_serial_begin(cp_comm *c);
void cp_comm_serial_end(cp_comm *c);

/* In-process: n endpoints of one group, for n threads (comm_local.c).
 * Frees with cp_comm_free on each endpoint; the group goes with the last. */
cp_status cp_comm_local_create(int n, cp_comm **endpoints);
/* The rank that called cp_comm_fail first, or -1. */
int cp_comm_local_failed_rank(const cp_comm *c);

#endif
