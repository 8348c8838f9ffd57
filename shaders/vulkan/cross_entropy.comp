// cross_entropy.comp - fused softmax cross-entropy and its gradient, one work group per row.
// loss = log(sum_j exp(l_j - m)) + m - l_t (m = row max, so exp never overflows);
// dlogits = weight * grad_scale * (softmax - onehot(t)). dlogits may alias logits: every
// logit another invocation needs (the max, the sum, l_t) is read before the barrier that
// precedes the writes, and each invocation rewrites only the elements it reads itself.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#define LT_ERRORS
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Logits { float l[]; };
layout(std430, binding = 1) readonly buffer Targets { int tgt[]; };
layout(std430, binding = 2) readonly buffer Weights { float wt[]; };
layout(std430, binding = 3) buffer Losses { float loss[]; };
layout(std430, binding = 4) buffer Dlogits { float dl[]; };
layout(push_constant) uniform Push {
    uint N, V;
    uint l_off, t_off, w_off, loss_off, dl_off;
    uint flags; // 1 weights given, 2 dlogits wanted
    float grad_scale;
} p;

shared float red[256];
shared float s_lt;

void main() {
    uint row = lt_group(), lid = gl_LocalInvocationID.x;
    if (row >= p.N) return;
    bool has_dl = (p.flags & 2u) != 0u;
    float w = (p.flags & 1u) != 0u ? wt[p.w_off + row] : 1.0;
    uint lb = p.l_off + row * p.V, db = p.dl_off + row * p.V;
    if (w == 0.0) { // the target is not read: padding rows may hold anything there
        if (lid == 0u) loss[p.loss_off + row] = 0.0;
        if (has_dl)
            for (uint j = lid; j < p.V; j += 256u) dl[db + j] = 0.0;
        return;
    }
    int t = tgt[p.t_off + row];
    if (t < 0 || t >= int(p.V)) {
        if (lid == 0u) lt_report(row, t);
        return;
    }
    float m = uintBitsToFloat(0xff800000u); // -inf
    for (uint j = lid; j < p.V; j += 256u) m = max(m, l[lb + j]);
    red[lid] = m;
    barrier();
    for (uint k = 128u; k > 0u; k >>= 1) {
        if (lid < k) red[lid] = max(red[lid], red[lid + k]);
        barrier();
    }
    m = red[0];
    barrier();
    float s = 0.0;
    for (uint j = lid; j < p.V; j += 256u) s += exp(l[lb + j] - m);
    if (lid == 0u) s_lt = l[lb + uint(t)];
    red[lid] = s;
    barrier();
    for (uint k = 128u; k > 0u; k >>= 1) {
        if (lid < k) red[lid] += red[lid + k];
        barrier();
    }
    float sum = red[0];
    if (lid == 0u) loss[p.loss_off + row] = log(sum) + m - s_lt;
    if (has_dl) {
        float c = w * p.grad_scale;
        float inv = 1.0 / sum;
        for (uint j = lid; j < p.V; j += 256u) {
            float pj = exp(l[lb + j] - m) * inv;
            dl[db + j] = c * (pj - (j == uint(t) ? 1.0 : 0.0));
        }
    }
}
