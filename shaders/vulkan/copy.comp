// copy.comp - dst = src for tensors of up to 4 dims with any strides on both sides and
// any element size: elements are moved as bits through 32-bit words (sub-word elements
// with atomic and/or on the destination word, as in fill.comp).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Src { uint s[]; };
layout(std430, binding = 1) buffer Dst { uint d[]; };
layout(push_constant) uniform Push {
    uint n, esize, soff, doff;  // elements, bytes per element, byte offsets
    uint shape[4];              // padded with leading 1s
    uint sstride[4], dstride[4];
} p;

void main() {
    uint i = lt_flat_id();
    if (i >= p.n) return;
    uint r = i, so = 0u, dof = 0u;
    for (int k = 3; k >= 0; k--) {
        uint idx = r % p.shape[k];
        r /= p.shape[k];
        so += idx * p.sstride[k];
        dof += idx * p.dstride[k];
    }
    uint sb = p.soff + so * p.esize, db = p.doff + dof * p.esize;
    if (p.esize == 4u) {
        d[db >> 2] = s[sb >> 2];
    } else if (p.esize == 8u) {
        d[db >> 2] = s[sb >> 2];
        d[(db >> 2) + 1u] = s[(sb >> 2) + 1u];
    } else {
        uint mask = p.esize == 1u ? 0xffu : 0xffffu;
        uint v = (s[sb >> 2] >> ((sb & 3u) * 8u)) & mask;
        uint sh = (db & 3u) * 8u;
        atomicAnd(d[db >> 2], ~(mask << sh));
        atomicOr(d[db >> 2], v << sh);
    }
}
