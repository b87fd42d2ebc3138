/* Deterministic bounded sums (see sum_helpers.cl: pass 1 per op, then
 * sum_pass until one value per segment): the whole-tensor sum and
 * per-channel sums (bias gradients). Each work item keeps a compensated
 * (Neumaier) sum of at most RED_MAX_ITEMS elements, then the group adds the
 * items' sums pairwise in local memory. Work-group sizes are powers of two
 * (any, from 1). No float atomics. */

#include "sum_helpers.cl"

/* Pass 1 of a plain sum over x[0..n): partial[g] for each chunk g. */
__kernel void reduce_sum_map(__global const float *x, const ulong x_off, const uint n,
                             const uint items, __global float *part, const ulong part_off,
                             __local float *scratch)
{
    const uint wg = get_local_size(0), it = red_items(items);
    ulong e = red_first(items);
    float s = 0.0f, c = 0.0f;
    for (uint t = 0; t < it && e < n; t++, e += wg) comp_add(&s, &c, x[x_off + e]);
    const float total = wg_sum(s + c, scratch);
    if (get_local_id(0) == 0) part[red_partial_at(part_off, 0)] = total;
}

/* Pass 1 of per-channel sums of dy [rows, channels, hw]: segment = channel
 * (dimension 1 of the range). */
__kernel void channel_sum_map(__global const float *dy, const ulong dy_off, const uint rows,
                              const uint channels, const uint hw, const uint items,
                              __global float *part, const ulong part_off,
                              __local float *scratch)
{
    const uint ch = get_global_id(1), wg = get_local_size(0), it = red_items(items);
    const ulong count = (ulong)rows * hw;
    ulong e = red_first(items);
    uint b, j;
    red_start(e, hw, &b, &j);
    float s = 0.0f, c = 0.0f;
    for (uint t = 0; t < it && e < count; t++, e += wg) {
        comp_add(&s, &c, dy[dy_off + ((ulong)b * channels + ch) * hw + j]);
        red_step(wg, hw, &b, &j);
    }
    const float total = wg_sum(s + c, scratch);
    if (get_local_id(0) == 0) part[red_partial_at(part_off, ch)] = total;
}

/* Later passes: in [segs][chunks] -> the next level of partials, or, in the
 * last pass (one group per segment), out[seg] = scale · sum / div (+ out[seg]
 * if acc). */
__kernel void sum_pass(__global const float *in, const ulong in_off, const uint chunks,
                       const uint items, __global float *out, const ulong out_off,
                       const float scale, const float div, const uint acc,
                       __local float *scratch)
{
    const uint seg = get_global_id(1), wg = get_local_size(0), it = red_items(items);
    const ulong base = in_off + (ulong)seg * chunks;
    ulong e = red_first(items);
    float s = 0.0f, c = 0.0f;
    for (uint t = 0; t < it && e < chunks; t++, e += wg) comp_add(&s, &c, in[base + e]);
    const float total = wg_sum(s + c, scratch);
    if (get_local_id(0) == 0) {
        const ulong o = red_partial_at(out_off, seg);
        const float v = scale * total / div;
        out[o] = acc ? out[o] + v : v;
    }
}
