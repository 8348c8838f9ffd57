// embed_fwd.comp - out[n, :] (+)= table[ids[n], :]; also the learned position embeddings
// (pos_embed_fwd = accumulate). One invocation per output element; a token outside
// [0, V) is reported once per row (by column 0) and its row is left untouched.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#define LT_ERRORS
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Ids { int ids[]; };
layout(std430, binding = 1) readonly buffer Table { float table[]; };
layout(std430, binding = 2) buffer Out { float o[]; };
layout(push_constant) uniform Push {
    uint N, D, V;
    uint ids_off, tab_off, out_off;
    uint accumulate;
} p;

void main() {
    uint i = lt_flat_id();
    if (i >= p.N * p.D) return;
    uint n = i / p.D, d = i - n * p.D;
    int t = ids[p.ids_off + n];
    if (t < 0 || t >= int(p.V)) {
        if (d == 0u) lt_report(n, t);
        return;
    }
    float v = table[p.tab_off + uint(t) * p.D + d];
    uint oi = p.out_off + i;
    o[oi] = p.accumulate != 0u ? o[oi] + v : v;
}
