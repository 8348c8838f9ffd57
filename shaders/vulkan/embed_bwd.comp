// embed_bwd.comp - dtable[ids[n], :] += dout[n, :], deterministically.
// Rows of dtable receive many tokens at once, so scattering with atomics would make the
// sum order (and the result) change from run to run. Instead each invocation owns one
// column d and walks the tokens in order: column d of every row is written by exactly
// one invocation, in the same order every time, and no atomics are needed.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
#define LT_ERRORS
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Ids { int ids[]; };
layout(std430, binding = 1) readonly buffer Dout { float dout[]; };
layout(std430, binding = 2) buffer Dtable { float dt[]; };
layout(push_constant) uniform Push {
    uint N, D, V;           // N tokens in this dispatch
    uint ids_off, dout_off, dt_off;
    uint n0;                // position of the first one (for error messages)
} p;

void main() {
    uint d = lt_flat_id();
    if (d >= p.D) return;
    for (uint n = 0u; n < p.N; n++) {
        int t = ids[p.ids_off + n];
        if (t < 0 || t >= int(p.V)) {
            if (d == 0u) lt_report(p.n0 + n, t);
            continue;
        }
        uint ti = p.dt_off + uint(t) * p.D + d;
        dt[ti] = dt[ti] + dout[p.dout_off + n * p.D + d];
    }
}
