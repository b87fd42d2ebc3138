/* The case harness that test_conv and test_conv_transpose share: one case
 * runs a convolution (or a transposed convolution) forward, forward with
 * ELU fused, backward into NaN-poisoned gradients and backward accumulating
 * onto known values, each against the test's own CPU reference. */
#ifndef CP_TEST_CONV_CASE_H
#define CP_TEST_CONV_CASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/ops.h"

/* The workspace a case passes: exactly the floats asked for, the same at a
 * non-zero offset of its buffer, or none (the op allocates its own). */
typedef enum { WS_EXACT, WS_OFFSET, WS_NONE } tu_ws_mode;

typedef struct tu_conv_case {
    const char *name;
    cp_conv_params p;
    int n, ci, h, w, co;
    size_t off; /* element offset of every tensor in its buffer */
    tu_ws_mode ws;
    bool bias;
} tu_conv_case;

/* x [n, ci, h, w], y [n, co, ho, wo]. */
typedef struct tu_conv_shape {
    int n, ci, h, w, co, ho, wo;
} tu_conv_shape;

/* The operator under test and its CPU reference in double precision: one
 * walk over every product x·w the operator sums. With y: the forward,
 * y = the sums (+ b when non-NULL). With dy: the backward, dx, dw and db
 * from dy added to what they hold. */
typedef struct tu_conv_ref {
    /* cp_conv_transpose2d_* with weights [C_in, C_out, kh, kw]; otherwise
     * cp_conv2d_* with weights [C_out, C_in, kh, kw] */
    bool transposed;
    size_t ws_offset; /* where a WS_OFFSET workspace starts in its buffer */
    void (*walk)(const cp_conv_params *p, const tu_conv_shape *s, const float *x,
                 const float *w, const float *b, double *y, const float *dy, double *dx,
                 double *dw, double *db);
} tu_conv_ref;

/* Runs case c with random data from seed; fails the test naming c and the
 * output on any mismatch. */
void tu_conv_run_case(const tu_conv_ref *ref, const tu_conv_case *c, uint64_t seed);
/* Runs cases[i] with seed seed0 + i, for i < count. */
void tu_conv_run_cases(const tu_conv_ref *ref, const tu_conv_case *cases, size_t count,
                       uint64_t seed0);

/* cases[first + i] with seed seed0 + i, for i < count: the share of a case
 * table one iteration of a route loop test runs. */
typedef struct tu_conv_group {
    size_t first, count;
    uint64_t seed0;
} tu_conv_group;
/* Iteration i of a loop test over TU_CONV_ROUTES × n_groups: group
 * i / TU_CONV_ROUTES on route i % TU_CONV_ROUTES, when that route is among
 * CLINPAINT_TEST_CONV_ROUTES (TU_CONV_ROUTE_OR_SKIP). The groups must cover
 * the table in order. */
void tu_conv_run_route_group(const tu_conv_ref *ref, const tu_conv_case *cases, size_t count,
                             const tu_conv_group *groups, int n_groups, int i);

/* The cases through CLBlast's indirect GEMM path with our workspace: on
 * im2col + GEMM with the indirect threshold lowered to 8
 * (tu_set_clblast_min_indirect), restored after. */
void tu_conv_run_indirect(const tu_conv_ref *ref, const tu_conv_case *cases, size_t count,
                          uint64_t seed0);

/* tu_conv_gradcheck's arguments. */
typedef struct tu_conv_gradcheck_case {
    const char *name;
    cp_conv_params p;
    int n, ci, h, w, co;
    uint64_t seed;
} tu_conv_gradcheck_case;
/* The implicit GEMM at each work-group cap (cp_igemm_wg_cap), as on
 * devices with small work-group limits: the cases, then the gradient check
 * gc; the cap and the context's route reset after. */
void tu_conv_run_igemm_caps(const tu_conv_ref *ref, const size_t *caps, size_t n_caps,
                            const tu_conv_case *cases, size_t count, uint64_t seed0,
                            const tu_conv_gradcheck_case *gc);

#endif
