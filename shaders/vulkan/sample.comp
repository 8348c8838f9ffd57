// sample.comp - one token per row by the rule of include/loretta/rng.h, one work group
// per row.
//  - temperature 0: argmax over [lo, hi), lowest index on ties (tree reduction).
//  - top_k: the k-th largest logit is found by a 32-step bisection on order-preserving
//    integer keys (count of keys >= candidate), then ties at that value are cut by a
//    bisection on the index, so exactly k tokens are kept, lower indices first.
//  - the kept tokens are compacted in index order into scratch; one invocation then adds
//    their weights in that order (the rule's f32 running sum, stored per token), and the
//    first running sum above u * total is found in parallel. u comes from the same
//    Philox4x32-10 as the host's lt_rng_uniform.
// Each invocation scans a contiguous slice of the candidates, and the only long serial
// loop is the one over the kept tokens, so no invocation loops more than ~V times.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Logits { float l[]; };
layout(std430, binding = 1) readonly buffer Ids { int ids[]; };
layout(std430, binding = 2) buffer Tokens { int tok[]; };
// Per row 2 * (hi - lo) words: kept indices, then their running sums.
layout(std430, binding = 3) coherent buffer Scratch { uint sc[]; };
layout(push_constant) uniform Push {
    uint B, V, l_off, ids_off, tok_off, has_ids;
    uint seed_lo, seed_hi, step_lo, step_hi;
    float temperature;
    uint top_k, lo, hi;
} p;

shared float sv[256];
shared uint si[256];
shared uint cnt[256];
shared float s_r;

uint lid;

