/* Internal: what the trainer does differently as one of N data-parallel
 * replicas: its slice of the global batch, gradient averaging in the
 * train step's hook, identical parameters at the start and a checksum
 * that says they stayed identical. */
#ifndef CP_DIST_REPLICA_H
#define CP_DIST_REPLICA_H

#include "clinpaint/dataset.h"
#include "clinpaint/dist.h"
#include "clinpaint/model.h"

typedef struct cp_replica {
    cp_comm *comm;          /* NULL: a single replica */
    float *staging;         /* host copy of one network's gradients */
    size_t staging_floats;
    float *images, *masks;  /* this replica's slice of the global batch */
    size_t slice_capacity;  /* samples the slice buffers hold */
    double comm_seconds;    /* exchanging gradients (download, sum including the wait for
                               the slowest replica, upload), after the backward pass */
} cp_replica;

/* cp_train_step's gradient hook (user: a cp_replica): averages the
 * network's gradients over the replicas, through host memory. */
cp_status cp_replica_average_gradients(void *user, cp_model *m, cp_train_graph *t, int group);

/* Replica 0's model (every tensor, Adam's moments and steps) copied to
 * every replica. */
cp_status cp_replica_broadcast_model(cp_replica *r, cp_model *m);

/* CP_ERR_INTERNAL on every replica when any replica's trainable
 * parameters or Adam moments differ from replica 0's (an FNV-1a hash). */
cp_status cp_replica_check_identical(cp_replica *r, cp_model *m, uint64_t step);

/* Samples rank, rank+N, ... of the global batch b into r->images and
 * r->masks (masks NULL when b has none). */
cp_status cp_replica_slice(cp_replica *r, const cp_batch *b, const float **images,
                           const float **masks);

void cp_replica_release(cp_replica *r);

#endif
