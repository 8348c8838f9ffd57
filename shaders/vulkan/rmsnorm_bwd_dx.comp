// rmsnorm_bwd_dx.comp - dx (=/+=) rstd*w*g - x * rstd^3 * mean(g*w*x), g = dout.
// From y = w * x * r with dr/dx_j = -r^3 x_j / D. One work group per row, fixed-tree
// reduction of sum(g*w*x).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer G { float g[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer W { float w[]; };
layout(std430, binding = 3) readonly buffer Rstd { float rstd[]; };
layout(std430, binding = 4) buffer Dx { float dx[]; };
layout(push_constant) uniform Push {
    uint N, D;
    uint g_off, x_off, w_off, rstd_off, dx_off;
    uint accumulate;
} p;

shared float red[256];

void main() {
    uint row = lt_group(), lid = gl_LocalInvocationID.x;
    if (row >= p.N) return;
    uint gb = p.g_off + row * p.D, xb = p.x_off + row * p.D;
    float s = 0.0;
    for (uint d = lid; d < p.D; d += 256u) s += g[gb + d] * w[p.w_off + d] * x[xb + d];
    red[lid] = s;
    barrier();
    for (uint k = 128u; k > 0u; k >>= 1) {
        if (lid < k) red[lid] += red[lid + k];
        barrier();
    }
    float r = rstd[p.rstd_off + row];
    float c = r * r * r * red[0] / float(p.D);
    uint db = p.dx_off + row * p.D;
    for (uint d = lid; d < p.D; d += 256u) {
        float v = r * w[p.w_off + d] * g[gb + d] - x[xb + d] * c;
        dx[db + d] = p.accumulate != 0u ? dx[db + d] + v : v;
    }
}
