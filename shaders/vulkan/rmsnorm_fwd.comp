// rmsnorm_fwd.comp - out = x * rstd * w, rstd[n] = 1/sqrt(mean(x[n,:]^2) + eps).
// One work group per row; the sum of squares is reduced through a fixed tree in shared
// memory, so the result is the same every run.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) buffer Out { float o[]; };
layout(std430, binding = 3) buffer Rstd { float rstd[]; };
layout(push_constant) uniform Push {
    uint N, D;
    uint x_off, w_off, out_off, rstd_off;
    float eps;
} p;

shared float red[256];

void main() {
    uint row = lt_group(), lid = gl_LocalInvocationID.x;
    if (row >= p.N) return; // uniform over the group
    uint xb = p.x_off + row * p.D;
    float s = 0.0;
    for (uint d = lid; d < p.D; d += 256u) {
        float v = x[xb + d];
        s += v * v;
    }
    red[lid] = s;
    barrier();
    for (uint k = 128u; k > 0u; k >>= 1) {
        if (lid < k) red[lid] += red[lid + k];
        barrier();
    }
    float r = 1.0 / sqrt(red[0] / float(p.D) + p.eps);
    uint ob = p.out_off + row * p.D;
    for (uint d = lid; d < p.D; d += 256u) o[ob + d] = x[xb + d] * r * w[p.w_off + d];
    if (lid == 0u) rstd[p.rstd_off + row] = r;
}
