// fill.comp - dst[i] = value for a contiguous tensor of any dtype.
// The host converts the value to the dtype's bit pattern (lo, hi words), so the shader
// only stores bits: 8/4-byte elements as whole words, 2/1-byte ones with atomic and/or on
// their word so neighbours written by other invocations are left alone (no 8/16-bit
// storage feature needed).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(std430, binding = 0) buffer Dst { uint d[]; };
layout(push_constant) uniform Push {
    uint n;      // elements
    uint off;    // byte offset of element 0 in the window
    uint esize;  // 1, 2, 4 or 8
    uint lo, hi; // the value's bits
} p;

void main() {
    uint i = lt_flat_id();
    if (i >= p.n) return;
    uint b = p.off + i * p.esize;
    if (p.esize == 4u) {
        d[b >> 2] = p.lo;
    } else if (p.esize == 8u) {
        d[b >> 2] = p.lo;
        d[(b >> 2) + 1u] = p.hi;
    } else {
        uint sh = (b & 3u) * 8u;
        uint mask = (p.esize == 1u ? 0xffu : 0xffffu) << sh;
        atomicAnd(d[b >> 2], ~mask);
        atomicOr(d[b >> 2], (p.lo << sh) & mask);
    }
}
