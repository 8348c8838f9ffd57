// variants: DH=32 DH=64 DH=128
// attn_fwd.comp - tiled (flash) attention forward, and KV-cache decoding.
// One invocation per query row (64 per work group, one (batch, head) per group row);
// keys and values stream through shared memory in tiles of BC rows and the softmax is
// computed online: per tile the running max m, the running sum l and the accumulator
// are rescaled by exp(m_old - m_new), so no T x T matrix is ever formed. The saved
// lse = m + log(l) lets the backward pass recompute probabilities exactly.
// Decode mode: q holds the Tq newest tokens, k/v the cache (Tk = Tmax); query t sits at
// absolute position lengths[b] - Tq + t and sees cache positions up to it.
// The head dim is a compile-time bound DH (variants 32/64/128, zero-padded above the
// real Dh): every loop over it unrolls, so rows of q and the accumulator live in
// registers, and each invocation loops only over keys (see "lavapipe notes" in
// docs/vulkan.md for the loop budget this keeps to).
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
layout(std430, binding = 3) readonly buffer Len { int len[]; };
layout(std430, binding = 4) buffer Out { float o[]; };
layout(std430, binding = 5) buffer Lse { float lse[]; };
layout(push_constant) uniform Push {
    uint B, Tq, Tk, H, Dh;
    uint q_off, q_sb, q_st, q_sh;
    uint k_off, k_sb, k_st, k_sh;
    uint v_off, v_sb, v_st, v_sh;
    uint o_off, o_sb, o_st, o_sh;
    uint lse_off, len_off;
    uint flags; // 1 causal, 2 lengths given, 4 decode, 8 write lse
    float scale;
} p;

shared float Ks[BC][DH];
shared float Vs[BC][DH];

void main() {
    uint lid = gl_LocalInvocationID.x;
    uint b = gl_WorkGroupID.z, h = gl_WorkGroupID.y;
    uint i = gl_WorkGroupID.x * 64u + lid;
    bool causal = (p.flags & 1u) != 0u, decode = (p.flags & 4u) != 0u;
    bool write_lse = (p.flags & 8u) != 0u;

    int L = int(p.Tk);
    if ((p.flags & 2u) != 0u) L = len[p.len_off + b];
    bool bad = decode ? (L < int(p.Tq) || L > int(p.Tk)) : (L < 0 || L > int(p.Tk));
    if (bad) {
        if (lid == 0u && gl_WorkGroupID.x == 0u && h == 0u) lt_report(b, L);
        return; // uniform: the whole group shares b
    }
    uint Lu = uint(L);
    uint qbase = decode ? Lu - p.Tq : 0u;   // absolute position of query 0
    bool live = i < p.Tq && (decode || i < Lu);
    uint kend = causal ? min(qbase + i + 1u, Lu) : Lu;
    uint last = min(gl_WorkGroupID.x * 64u + 63u, p.Tq - 1u);
    uint kmax = causal ? min(qbase + last + 1u, Lu) : Lu;

    float qr[DH], acc[DH];
    uint qi = p.q_off + b * p.q_sb + i * p.q_st + h * p.q_sh;
    [[unroll]] for (uint d = 0u; d < DH; d++) {
        qr[d] = 0.0;
        if (live && d < p.Dh) qr[d] = q[qi + d];
        acc[d] = 0.0;
    }
    float m = 0.0, l = 0.0;
    bool seen = false;

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
        if (jn > 0u) {
            float s[BC];
            float mt = 0.0;
            for (uint jj = 0u; jj < jn; jj++) {
                float dot = 0.0;
                [[unroll]] for (uint d = 0u; d < DH; d++) dot += qr[d] * Ks[jj][d];
                s[jj] = p.scale * dot;
                mt = jj == 0u ? s[0] : max(mt, s[jj]);
            }
            float mn = seen ? max(m, mt) : mt;
            float corr = seen ? exp(m - mn) : 0.0;
            l *= corr;
            [[unroll]] for (uint d = 0u; d < DH; d++) acc[d] *= corr;
            for (uint jj = 0u; jj < jn; jj++) {
                float pj = exp(s[jj] - mn);
                l += pj;
                [[unroll]] for (uint d = 0u; d < DH; d++) acc[d] += pj * Vs[jj][d];
            }
            m = mn;
            seen = true;
        }
        barrier();
    }

    if (i >= p.Tq) return;
    uint oi = p.o_off + b * p.o_sb + i * p.o_st + h * p.o_sh;
    float inv = seen ? 1.0 / l : 0.0;
    [[unroll]] for (uint d = 0u; d < DH; d++)
        if (d < p.Dh) o[oi + d] = seen ? acc[d] * inv : 0.0;
    if (write_lse) lse[p.lse_off + (b * p.H + h) * p.Tq + i] = seen ? m + log(l) : 0.0;
}
