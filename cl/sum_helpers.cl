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

/* ---- bounded multi-pass reductions (host side: src/backend/opencl/ops/reduce.c) ----
 *
 * A reduction of `segs` segments (one per output) of `count` elements each
 * runs as passes. Pass 1 (a map kernel per op) gives each segment
 * get_num_groups(0) work-groups ("chunks"); work item `lid` of chunk `g`
 * adds elements g·wg·items + lid + t·wg for t < items, so no work item loops
 * more than RED_MAX_ITEMS times however large the tensor (llvmpipe silently
 * stops loops after 65,535 iterations; GPU watchdogs kill long work items).
 * Each chunk writes one partial sum: partial[seg · chunks + g]. Later passes
 * (sum_pass in reduce.cl) add the partials the same way until one value per
 * segment is left. The order of every addition is fixed by the sizes and the
 * work-group size alone: the result is the same bit for bit run to run. */
#define RED_MAX_ITEMS 1024u

/* Element e = (row b, column j) of a [rows][segs][hw] layout, stepping by wg:
 * divides only when a row is crossed. */
void red_start(ulong e, uint hw, uint *b, uint *j)
{
    *b = (uint)(e / hw);
    *j = (uint)(e - (ulong)*b * hw);
}

void red_step(uint wg, uint hw, uint *b, uint *j)
{
    *j += wg;
    if (*j >= hw) {
        *b += *j / hw;
        *j %= hw;
    }
}

/* Loop bound of one work item in pass 1: items, at most RED_MAX_ITEMS. */
uint red_items(uint items) { return min(items, RED_MAX_ITEMS); }

/* First element of this work item and the segment's element count. */
ulong red_first(uint items)
{
    return (ulong)get_group_id(0) * get_local_size(0) * red_items(items) + get_local_id(0);
}

/* Where chunk g of segment seg puts its partial sum. */
ulong red_partial_at(ulong out_off, uint seg)
{
    return out_off + (ulong)seg * get_num_groups(0) + get_group_id(0);
}
