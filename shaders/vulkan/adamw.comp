// adamw.comp - one AdamW step on flat f32 tensors (Loshchilov & Hutter, decoupled decay):
//   g = grad*gs; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//   param -= lr * (m/bc1 / (sqrt(v/bc2) + eps) + wd_i * param)
// with the bias corrections bc1 = 1 - b1^step, bc2 = 1 - b2^step computed on the host in
// double. The decay mask is u8, read as bytes of 32-bit words (no 8-bit storage needed).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Grad { float grad[]; };
layout(std430, binding = 1) readonly buffer Mask { uint mask[]; };
layout(std430, binding = 2) buffer Param { float prm[]; };
layout(std430, binding = 3) buffer M { float mom[]; };
layout(std430, binding = 4) buffer Vv { float vel[]; };
layout(push_constant) uniform Push {
    uint n, g_off, mask_off, p_off, m_off, v_off, has_mask;
    float lr, b1, b2, eps, wd, gs, bc1, bc2;
} p;

void main() {
    uint i = lt_flat_id();
    if (i >= p.n) return;
    float g = grad[p.g_off + i] * p.gs;
    float m = p.b1 * mom[p.m_off + i] + (1.0 - p.b1) * g;
    float v = p.b2 * vel[p.v_off + i] + (1.0 - p.b2) * g * g;
    mom[p.m_off + i] = m;
    vel[p.v_off + i] = v;
    float wd = p.wd;
    if (p.has_mask != 0u) {
        uint byte_at = p.mask_off + i;
        uint bits = (mask[byte_at >> 2] >> ((byte_at & 3u) * 8u)) & 0xffu;
        if (bits == 0u) wd = 0.0;
    }
    float w = prm[p.p_off + i];
    float mhat = m / p.bc1, vhat = v / p.bc2;
    prm[p.p_off + i] = w - p.lr * (mhat / (sqrt(vhat) + p.eps) + wd * w);
}
