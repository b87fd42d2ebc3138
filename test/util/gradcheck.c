#include "util/gradcheck.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

static double project(const float *r, const float *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)r[i] * (double)y[i];
    return s;
}

void tu_gradcheck(const char *what, tu_forward_fn forward, void *user, float *x, size_t nx,
                  size_t ny, const float *r, const float *analytic,
                  const tu_gradcheck_opts *opts, cp_rng *rng)
{
    float *y = malloc(ny * sizeof *y);
    ck_assert_ptr_nonnull(y);
    size_t checks = opts->checks < nx ? opts->checks : nx;
    for (size_t c = 0; c < checks; c++) {
        size_t i = checks == nx ? c : (size_t)cp_rng_range(rng, 0, (int64_t)nx - 1);
        float saved = x[i];
        /* The step actually taken in float, so rounding of x+h is exact. */
        float xp = (float)(saved + opts->h), xm = (float)(saved - opts->h);
        x[i] = xp;
        forward(user, x, y);
        double lp = project(r, y, ny);
        x[i] = xm;
        forward(user, x, y);
        double lm = project(r, y, ny);
        x[i] = saved;
        double numeric = (lp - lm) / ((double)xp - (double)xm);
        double a = analytic[i];
        ck_assert_msg(isfinite(a) && fabs(numeric - a) <= opts->atol + opts->rtol * fabs(a),
                      "%s: d/dx[%zu] analytic %.7g, central difference %.7g (h %g, atol %g, "
                      "rtol %g)",
                      what, i, a, numeric, opts->h, opts->atol, opts->rtol);
    }
    free(y);
}
