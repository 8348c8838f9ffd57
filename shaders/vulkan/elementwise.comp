// elementwise.comp - gelu fwd/bwd, add, scale, axpy on contiguous f32 tensors.
// GELU is the tanh form 0.5 x (1 + tanh(k (x + 0.044715 x^3))), k = sqrt(2/pi); its
// derivative is 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 * 0.044715 x^2).
// In-place use (out aliasing an input) is fine: each invocation reads its element
// before writing it.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) buffer Out { float o[]; };
layout(push_constant) uniform Push {
    uint n, mode; // 0 gelu_fwd(a), 1 gelu_bwd(dout=a, x=b), 2 add, 3 scale, 4 axpy (o += alpha a)
    uint a_off, b_off, out_off;
    float alpha;
} p;

const float K0 = 0.7978845608028654;
const float C = 0.044715;

void main() {
    uint i = lt_flat_id();
    if (i >= p.n) return;
    float x = a[p.a_off + i];
    float r;
    if (p.mode == 0u) {
        r = 0.5 * x * (1.0 + lt_tanh(K0 * (x + C * x * x * x)));
    } else if (p.mode == 1u) {
        float xv = b[p.b_off + i];
        float t = lt_tanh(K0 * (xv + C * xv * xv * xv));
        float dg = 0.5 * (1.0 + t) + 0.5 * xv * (1.0 - t * t) * K0 * (1.0 + 3.0 * C * xv * xv);
        r = x * dg;
    } else if (p.mode == 2u) {
        r = x + b[p.b_off + i];
    } else if (p.mode == 3u) {
        r = p.alpha * x;
    } else {
        r = o[p.out_off + i] + p.alpha * x;
    }
    o[p.out_off + i] = r;
}
