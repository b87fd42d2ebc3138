/* The MPI communicator: one process per replica over MPI_COMM_WORLD.
 * Gradients reach it in host memory, so it needs no GPU-aware MPI. Built
 * with MPI only when CMake found it (CLINPAINT_HAVE_MPI). */
#include "dist/comm_internal.h"
#include "backend/opencl/runtime/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CLINPAINT_HAVE_MPI
#include <mpi.h>

bool cp_comm_mpi_available(void) { return true; }

static cp_status mpi_fail(int code, const char *call)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "code %d", code);
    return cp_set_error(CP_ERR_IO, "%s failed: %s", call, text);
}

static cp_status mpi_sum(cp_comm *c, float *data, size_t n)
{
    int rc = MPI_Allreduce(MPI_IN_PLACE, data, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? CP_OK : mpi_fail(rc, "MPI_Allreduce");
}

static cp_status mpi_broadcast(cp_comm *c, void *data, size_t bytes)
{
    const size_t chunk = 1u << 30; /* MPI counts are int */
    for (size_t at = 0; at < bytes; at += chunk) {
        size_t k = bytes - at < chunk ? bytes - at : chunk;
        int rc = MPI_Bcast((char *)data + at, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Bcast");
    }
    return CP_OK;
}

static void mpi_free(cp_comm *c)
{
    free(c);
    MPI_Finalize();
}

static const cp_comm_ops mpi_ops = {mpi_sum, mpi_broadcast, NULL, mpi_free, NULL};

cp_status cp_comm_mpi_create(int *argc, char ***argv, cp_comm **out, int *local_rank)
{
    *out = NULL;
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Init");
    /* Errors come back as codes, so a failure is reported, not fatal. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0, size = 1, local = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_rank(node, &local);
        MPI_Comm_free(&node);
    }
    cp_comm *c = malloc(sizeof *c);
    if (!c) {
        MPI_Finalize();
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "MPI communicator");
    }
    *c = (cp_comm){&mpi_ops, rank, size, NULL};
    *out = c;
    if (local_rank) *local_rank = local;
    return CP_OK;
}

void cp_comm_mpi_abort(cp_comm *c, int code)
{
    MPI_Abort(MPI_COMM_WORLD, code);
    abort(); /* MPI_Abort does not return; if it did, end anyway */
}

#else

bool cp_comm_mpi_available(void) { return false; }

cp_status cp_comm_mpi_create(int *argc, char ***argv, cp_comm **out, int *local_rank)
{
    *out = NULL;
    return cp_set_error(CP_ERR_UNSUPPORTED, "this clinpaint was built without MPI "
                                            "(install libopenmpi-dev and configure again)");
}

void cp_comm_mpi_abort(cp_comm *c, int code) { abort(); }

#endif
