/* backends/vulkan/attention.c - tiled attention forward/backward, KV-cache decoding and
 * cache writes (attn_fwd.comp, attn_bwd_*.comp, kv_write.comp).
 *
 * q/k/v/out may be strided views (e.g. into a fused [B, T, 3*H*Dh] projection): every
 * tensor is passed as its element offset plus batch/time/head strides, with a
 * contiguous last dim. The backward pass runs three dispatches: D = rowsum(dout*out)
 * into scratch, then dq (one invocation per query) and dk/dv (one per key), each output
 * row owned by one invocation, so the result is deterministic without atomics.
 * bf16/f16 q/k/v of the forward and backward (out and gradients half or f32) run on the
 * same f32 shaders through f32 scratch (core/op_f32_staging.c). */
#include <stdio.h>
#include <string.h>

#include "op_f32_staging.h"
#include "vk_internal.h"

#define LT_VK_ATTN_DMAX 128 /* the shaders keep a row of q / k / v per invocation */

/* The shader variant whose compile-time head-dim bound (32, 64, 128) fits dh. */
static lt_vk_shader lt_vk_attn_shader(int64_t dh, lt_vk_shader dh32, lt_vk_shader dh64,
                                      lt_vk_shader dh128) {
    return dh <= 32 ? dh32 : dh <= 64 ? dh64 : dh128;
}

typedef struct lt_vk_view4 {
    uint32_t off, sb, st, sh;
} lt_vk_view4;

/* Binds a [B, T, H, Dh] tensor and returns its offset/strides in elements; a dim of size
 * 1 gets stride 0 (its stride is arbitrary and may not fit 32 bits). */
static lt_vk_view4 lt_vk_view(lt_vk_pass *p, const lt_tensor *t, int access) {
    lt_vk_view4 v;
    v.off = lt_vk_arg(p, t, access) / 4;
    v.sb = t->shape[0] > 1 ? (uint32_t)t->stride[0] : 0u;
    v.st = t->shape[1] > 1 ? (uint32_t)t->stride[1] : 0u;
    v.sh = t->shape[2] > 1 ? (uint32_t)t->stride[2] : 0u;
    return v;
}

static lt_status lt_vk_attn_dims(const lt_op_call *call, const lt_tensor *q) {
    LT_TRY(lt_vk_need_f32(call, q, "q"));
    if (q->shape[3] > LT_VK_ATTN_DMAX)
        return lt_error(LT_ERR_UNSUPPORTED, "%s: head dim %lld exceeds the vulkan kernels' %d",
                        lt_op_name(call->op), (long long)q->shape[3], LT_VK_ATTN_DMAX);
    return LT_OK;
}

typedef struct lt_vk_attn_push {
    uint32_t B, Tq, Tk, H, Dh;
    lt_vk_view4 q, k, v, o;
    uint32_t lse_off, len_off, flags;
    float scale;
} lt_vk_attn_push;
_Static_assert(sizeof(lt_vk_attn_push) <= LT_VK_PUSH_WORDS * 4, "push constants overflow");

enum { LT_VK_CAUSAL = 1, LT_VK_HAS_LEN = 2, LT_VK_DECODE = 4, LT_VK_WRITE_LSE = 8 };

static lt_status lt_vk_attn_run(lt_device *dev, const lt_tensor *q, const lt_tensor *k,
                                const lt_tensor *v, const lt_tensor *lengths, lt_tensor *out,
                                lt_tensor *lse, uint32_t flags, float scale, const char *what,
                                const char *why) {
    int64_t B = q->shape[0], Tq = q->shape[1], H = q->shape[2], Dh = q->shape[3];
    int64_t Tk = k->shape[1];
    if (B == 0 || Tq == 0 || H == 0) return LT_OK;
    lt_vk_attn_push pc;
    memset(&pc, 0, sizeof pc);
    pc.B = (uint32_t)B;
    pc.Tq = (uint32_t)Tq;
    pc.Tk = (uint32_t)Tk;
    pc.H = (uint32_t)H;
    pc.Dh = (uint32_t)Dh;
    pc.flags = flags | (lengths ? LT_VK_HAS_LEN : 0u);
    pc.scale = scale;
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, lt_vk_attn_shader(Dh, LT_VK_SHADER_ATTN_FWD_DH32,
                                                 LT_VK_SHADER_ATTN_FWD_DH64,
                                                 LT_VK_SHADER_ATTN_FWD_DH128));
    pc.q = lt_vk_view(&p, q, LT_VK_READ);
    pc.k = lt_vk_view(&p, k, LT_VK_READ);
    pc.v = lt_vk_view(&p, v, LT_VK_READ);
    pc.len_off = lt_vk_arg(&p, lengths, LT_VK_READ) / 4;
    pc.o = lt_vk_view(&p, out, LT_VK_WRITE);
    /* Decoding writes no lse: its binding gets `out` (never written through it). */
    pc.lse_off = lt_vk_arg(&p, lse ? lse : out, LT_VK_WRITE) / 4;
    lt_vk_pass_errors(&p, what, "sample", why);
    memcpy(p.push, &pc, sizeof pc);
    p.groups[0] = (uint32_t)lt_vk_div_up((uint64_t)Tq, 64);
    p.groups[1] = (uint32_t)H;
    p.groups[2] = (uint32_t)B;
    return lt_vk_pass_run(&p);
}

