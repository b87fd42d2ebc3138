/* Utility kernels: plain copy (memory bandwidth probe and device check). */

/* dst[i] = src[i] for i < n; offsets in elements. */
__kernel void copy_f32(__global const float *src, const ulong src_off,
                       __global float *dst, const ulong dst_off, const uint n)
{
    const uint i = get_global_id(0);
    if (i < n) dst[dst_off + i] = src[src_off + i];
}

/* y[i] = a * x[i] + y[i]: used by the device self-check. */
__kernel void axpy_f32(const float a, __global const float *x, __global float *y,
                       const uint n)
{
    const uint i = get_global_id(0);
    if (i < n) y[i] = a * x[i] + y[i];
}
