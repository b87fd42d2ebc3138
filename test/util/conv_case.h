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

/* The operator under test and its CPU reference in double precision. */
typedef struct tu_conv_ref {
    /* cp_conv_transpose2d_* with weights [C_in, C_out, kh, kw]; otherwise
     * cp_conv2d_* with weights [C_out, C_in, kh, kw] */
    bool transposed;
    size_t ws_offset; /* where a WS_OFFSET workspace starts in its buffer */
    /* y = op(x, w) (+ b when non-NULL) */
    void (*forward)(const cp_conv_params *p, const tu_conv_shape *s, const float *x,
                    const float *w, const float *b, double *y);
    /* dx, dw, db from dy, added to what they hold */
    void (*backward)(const cp_conv_params *p, const tu_conv_shape *s, const float *x,
                     const float *w, const float *dy, double *dx, double *dw, double *db);
} tu_conv_ref;

/* Runs case c with random data from seed; fails the test naming c and the
 * output on any mismatch. */
void tu_conv_run_case(const tu_conv_ref *ref, const tu_conv_case *c, uint64_t seed);
/* Runs cases[i] with seed seed0 + i, for i < count. */
void tu_conv_run_cases(const tu_conv_ref *ref, const tu_conv_case *cases, size_t count,
                       uint64_t seed0);

#endif
