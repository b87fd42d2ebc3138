/* Helpers shared by the reduction kernels (reduce.cl, loss.cl, batchnorm.cl),
 * pulled in with `#include "sum_helpers.cl"` (expanded by the runtime, see
 * cp_kernel_source). No kernels here. */

/* Compensated summation (Kahan-Babuska / Neumaier): s += v, with the
 * rounding error of each addition collected in c; the sum is s + c. Unlike
 * plain Kahan it also recovers terms lost against a larger partial sum that
 * later cancels. An infinite s leaves c alone, so that inf stays inf (and
 * NaN, once in, stays NaN). */
void comp_add(float *s, float *c, float v)
{
    const float t = *s + v;
    const float e = fabs(*s) >= fabs(v) ? (*s - t) + v : (v - t) + *s;
    *c += isinf(t) ? 0.0f : e;
    *s = t;
}

/* Sum of v over the work-group (every item must call it); all get it. */
float wg_sum(float v, __local float *scratch)
{
    const uint lid = get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = get_local_size(0) >> 1; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] += scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}
