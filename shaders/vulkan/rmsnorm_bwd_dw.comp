// rmsnorm_bwd_dw.comp - dw[c] += sum_n dout[n,c] * x[n,c] * rstd[n], deterministically.
// A 32x8 work group covers 32 columns; lane y sums rows y, y+8, ... of its column and
// the 8 lane sums are added in a fixed order, so no atomics and the same result each run.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 32, local_size_y = 8) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer G { float g[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer Rstd { float rstd[]; };
layout(std430, binding = 3) buffer Dw { float dw[]; };
layout(push_constant) uniform Push {
    uint N, D;
    uint g_off, x_off, rstd_off, dw_off;
} p;

shared float red[8][32];

void main() {
    uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
    uint c = gl_WorkGroupID.x * 32u + lx;
    float s = 0.0;
    if (c < p.D)
        for (uint n = ly; n < p.N; n += 8u)
            s += g[p.g_off + n * p.D + c] * x[p.x_off + n * p.D + c] * rstd[p.rstd_off + n];
    red[ly][lx] = s;
    barrier();
    if (ly == 0u && c < p.D) {
        float t = red[0][lx];
        for (uint k = 1u; k < 8u; k++) t += red[k][lx];
        dw[p.dw_off + c] += t;
    }
}
