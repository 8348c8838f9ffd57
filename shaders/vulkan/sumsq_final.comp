// sumsq_final.comp - out[0] = sum of the partials of sumsq_partial.comp, in a fixed order.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Part { float part[]; };
layout(std430, binding = 1) buffer Out { float o[]; };
layout(push_constant) uniform Push { uint nparts, out_off; } p;

shared float red[256];

void main() {
    uint lid = gl_LocalInvocationID.x;
    float s = 0.0;
    for (uint i = lid; i < p.nparts; i += 256u) s += part[i];
    red[lid] = s;
    barrier();
    for (uint k = 128u; k > 0u; k >>= 1) {
        if (lid < k) red[lid] += red[lid + k];
        barrier();
    }
    if (lid == 0u) o[p.out_off] = red[0];
}
