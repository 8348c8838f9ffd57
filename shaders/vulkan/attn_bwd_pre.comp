// attn_bwd_pre.comp - D[b,h,i] = sum_d dout[b,i,h,d] * out[b,i,h,d] (0 on padding rows),
// the row term of the softmax gradient: dS = P * (dP - D) (FlashAttention-2, Alg. 2).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Dout { float dout[]; };
layout(std430, binding = 1) readonly buffer Out { float o[]; };
layout(std430, binding = 2) readonly buffer Len { int len[]; };
layout(std430, binding = 3) buffer Dbuf { float D[]; };
layout(push_constant) uniform Push {
    uint B, T, H, Dh;
    uint do_off, do_sb, do_st, do_sh;
    uint o_off, o_sb, o_st, o_sh;
    uint len_off, flags; // 2 lengths given
} p;

void main() {
    uint idx = lt_flat_id();
    if (idx >= p.B * p.H * p.T) return;
    uint i = idx % p.T, bh = idx / p.T, h = bh % p.H, b = bh / p.H;
    int L = (p.flags & 2u) != 0u ? len[p.len_off + b] : int(p.T);
    float s = 0.0;
    if (int(i) < L && L <= int(p.T)) {
        uint di = p.do_off + b * p.do_sb + i * p.do_st + h * p.do_sh;
        uint oi = p.o_off + b * p.o_sb + i * p.o_st + h * p.o_sh;
        for (uint d = 0u; d < p.Dh; d++) s += dout[di + d] * o[oi + d];
    }
    D[idx] = s;
}
