/* Adam, PyTorch's form, on flat ranges (views of parameter / gradient /
 * moment arenas). The bias corrections bc1 = 1 - beta1^t and bc2 = 1 - beta2^t
 * come from the host (computed from t in double), so no round trip:
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *   p -= lr (m / bc1) / (sqrt(v / bc2) + eps). */
__kernel void adam_step(__global float *p, const ulong p_off, __global const float *grad,
                        const ulong g_off, __global float *m, const ulong m_off,
                        __global float *v, const ulong v_off, const float lr,
                        const float beta1, const float beta2, const float eps,
                        const float bc1, const float bc2, const uint n)
{
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float g = grad[g_off + i];
    const float mi = beta1 * m[m_off + i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[v_off + i] + (1.0f - beta2) * (g * g);
    m[m_off + i] = mi;
    v[v_off + i] = vi;
    p[p_off + i] -= lr * (mi / bc1) / (sqrt(vi / bc2) + eps);
}