uvec4 philox(uvec4 c, uint k0, uint k1) {
    for (int r = 0; r < 10; r++) {
        uint hi0, lo0, hi1, lo1;
        umulExtended(0xD2511F53u, c.x, hi0, lo0);
        umulExtended(0xCD9E8D57u, c.z, hi1, lo1);
        c = uvec4(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

// NaN logits rank as -inf (the reference's rule), everywhere a logit is compared.
float rank_of(float f) { return isnan(f) ? uintBitsToFloat(0xff800000u) : f; }

// Order-preserving key: a > b as floats <=> key(a) > key(b); -0 counts as +0.
uint fkey(float f) {
    f = rank_of(f);
    uint u = floatBitsToUint(f == 0.0 ? 0.0 : f);
    return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
}

uint block_sum(uint x) {
    cnt[lid] = x;
    barrier();
    for (uint k = 128u; k > 0u; k >>= 1) {
        if (lid < k) cnt[lid] += cnt[lid + k];
        barrier();
    }
    uint r = cnt[0];
    barrier();
    return r;
}

uint block_min(uint x) {
    cnt[lid] = x;
    barrier();
    for (uint k = 128u; k > 0u; k >>= 1) {
        if (lid < k) cnt[lid] = min(cnt[lid], cnt[lid + k]);
        barrier();
    }
    uint r = cnt[0];
    barrier();
    return r;
}

float block_max(float x) {
    sv[lid] = x;
    barrier();
    for (uint k = 128u; k > 0u; k >>= 1) {
        if (lid < k) sv[lid] = max(sv[lid], sv[lid + k]);
        barrier();
    }
    float r = sv[0];
    barrier();
    return r;
}

void main() {
    lid = gl_LocalInvocationID.x;
    uint row = lt_group();
    if (row >= p.B) return;
    uint base = p.l_off + row * p.V;
    const float NEG_INF = uintBitsToFloat(0xff800000u);

    if (p.temperature == 0.0) {
        float bv = NEG_INF;
        uint bi = 0xffffffffu;
        for (uint j = p.lo + lid; j < p.hi; j += 256u) {
            float v = rank_of(l[base + j]);
            if (v > bv || (v == bv && j < bi)) { bv = v; bi = j; }
        }
        sv[lid] = bv;
        si[lid] = bi;
        barrier();
        for (uint k = 128u; k > 0u; k >>= 1) {
            if (lid < k) {
                float ov = sv[lid + k];
                uint oi = si[lid + k];
                if (ov > sv[lid] || (ov == sv[lid] && oi < si[lid])) { sv[lid] = ov; si[lid] = oi; }
            }
            barrier();
        }
        if (lid == 0u) tok[p.tok_off + row] = int(si[0] == 0xffffffffu ? p.lo : si[0]);
        return;
    }

    uint ncand = p.hi - p.lo;
    uint per = (ncand + 255u) / 256u;            // this invocation's slice [c0, c1)
    uint c0 = min(p.lo + lid * per, p.hi), c1 = min(c0 + per, p.hi);
    bool limited = p.top_k > 0u && p.top_k < ncand;
    uint thr = 0u, cut = p.hi;
    if (limited) {
        for (int bit = 31; bit >= 0; bit--) {
            uint cand = thr | (1u << uint(bit));
            uint c = 0u;
            for (uint j = c0; j < c1; j++) c += fkey(l[base + j]) >= cand ? 1u : 0u;
            if (block_sum(c) >= p.top_k) thr = cand;
        }
        uint c = 0u;
        for (uint j = c0; j < c1; j++) c += fkey(l[base + j]) > thr ? 1u : 0u;
        uint need = p.top_k - block_sum(c);
        uint a = p.lo, z = p.hi - 1u;
        while (a < z) { // smallest index with `need` ties at or before it
            uint mid = (a + z) / 2u;
            uint e = 0u;
            for (uint j = c0; j < min(c1, mid + 1u); j++) e += fkey(l[base + j]) == thr ? 1u : 0u;
            if (block_sum(e) >= need) z = mid; else a = mid + 1u;
        }
        cut = a;
    }

    // Compact the kept tokens in index order: slice counts, exclusive scan, scatter.
    uint mine = 0u;
    float mx = NEG_INF;
    for (uint j = c0; j < c1; j++) {
        float v = l[base + j];
        uint kj = fkey(v);
        if (!limited || kj > thr || (kj == thr && j <= cut)) {
            mine++;
            mx = max(mx, rank_of(v));
        }
    }
    float m = block_max(mx);
    cnt[lid] = mine;
    barrier();
    if (lid == 0u) {
        uint run = 0u;
        for (uint t = 0u; t < 256u; t++) {
            uint c = cnt[t];
            cnt[t] = run;
            run += c;
        }
        si[0] = run;
    }
    barrier();
    uint nk = si[0];
    uint sbase = row * 2u * ncand; // kept indices at sbase, running sums at sbase + ncand
    uint at = cnt[lid];
    for (uint j = c0; j < c1; j++) {
        uint kj = fkey(l[base + j]);
        if (!limited || kj > thr || (kj == thr && j <= cut)) sc[sbase + at++] = j;
    }
    memoryBarrierBuffer();
    barrier();

    if (lid == 0u) {
        float total = 0.0;
        for (uint e = 0u; e < nk; e++) {
            total += exp((l[base + sc[sbase + e]] - m) / p.temperature);
            sc[sbase + ncand + e] = floatBitsToUint(total);
        }
        // The i32 sample id enters the counter as an unsigned 32-bit value (high word 0).
        int id = p.has_ids != 0u ? ids[p.ids_off + row] : int(row);
        uvec4 w = philox(uvec4(uint(id), 0u, p.step_lo, p.step_hi), p.seed_lo, p.seed_hi);
        float u = float(w.x >> 8) * (1.0 / 16777216.0);
        s_r = u * total;
    }
    memoryBarrierBuffer();
    barrier();

    // The first kept token whose running sum exceeds r (the last kept one if none does).
    float r = s_r;
    uint per_k = (nk + 255u) / 256u;
    uint e0 = min(lid * per_k, nk), e1 = min(e0 + per_k, nk);
    uint first = 0xffffffffu;
    for (uint e = e0; e < e1 && first == 0xffffffffu; e++)
        if (uintBitsToFloat(sc[sbase + ncand + e]) > r) first = e;
    first = block_min(first);
    if (lid == 0u) {
        uint e = first == 0xffffffffu ? nk - 1u : first;
        tok[p.tok_off + row] = int(sc[sbase + e]);
    }
}