lt_status lt_vk_attn_fwd(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *q = call->src[0];
    if (lt_op_has_half(call)) return lt_op_run_staged_f32(dev, call, NULL);
    LT_TRY(lt_vk_attn_dims(call, q));
    char why[64];
    snprintf(why, sizeof why, "is outside [0, %lld]", (long long)q->shape[1]);
    return lt_vk_attn_run(dev, q, call->src[1], call->src[2], call->src[3], call->dst[0],
                          call->dst[1], (call->p.attn.causal ? LT_VK_CAUSAL : 0u) | LT_VK_WRITE_LSE,
                          call->p.attn.scale, "attn_fwd: length", why);
}

lt_status lt_vk_attn_decode(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *q = call->src[0], *kc = call->src[1];
    LT_TRY(lt_vk_attn_dims(call, q));
    char why[96];
    snprintf(why, sizeof why, "is outside [%lld, %lld] (new tokens, cache length)",
             (long long)q->shape[1], (long long)kc->shape[1]);
    return lt_vk_attn_run(dev, q, kc, call->src[2], call->src[3], call->dst[0], NULL,
                          LT_VK_CAUSAL | LT_VK_DECODE, call->p.attn.scale,
                          "attn_decode: length", why);
}

lt_status lt_vk_attn_bwd(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *dout = call->src[0], *q = call->src[1], *k = call->src[2], *v = call->src[3];
    const lt_tensor *out = call->src[4], *lse = call->src[5], *lengths = call->src[6];
    lt_tensor *dq = call->dst[0], *dk = call->dst[1], *dv = call->dst[2];
    if (lt_op_has_half(call)) return lt_op_run_staged_f32(dev, call, NULL);
    LT_TRY(lt_vk_attn_dims(call, q));
    int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2], Dh = q->shape[3];
    if (B == 0 || T == 0 || H == 0) return LT_OK;
    LT_TRY(lt_vk_check_u32("attn_bwd", "B*H*T", B * H * T));
    uint32_t flags = (call->p.attn.causal ? LT_VK_CAUSAL : 0u) | (lengths ? LT_VK_HAS_LEN : 0u);
    lt_vk_mem *dbuf;
    LT_TRY(lt_vk_scratch(dev, (VkDeviceSize)(B * H * T) * 4, &dbuf));
    lt_status s;
    lt_vk_pass p;

    struct {
        uint32_t B, T, H, Dh;
        lt_vk_view4 g, o;
        uint32_t len_off, flags;
    } pre = {(uint32_t)B, (uint32_t)T, (uint32_t)H, (uint32_t)Dh, {0}, {0}, 0, flags};
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_ATTN_BWD_PRE);
    pre.g = lt_vk_view(&p, dout, LT_VK_READ);
    pre.o = lt_vk_view(&p, out, LT_VK_READ);
    pre.len_off = lt_vk_arg(&p, lengths, LT_VK_READ) / 4;
    lt_vk_arg_mem(&p, dbuf, LT_VK_WRITE);
    memcpy(p.push, &pre, sizeof pre);
    lt_vk_grid(&p, lt_vk_div_up((uint64_t)(B * H * T), 64));
    s = lt_vk_pass_run(&p);

    struct {
        uint32_t B, T, H, Dh;
        lt_vk_view4 q, k, v, g, dq;
        uint32_t lse_off, len_off, flags;
        float scale;
    } pq;
    memset(&pq, 0, sizeof pq);
    pq.B = (uint32_t)B;
    pq.T = (uint32_t)T;
    pq.H = (uint32_t)H;
    pq.Dh = (uint32_t)Dh;
    pq.flags = flags;
    pq.scale = call->p.attn.scale;
    _Static_assert(sizeof pq <= LT_VK_PUSH_WORDS * 4, "push constants overflow");
    if (s == LT_OK) {
        lt_vk_pass_begin(&p, dev, lt_vk_attn_shader(Dh, LT_VK_SHADER_ATTN_BWD_DQ_DH32,
                                                     LT_VK_SHADER_ATTN_BWD_DQ_DH64,
                                                     LT_VK_SHADER_ATTN_BWD_DQ_DH128));
        pq.q = lt_vk_view(&p, q, LT_VK_READ);
        pq.k = lt_vk_view(&p, k, LT_VK_READ);
        pq.v = lt_vk_view(&p, v, LT_VK_READ);
        pq.g = lt_vk_view(&p, dout, LT_VK_READ);
        pq.lse_off = lt_vk_arg(&p, lse, LT_VK_READ) / 4;
        lt_vk_arg_mem(&p, dbuf, LT_VK_READ);
        pq.len_off = lt_vk_arg(&p, lengths, LT_VK_READ) / 4;
        pq.dq = lt_vk_view(&p, dq, LT_VK_WRITE);
        char why[64];
        snprintf(why, sizeof why, "is outside [0, %lld]", (long long)T);
        lt_vk_pass_errors(&p, "attn_bwd: length", "sample", why);
        memcpy(p.push, &pq, sizeof pq);
        p.groups[0] = (uint32_t)lt_vk_div_up((uint64_t)T, 64);
        p.groups[1] = (uint32_t)H;
        p.groups[2] = (uint32_t)B;
        s = lt_vk_pass_run(&p);
    }

    struct {
        uint32_t B, T, H, Dh;
        lt_vk_view4 q, k, v, g, dk, dv;
        uint32_t lse_off, len_off, flags;
        float scale;
    } pk;
    memset(&pk, 0, sizeof pk);
    pk.B = (uint32_t)B;
    pk.T = (uint32_t)T;
    pk.H = (uint32_t)H;
    pk.Dh = (uint32_t)Dh;
    pk.flags = flags;
    pk.scale = call->p.attn.scale;
    _Static_assert(sizeof pk <= LT_VK_PUSH_WORDS * 4, "push constants overflow");
    if (s == LT_OK) {
        lt_vk_pass_begin(&p, dev, lt_vk_attn_shader(Dh, LT_VK_SHADER_ATTN_BWD_DKDV_DH32,
                                                     LT_VK_SHADER_ATTN_BWD_DKDV_DH64,
                                                     LT_VK_SHADER_ATTN_BWD_DKDV_DH128));
        pk.q = lt_vk_view(&p, q, LT_VK_READ);
        pk.k = lt_vk_view(&p, k, LT_VK_READ);
        pk.v = lt_vk_view(&p, v, LT_VK_READ);
        pk.g = lt_vk_view(&p, dout, LT_VK_READ);
        pk.lse_off = lt_vk_arg(&p, lse, LT_VK_READ) / 4;
        lt_vk_arg_mem(&p, dbuf, LT_VK_READ);
        pk.len_off = lt_vk_arg(&p, lengths, LT_VK_READ) / 4;
        pk.dk = lt_vk_view(&p, dk, LT_VK_WRITE);
        pk.dv = lt_vk_view(&p, dv, LT_VK_WRITE);
        memcpy(p.push, &pk, sizeof pk);
        p.groups[0] = (uint32_t)lt_vk_div_up((uint64_t)T, 64);
        p.groups[1] = (uint32_t)H;
        p.groups[2] = (uint32_t)B;
        s = lt_vk_pass_run(&p);
    }
    lt_vk_mem_release(lt_vk(dev), dbuf);
    return s;
}

