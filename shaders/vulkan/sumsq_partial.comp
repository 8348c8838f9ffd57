// sumsq_partial.comp - partial[g] = sum of x^2 over chunk g (4096 elements).
// The chunking and the reduction tree are fixed (not derived from the device), so
// repeated runs add in the same order and agree bit for bit; sumsq_final.comp adds the
// partials the same way.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) buffer Part { float part[]; };
layout(push_constant) uniform Push { uint n, x_off; } p;

shared float red[256];

void main() {
    uint g = lt_group(), lid = gl_LocalInvocationID.x;
    uint base = g * 4096u;
    float s = 0.0;
    for (uint k = 0u; k < 16u; k++) {
        uint i = base + k * 256u + lid;
        if (i < p.n) {
            float v = x[p.x_off + i];
            s += v * v;
        }
    }
    red[lid] = s;
    barrier();
    for (uint k = 128u; k > 0u; k >>= 1) {
        if (lid < k) red[lid] += red[lid + k];
        barrier();
    }
    if (lid == 0u) part[g] = red[0];
}
