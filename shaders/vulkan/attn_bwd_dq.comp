// variants: DH=32 DH=64 DH=128
// attn_bwd_dq.comp - dq for tiled attention: one invocation per query row, keys and
// values streamed through shared memory. Probabilities are recomputed from the saved
// lse (p = exp(scale q.k - lse)), so nothing of size T x T is stored:
//   dp = dout . v_j,  ds = p (dp - D_i),  dq_i = scale * sum_j ds k_j.
// Each dq row is written by one invocation in key order: deterministic. Head-dim loops
// run to the compile-time bound DH and unroll (as in attn_fwd.comp).
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 64) in;
#define LT_ERRORS
#include "common.glsl"

const uint BC = 16u;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) readonly buffer Dout { float dout[]; };
layout(std430, binding = 4) readonly buffer Lse { float lse[]; };
layout(std430, binding = 5) readonly buffer Dbuf { float D[]; };
layout(std430, binding = 6) readonly buffer Len { int len[]; };
layout(std430, binding = 7) buffer Dq { float dq[]; };
layout(push_constant) uniform Push {
    uint B, T, H, Dh;
    uint q_off, q_sb, q_st, q_sh;
    uint k_off, k_sb, k_st, k_sh;
    uint v_off, v_sb, v_st, v_sh;
    uint do_off, do_sb, do_st, do_sh;
    uint dq_off, dq_sb, dq_st, dq_sh;
    uint lse_off, len_off;
    uint flags; // 1 causal, 2 lengths given
    float scale;
} p;

shared float Ks[BC][DH];
shared float Vs[BC][DH];

void main() {
    uint lid = gl_LocalInvocationID.x;
    uint b = gl_WorkGroupID.z, h = gl_WorkGroupID.y;
    uint i = gl_WorkGroupID.x * 64u + lid;
    bool causal = (p.flags & 1u) != 0u;
    int L = (p.flags & 2u) != 0u ? len[p.len_off + b] : int(p.T);
    bool bad = L < 0 || L > int(p.T);
    if (bad && lid == 0u && gl_WorkGroupID.x == 0u && h == 0u) lt_report(b, L);
    uint Lu = bad ? 0u : uint(L); // bad lengths: every row becomes padding (zeros)
    bool live = i < Lu;
    uint kend = causal ? min(i + 1u, Lu) : Lu;
    uint last = min(gl_WorkGroupID.x * 64u + 63u, p.T - 1u);
    uint kmax = causal ? min(last + 1u, Lu) : Lu;

    float qr[DH], gr[DH], acc[DH];
    uint qi = p.q_off + b * p.q_sb + i * p.q_st + h * p.q_sh;
    uint gi = p.do_off + b * p.do_sb + i * p.do_st + h * p.do_sh;
    [[unroll]] for (uint d = 0u; d < DH; d++) {
        qr[d] = 0.0;
        gr[d] = 0.0;
        if (live && d < p.Dh) {
            qr[d] = q[qi + d];
            gr[d] = dout[gi + d];
        }
        acc[d] = 0.0;
    }
    uint row = (b * p.H + h) * p.T + i;
    float lse_i = live ? lse[p.lse_off + row] : 0.0;
    float D_i = live ? D[row] : 0.0;

    for (uint j0 = 0u; j0 < kmax; j0 += BC) {
        [[unroll]] for (uint r = 0u; r < BC * DH / 64u; r++) {
            uint e = r * 64u + lid, jj = e / DH, d = e % DH, j = j0 + jj;
            float kv = 0.0, vv = 0.0;
            if (j < kmax && d < p.Dh) {
                kv = k[p.k_off + b * p.k_sb + j * p.k_st + h * p.k_sh + d];
                vv = v[p.v_off + b * p.v_sb + j * p.v_st + h * p.v_sh + d];
            }
            Ks[jj][d] = kv;
            Vs[jj][d] = vv;
        }
        barrier();
        uint jn = live && kend > j0 ? min(BC, kend - j0) : 0u;
        for (uint jj = 0u; jj < jn; jj++) {
            float s = 0.0, dp = 0.0;
            [[unroll]] for (uint d = 0u; d < DH; d++) {
                s += qr[d] * Ks[jj][d];
                dp += gr[d] * Vs[jj][d];
            }
            float pj = exp(p.scale * s - lse_i);
            float ds = pj * (dp - D_i);
            [[unroll]] for (uint d = 0u; d < DH; d++) acc[d] += ds * Ks[jj][d];
        }
        barrier();
    }
    if (i >= p.T) return;
    uint oi = p.dq_off + b * p.dq_sb + i * p.dq_st + h * p.dq_sh;
    [[unroll]] for (uint d = 0u; d < DH; d++)
        if (d < p.Dh) dq[oi + d] = live ? p.scale * acc[d] : 0.0;
}
