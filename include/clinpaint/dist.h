/* Data-parallel training: a communicator joining N replicas (one device
 * each) that averages gradients through host memory, so it works with any
 * OpenCL vendor. Two kinds: MPI ranks (one process per device, `mpirun -np
 * N clinpaint train`) and several devices in one process (one thread per
 * replica). The trainer uses it through cp_train_config.comm. */
#ifndef CLINPAINT_DIST_H
#define CLINPAINT_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "clinpaint/runtime.h"
#include "clinpaint/status.h"
#include "clinpaint/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cp_comm cp_comm;

int cp_comm_rank(const cp_comm *c);
int cp_comm_size(const cp_comm *c);
/* Element-wise sum of n floats over every replica, in place, in buckets of
 * CP_COMM_BUCKET_BYTES. The result is the same on every replica. */
cp_status cp_comm_sum(cp_comm *c, float *data, size_t n);
/* Replica 0's `bytes` bytes copied to every replica. */
cp_status cp_comm_broadcast(cp_comm *c, void *data, size_t bytes);
/* Tells every replica that this one failed: their next call returns
 * CP_ERR_INTERRUPTED instead of waiting for it (in-process; with MPI the
 * command ends the job with cp_comm_mpi_abort). */
void cp_comm_fail(cp_comm *c);
void cp_comm_free(cp_comm *c);

#define CP_COMM_BUCKET_BYTES (4u << 20)

/* ---- several devices in one process ---- */

/* Trains one replica per context, each on its own thread, with the global
 * batch cfg->batch split between them (it must divide by n). Replica 0
 * writes the run folder; result is replica 0's. n == 1 is cp_train. */
cp_status cp_train_replicas(cp_context *const *ctxs, int n, const cp_train_config *cfg,
                            cp_train_result *result);

/* ---- MPI (built when CMake found MPI: cp_comm_mpi_available) ---- */

bool cp_comm_mpi_available(void);
/* MPI_Init, then a communicator over MPI_COMM_WORLD. *local_rank: this
 * process's index among the ranks on its node (to pick its device).
 * CP_ERR_UNSUPPORTED when built without MPI. Only call it when asked to:
 * the library never starts MPI by itself. */
cp_status cp_comm_mpi_create(int *argc, char ***argv, cp_comm **out, int *local_rank);
/* MPI_Abort(MPI_COMM_WORLD, code): every rank ends. For the command, after
 * a failure on one rank. Does not return. */
void cp_comm_mpi_abort(cp_comm *c, int code);
/* cp_comm_free on an MPI communicator also calls MPI_Finalize. */

#ifdef __cplusplus
}
#endif
#endif
