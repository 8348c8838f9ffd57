// matmul.comp - C[b] = alpha * op(A[b]) op(B[b]) (+ C[b]), batched, tiled in shared memory.
// A 16x16 work group computes a 64x64 tile of C, each invocation a 4x4 block of it
// (rows ty + 16i, columns tx + 16j). Each K step stages a 64x16 slice of op(A) and a
// 16x64 slice of op(B) in shared memory; loads walk along the stored rows whether or not
// the operand is transposed, so global reads stay contiguous. Broadcast operands have
// batch stride 0. The last dim of every operand is contiguous; row strides are free.
// Every loop but the one over K unrolls, so an invocation loops K/16 times in all.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 16, local_size_y = 16) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) buffer C { float c[]; };
layout(push_constant) uniform Push {
    uint M, N, K;
    uint a_off, a_bs, a_rs;
    uint b_off, b_bs, b_rs;
    uint c_off, c_bs, c_rs;
    uint flags; // 1 trans_a, 2 trans_b, 4 accumulate
    float alpha;
} p;

const uint BM = 64u, BN = 64u, BK = 16u;
shared float As[BK][BM]; // As[k][m] = op(A)[m0 + m][k0 + k]
shared float Bs[BK][BN]; // Bs[k][n] = op(B)[k0 + k][n0 + n]

void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint tid = ty * 16u + tx;
    uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM, batch = gl_WorkGroupID.z;
    uint abase = p.a_off + batch * p.a_bs;
    uint bbase = p.b_off + batch * p.b_bs;
    uint cbase = p.c_off + batch * p.c_bs;
    bool ta = (p.flags & 1u) != 0u, tb = (p.flags & 2u) != 0u;

    float acc[4][4];
    [[unroll]] for (int i = 0; i < 4; i++)
        [[unroll]] for (int j = 0; j < 4; j++) acc[i][j] = 0.0;

    for (uint k0 = 0u; k0 < p.K; k0 += BK) {
        [[unroll]] for (uint r = 0u; r < BM * BK / 256u; r++) {
            uint e = r * 256u + tid, m, k;
            if (ta) { m = e % BM; k = e / BM; } else { k = e % BK; m = e / BK; }
            uint gm = m0 + m, gk = k0 + k;
            float v = 0.0;
            if (gm < p.M && gk < p.K)
                v = ta ? a[abase + gk * p.a_rs + gm] : a[abase + gm * p.a_rs + gk];
            As[k][m] = v;
        }
        [[unroll]] for (uint r = 0u; r < BK * BN / 256u; r++) {
            uint e = r * 256u + tid, k, n;
            if (tb) { k = e % BK; n = e / BK; } else { n = e % BN; k = e / BN; }
            uint gk = k0 + k, gn = n0 + n;
            float v = 0.0;
            if (gk < p.K && gn < p.N)
                v = tb ? b[bbase + gn * p.b_rs + gk] : b[bbase + gk * p.b_rs + gn];
            Bs[k][n] = v;
        }
        barrier();
        [[unroll]] for (uint k = 0u; k < BK; k++) {
            float av[4], bv[4];
            [[unroll]] for (uint i = 0u; i < 4u; i++) av[i] = As[k][ty + 16u * i];
            [[unroll]] for (uint j = 0u; j < 4u; j++) bv[j] = Bs[k][tx + 16u * j];
            [[unroll]] for (uint i = 0u; i < 4u; i++)
                [[unroll]] for (uint j = 0u; j < 4u; j++) acc[i][j] += av[i] * bv[j];
        }
        barrier();
    }

    bool accumulate = (p.flags & 4u) != 0u;
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        uint m = m0 + ty + 16u * i;
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            uint n = n0 + tx + 16u * j;
            if (m < p.M && n < p.N) {
                uint idx = cbase + m * p.c_rs + n;
                float r = p.alpha * acc[i][j];
                // Without accumulate C is not read, so garbage (even NaN) in it is harmless.
                c[idx] = accumulate ? c[idx] + r : r;
            }
        }
    }
}