lt_status lt_vk_kv_write(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *x = call->src[0], *pos = call->src[1];
    lt_tensor *cache = call->dst[0];
    LT_TRY(lt_vk_need_f32(call, x, "x"));
    int64_t B = x->shape[0], Tn = x->shape[1], H = x->shape[2], Dh = x->shape[3];
    int64_t n = B * Tn * H * Dh;
    if (n == 0) return LT_OK;
    LT_TRY(lt_vk_check_u32("kv_write", "elements", n));
    struct {
        uint32_t B, Tn, H, Dh, Tmax;
        lt_vk_view4 x;
        uint32_t pos_off, c_off;
    } pc = {(uint32_t)B, (uint32_t)Tn, (uint32_t)H, (uint32_t)Dh, (uint32_t)cache->shape[1],
            {0}, 0, 0};
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_KV_WRITE);
    pc.x = lt_vk_view(&p, x, LT_VK_READ);
    pc.pos_off = lt_vk_arg(&p, pos, LT_VK_READ) / 4;
    pc.c_off = lt_vk_arg(&p, cache, LT_VK_WRITE) / 4;
    char why[96];
    snprintf(why, sizeof why, "leaves no room for %lld new tokens in a cache of %lld",
             (long long)Tn, (long long)cache->shape[1]);
    lt_vk_pass_errors(&p, "kv_write: pos", "sample", why);
    memcpy(p.push, &pc, sizeof pc);
    lt_vk_grid(&p, lt_vk_div_up((uint64_t)n, 256));
    return lt_vk_pass_run(&p);
}
