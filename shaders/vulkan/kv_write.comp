// kv_write.comp - cache[b, pos[b] + t, h, :] = x[b, t, h, :] for t < Tn.
// A sample whose pos[b] is negative or leaves no room for Tn tokens is reported once
// and not written.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#define LT_ERRORS
#include "common.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Pos { int pos[]; };
layout(std430, binding = 2) buffer Cache { float cache[]; };
layout(push_constant) uniform Push {
    uint B, Tn, H, Dh, Tmax;
    uint x_off, x_sb, x_st, x_sh;
    uint pos_off, c_off;
} p;

void main() {
    uint idx = lt_flat_id();
    if (idx >= p.B * p.Tn * p.H * p.Dh) return;
    uint d = idx % p.Dh, r = idx / p.Dh;
    uint h = r % p.H;
    r /= p.H;
    uint t = r % p.Tn, b = r / p.Tn;
    int ps = pos[p.pos_off + b];
    if (ps < 0 || uint(ps) > p.Tmax - p.Tn) {
        if (t == 0u && h == 0u && d == 0u) lt_report(b, ps);
        return;
    }
    uint ci = p.c_off + ((b * p.Tmax + uint(ps) + t) * p.H + h) * p.Dh + d;
    cache[ci] = x[p.x_off + b * p.x_sb + t * p.x_st + h * p.x_sh + d];
}
