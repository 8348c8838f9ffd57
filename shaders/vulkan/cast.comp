// cast.comp - dst = (dtype of dst) src between f32, f64, bf16 and f16, contiguous.
// Every conversion is integer arithmetic on the bits, reproducing the host's
// lt_f32_to_bf16 / lt_f32_to_f16 (round to nearest even, NaN kept) and C's double <->
// float conversions exactly, with no f64 or f16 shader feature. Values go src -> f32 ->
// dst, as the reference backend does.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Src { uint s[]; };
layout(std430, binding = 1) buffer Dst { uint d[]; };
layout(push_constant) uniform Push {
    uint n, soff, doff; // elements, byte offsets
    uint stype, dtype;  // lt_dtype codes: 0 f32, 1 f64, 2 bf16, 3 f16
} p;

const uint F32 = 0u, F64 = 1u, BF16 = 2u, F16 = 3u;

// (hi:lo) >> sh rounded to nearest even, for 1 <= sh <= 63.
uint rne_shift64(uint hi, uint lo, uint sh) {
    uint q = sh >= 32u ? hi >> (sh - 32u) : (hi << (32u - sh)) | (lo >> sh);
    uint rb = sh - 1u; // the rounding bit
    uint round = rb >= 32u ? (hi >> (rb - 32u)) & 1u : (lo >> rb) & 1u;
    bool sticky = rb >= 32u ? (lo != 0u || (hi & ((1u << (rb - 32u)) - 1u)) != 0u)
                            : (lo & ((1u << rb) - 1u)) != 0u;
    if (round == 1u && (sticky || (q & 1u) == 1u)) q += 1u;
    return q;
}

uint f64_to_f32(uint hi, uint lo) {
    uint sign = hi & 0x80000000u;
    uint e = (hi >> 20) & 0x7ffu;
    uint mh = hi & 0xfffffu;
    if (e == 0x7ffu) {
        if (mh != 0u || lo != 0u) return sign | 0x7fc00000u | (mh << 3) | (lo >> 29);
        return sign | 0x7f800000u;
    }
    if (e == 0u) return sign; // f64 subnormals are far below the smallest f32
    int E = int(e) - 1023;
    if (E > 127) return sign | 0x7f800000u;
    if (E >= -126) {
        // 52 -> 23 mantissa bits; a carry out of the mantissa bumps the exponent, up to Inf.
        uint q = rne_shift64(mh, lo, 29u);
        return sign + (uint(E + 127) << 23) + q;
    }
    if (E < -150) return sign;
    // Subnormal result: (2^52 + m) * 2^(E + 97) in units of 2^-149.
    return sign | rne_shift64(mh | 0x100000u, lo, uint(-E - 97));
}

uvec2 f32_to_f64(uint u) { // returns (lo, hi)
    uint sign = u & 0x80000000u;
    uint e = (u >> 23) & 0xffu;
    uint m = u & 0x7fffffu;
    if (e == 0xffu) {
        uint quiet = m != 0u ? 0x80000u : 0u; // the hardware conversion quiets NaNs
        return uvec2(m << 29, sign | 0x7ff00000u | quiet | (m >> 3));
    }
    if (e == 0u) {
        if (m == 0u) return uvec2(0u, sign);
        int top = findMSB(m);                  // value = m * 2^-149
        uint frac = m ^ (1u << uint(top));     // drop the leading 1
        uint sh = 52u - uint(top);             // place the rest in 52 mantissa bits
        uint flo = sh >= 32u ? 0u : frac << sh;
        uint fhi = sh >= 32u ? frac << (sh - 32u) : frac >> (32u - sh);
        uint ex = uint(top - 149 + 1023);
        return uvec2(flo, sign | (ex << 20) | fhi);
    }
    return uvec2(m << 29, sign | ((e + 896u) << 20) | (m >> 3));
}

uint f16_to_f32(uint h) {
    uint sign = (h & 0x8000u) << 16;
    uint e = (h >> 10) & 0x1fu;
    uint m = h & 0x3ffu;
    if (e == 0u) return sign | floatBitsToUint(float(m) * (1.0 / 16777216.0));
    if (e == 31u) return sign | 0x7f800000u | (m << 13);
    return sign | ((e + 112u) << 23) | (m << 13);
}

uint f32_to_f16(uint u) {
    uint sign = (u >> 16) & 0x8000u;
    uint a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;
    if (a >= 0x477ff000u) return sign | 0x7c00u;
    if (a < 0x38800000u) {
        // value * 2^24 rounded to nearest even = the subnormal's mantissa
        uint e = a >> 23;
        if (e < 102u) return sign;
        uint m = (a & 0x7fffffu) | 0x800000u;
        return sign | rne_shift64(0u, m, 126u - e);
    }
    uint odd = (a >> 13) & 1u;
    a += 0xc8000fffu + odd;
    return sign | (a >> 13);
}

uint f32_to_bf16(uint u) {
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
    u += 0x7fffu + ((u >> 16) & 1u);
    return u >> 16;
}

uint load_half(uint b) { return (s[b >> 2] >> ((b & 3u) * 8u)) & 0xffffu; }

void store_half(uint b, uint v) {
    uint sh = (b & 3u) * 8u;
    atomicAnd(d[b >> 2], ~(0xffffu << sh));
    atomicOr(d[b >> 2], v << sh);
}

void main() {
    uint i = lt_flat_id();
    if (i >= p.n) return;
    uint f; // the value as f32 bits
    if (p.stype == F32) f = s[(p.soff >> 2) + i];
    else if (p.stype == F64) f = f64_to_f32(s[(p.soff >> 2) + 2u * i + 1u], s[(p.soff >> 2) + 2u * i]);
    else if (p.stype == BF16) f = load_half(p.soff + 2u * i) << 16;
    else f = f16_to_f32(load_half(p.soff + 2u * i));

    if (p.dtype == F32) d[(p.doff >> 2) + i] = f;
    else if (p.dtype == F64) {
        uvec2 w = f32_to_f64(f);
        d[(p.doff >> 2) + 2u * i] = w.x;
        d[(p.doff >> 2) + 2u * i + 1u] = w.y;
    } else if (p.dtype == BF16) store_half(p.doff + 2u * i, f32_to_bf16(f));
    else store_half(p.doff + 2u * i, f32_to_f16(f));
}
