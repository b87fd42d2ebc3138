/* Central finite-difference gradient checks for device operators.
 *
 * The checked scalar is L(x) = sum_i r_i * y_i(x), with y = forward(x) run on
 * the device and r a fixed random projection; so dL/dx = backward(dy = r).
 * L is accumulated in double on the host from the float outputs. */
#ifndef CP_TEST_GRADCHECK_H
#define CP_TEST_GRADCHECK_H

#include <stddef.h>

#include "clinpaint/rng.h"

/* Runs the operator on host input x (nx floats) and writes its output y
 * (ny floats) to the host. `user` carries the operator's other inputs. */
typedef void (*tu_forward_fn)(void *user, const float *x, float *y);

typedef struct tu_gradcheck_opts {
    double h;          /* step */
    double atol, rtol; /* |numeric - analytic| <= atol + rtol * |analytic| */
    size_t checks;     /* coordinates of x checked (random, without repeats
                          when checks >= nx: all of them) */
} tu_gradcheck_opts;

/* Compares analytic[i] (= dL/dx_i computed by the backward under test) with
 * central differences at `checks` coordinates; fails the test naming `what`,
 * the coordinate and both values. x is restored on return. */
void tu_gradcheck(const char *what, tu_forward_fn forward, void *user, float *x, size_t nx,
                  size_t ny, const float *r, const float *analytic,
                  const tu_gradcheck_opts *opts, cp_rng *rng);

#endif
