// variants: DH=32 DH=64 DH=128
// attn_bwd_dkdv.comp - dk and dv for tiled attention: one invocation per key row,
// queries (and their dout) streamed through shared memory; lse and D are read per
// query from global memory (the same address for the whole group).
//   p = exp(scale q_i.k_j - lse_i), dv_j += p dout_i, ds = p (dout_i.v_j - D_i),
//   dk_j = scale * sum_i ds q_i.
// Each dk/dv row is written by one invocation in query order: deterministic.
// Bad lengths are reported by attn_bwd_dq; here they only zero the outputs. Head-dim
// loops run to the compile-time bound DH and unroll (as in attn_fwd.comp).
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 64) in;
#include "common.glsl"

const uint BC = 16u;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) readonly buffer Dout { float dout[]; };
layout(std430, binding = 4) readonly buffer Lse { float lse[]; };
layout(std430, binding = 5) readonly buffer Dbuf { float D[]; };
layout(std430, binding = 6) readonly buffer Len { int len[]; };
layout(std430, binding = 7) buffer Dk { float dk[]; };
layout(std430, binding = 8) buffer Dv { float dv[]; };
layout(push_constant) uniform Push {
    uint B, T, H, Dh;
    uint q_off, q_sb, q_st, q_sh;
    uint k_off, k_sb, k_st, k_sh;
    uint v_off, v_sb, v_st, v_sh;
    uint do_off, do_sb, do_st, do_sh;
    uint dk_off, dk_sb, dk_st, dk_sh;
    uint dv_off, dv_sb, dv_st, dv_sh;
    uint lse_off, len_off;
    uint flags; // 1 causal, 2 lengths given
    float scale;
} p;

shared float Qs[BC][DH];
shared float Gs[BC][DH];

void main() {
    uint lid = gl_LocalInvocationID.x;
    uint b = gl_WorkGroupID.z, h = gl_WorkGroupID.y;
    uint j = gl_WorkGroupID.x * 64u + lid;
    bool causal = (p.flags & 1u) != 0u;
    int L = (p.flags & 2u) != 0u ? len[p.len_off + b] : int(p.T);
    uint Lu = (L < 0 || L > int(p.T)) ? 0u : uint(L);
    bool live = j < Lu;

    float kr[DH], vr[DH], dka[DH], dva[DH];
    uint ki = p.k_off + b * p.k_sb + j * p.k_st + h * p.k_sh;
    uint vi = p.v_off + b * p.v_sb + j * p.v_st + h * p.v_sh;
    [[unroll]] for (uint d = 0u; d < DH; d++) {
        kr[d] = 0.0;
        vr[d] = 0.0;
        if (live && d < p.Dh) {
            kr[d] = k[ki + d];
            vr[d] = v[vi + d];
        }
        dka[d] = 0.0;
        dva[d] = 0.0;
    }
    uint rowbase = (b * p.H + h) * p.T;
    // Causal: query i sees key j only if i >= j, so this group starts at its first key.
    uint i_start = causal ? gl_WorkGroupID.x * 64u : 0u;

    for (uint i0 = i_start; i0 < Lu; i0 += BC) {
        [[unroll]] for (uint r = 0u; r < BC * DH / 64u; r++) {
            uint e = r * 64u + lid, ii = e / DH, d = e % DH, i = i0 + ii;
            float qv = 0.0, gv = 0.0;
            if (i < Lu && d < p.Dh) {
                qv = q[p.q_off + b * p.q_sb + i * p.q_st + h * p.q_sh + d];
                gv = dout[p.do_off + b * p.do_sb + i * p.do_st + h * p.do_sh + d];
            }
            Qs[ii][d] = qv;
            Gs[ii][d] = gv;
        }
        barrier();
        if (live) {
            uint nq = min(BC, Lu - i0);
            for (uint ii = 0u; ii < nq; ii++) {
                uint i = i0 + ii;
                if (causal && i < j) continue;
                float s = 0.0, dp = 0.0;
                [[unroll]] for (uint d = 0u; d < DH; d++) {
                    s += Qs[ii][d] * kr[d];
                    dp += Gs[ii][d] * vr[d];
                }
                float pj = exp(p.scale * s - lse[p.lse_off + rowbase + i]);
                float ds = pj * (dp - D[rowbase + i]);
                [[unroll]] for (uint d = 0u; d < DH; d++) {
                    dva[d] += pj * Gs[ii][d];
                    dka[d] += ds * Qs[ii][d];
                }
            }
        }
        barrier();
    }
    if (j >= p.T) return;
    uint ko = p.dk_off + b * p.dk_sb + j * p.dk_st + h * p.dk_sh;
    uint vo = p.dv_off + b * p.dv_sb + j * p.dv_st + h * p.dv_sh;
    [[unroll]] for (uint d = 0u; d < DH; d++) {
        if (d >= p.Dh) continue;
        dk[ko + d] = live ? p.scale * dka[d] : 0.0;
        dv[vo + d] = live ? dva[d] : 0.0;
    }
}
