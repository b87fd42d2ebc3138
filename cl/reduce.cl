/* Deterministic sums: the whole-tensor sum and per-channel sums (bias
 * gradient). One work-group per output: each work item keeps a
 * compensated (Neumaier) sum of its strided elements (accurate however long the
 * tensor and however small the group: Apple's CPU device runs groups of 1),
 * then the group adds the items' sums pairwise in local memory. Work-group
 * sizes are powers of two (any, from 1). No float atomics. */

#include "sum_helpers.cl"

/* out[0] = scale * sum of x[0..n). One work-group. */
__kernel void reduce_sum(__global const float *x, const ulong x_off, const uint n,
                         const float scale, __global float *out, const ulong out_off,
                         __local float *scratch)
{
    const uint lid = get_local_id(0), wg = get_local_size(0);
    float s = 0.0f, c = 0.0f;
    for (uint i = lid; i < n; i += wg) comp_add(&s, &c, x[x_off + i]);
    const float total = wg_sum(s + c, scratch);
    if (lid == 0) out[out_off] = scale * total;
}

/* db[c] = sum over n, h, w of dy[n, c, h, w] (+ db[c] if acc). One
 * work-group per channel. */
__kernel void channel_sum(__global const float *dy, const ulong dy_off, const uint n,
                          const uint channels, const uint hw, __global float *db,
                          const ulong db_off, const uint acc, __local float *scratch)
{
    const uint ch = get_group_id(0);
    const uint lid = get_local_id(0), wg = get_local_size(0);
    float s = 0.0f, c = 0.0f;
    /* Image by image: no division per element (slow on CPU devices). */
    for (uint b = 0; b < n; b++) {
        __global const float *p = dy + dy_off + ((ulong)b * channels + ch) * hw;
        for (uint j = lid; j < hw; j += wg) comp_add(&s, &c, p[j]);
    }
    const float total = wg_sum(s + c, scratch);
    if (lid == 0) db[db_off + ch] = acc ? db[db_off + ch] + total : total;
}
