/* The detector's loss (include/clinpaint/detector.h): per-pixel binary
 * cross-entropy on logits z against a target mask t, plus a soft Dice term
 * per image:
 *   L = 1/(N·HW) Σ [softplus(z) - z t] + w (1 - 1/N Σ_n D_n),
 *   D_n = (2 I_n + eps) / (S_n + eps), I_n = Σ p t, S_n = Σ p + Σ t, p = sigmoid(z).
 * eps = 1 keeps an image without a mask (t = 0) at D = 1 when p is near 0,
 * so faces without masks are learnt as "nothing here". The sums are
 * bounded multi-pass reductions (sum_helpers.cl): 3 segments per image. */

#include "sum_helpers.cl"

float dice_softplus(float z) { return (z > 0.0f ? z : 0.0f) + log1p(exp(-fabs(z))); }

float dice_sigmoid(float z)
{
    const float e = exp(-fabs(z));
    const float s = 1.0f / (1.0f + e);
    return z >= 0.0f ? s : e * s;
}

/* Pass 1: segment s = 3 b + k of image b sums, over its hw pixels,
 * k = 0: p t, k = 1: p + t, k = 2: softplus(z) - z t. */
__kernel void dice_map(__global const float *z, const ulong z_off,
                       __global const float *t, const ulong t_off, const uint hw,
                       const uint items, __global float *part, const ulong part_off,
                       __local float *scratch)
{
    const uint seg = get_global_id(1), b = seg / 3u, kind = seg - 3u * b;
    const uint wg = get_local_size(0), it = red_items(items);
    ulong e = red_first(items);
    const ulong base = (ulong)b * hw;
    float s = 0.0f, c = 0.0f;
    for (uint k = 0; k < it && e < hw; k++, e += wg) {
        const float zv = z[z_off + base + e], tv = t[t_off + base + e];
        const float v = kind == 0u   ? dice_sigmoid(zv) * tv
                        : kind == 1u ? dice_sigmoid(zv) + tv
                                     : dice_softplus(zv) - zv * tv;
        comp_add(&s, &c, v);
    }
    const float total = wg_sum(s + c, scratch);
    if (get_local_id(0) == 0) part[red_partial_at(part_off, seg)] = total;
}

/* One work item: the scalar from the 3 N sums. A loop over the batch only. */
__kernel void dice_loss(__global const float *sums, const ulong sums_off, const uint n,
                        const uint hw, const float dice_weight, const float eps,
                        __global float *loss, const ulong loss_off)
{
    if (get_global_id(0) != 0) return;
    float bce = 0.0f, dice = 0.0f;
    for (uint b = 0; b < n; b++) {
        const float i = sums[sums_off + 3 * b], s = sums[sums_off + 3 * b + 1];
        bce += sums[sums_off + 3 * b + 2];
        dice += (2.0f * i + eps) / (s + eps);
    }
    loss[loss_off] = bce / ((float)n * (float)hw) + dice_weight * (1.0f - dice / (float)n);
}

/* dz = scale [ (p - t)/(N HW) - w/N · dD_n/dp · p (1 - p) ] (+ dz),
 * dD_n/dp = (2 t (S + eps) - (2 I + eps)) / (S + eps)^2. */
__kernel void dice_grad(__global const float *z, const ulong z_off,
                        __global const float *t, const ulong t_off,
                        __global const float *sums, const ulong sums_off, const uint hw,
                        const float dice_weight, const float eps, const float scale,
                        const uint n, __global float *dz, const ulong dz_off, const uint acc)
{
    const uint i = get_global_id(0);
    if (i >= n * hw) return;
    const uint b = i / hw;
    const float inter = sums[sums_off + 3 * b], s = sums[sums_off + 3 * b + 1] + eps;
    const float p = dice_sigmoid(z[z_off + i]), tv = t[t_off + i];
    const float dd = (2.0f * tv * s - (2.0f * inter + eps)) / (s * s);
    const float v = scale * ((p - tv) / ((float)n * (float)hw) -
                             dice_weight / (float)n * dd * p * (1.0f - p));
    dz[dz_off + i] = acc ? dz[dz_off + i] + v : v;
}
