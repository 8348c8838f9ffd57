/* backends/opencl/attention.c - tiled attention forward/backward, KV-cache decode and the
 * cache write (shaders/opencl/attention.cl).
 *
 * The program is built once per head dim (LT_DH sizes the private q/accumulator rows) and
 * tile height LT_BT, chosen so the two local-memory tiles of the backward kernel fit the
 * device's local memory. */
#include <stdio.h>

#include "ocl_common.h"

#define LT_OCL_MAX_HEAD_DIM 256

static lt_status attn_options(lt_device *dev, const char *op, int64_t dh, char *out, size_t n,
                              int *bt) {
    lt_ocl_device *d = lt_ocl_dev(dev);
    if (dh < 1 || dh > LT_OCL_MAX_HEAD_DIM)
        return lt_error(LT_ERR_UNSUPPORTED, "%s: backend opencl supports head dims 1..%d, got %lld",
                        op, LT_OCL_MAX_HEAD_DIM, (long long)dh);
    int t = 64;
    while (t > 1 && ((size_t)t > d->max_wg ||
                     2 * (size_t)t * (size_t)dh * sizeof(float) + 2 * (size_t)t * sizeof(float) + 1024 > d->local_mem))
        t /= 2;
    *bt = t;
    snprintf(out, n, "-DLT_DH=%d -DLT_BT=%d", (int)dh, t);
    return LT_OK;
}

#define STRIDES(t) LT_OCL_LONG4((t)->stride[0], (t)->stride[1], (t)->stride[2], (t)->stride[3])
#define VIEW(t) LT_OCL_MEM(t), LT_OCL_OFF(t), STRIDES(t)

static int checked_int(int64_t v) { return v > INT32_MAX ? -1 : (int)v; }

static lt_status dims_fit(const char *op, int64_t B, int64_t T, int64_t H) {
    if (checked_int(T) < 0 || checked_int(B * H) < 0)
        return lt_error(LT_ERR_UNSUPPORTED, "%s: backend opencl needs T and B*H below 2^31", op);
    return LT_OK;
}

lt_status lt_ocl_attn_fwd(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *q = call->src[0], *k = call->src[1], *v = call->src[2], *len = call->src[3];
    lt_tensor *out = call->dst[0], *lse = call->dst[1];
    int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2], Dh = q->shape[3];
    if (B * T * H == 0) return LT_OK;
    LT_TRY(dims_fit("attn_fwd", B, T, H));
    char opts[64];
    int bt = 1;
    LT_TRY(attn_options(dev, "attn_fwd", Dh, opts, sizeof opts, &bt));
    size_t global[2] = {(size_t)T, (size_t)(B * H)}, local[2] = {(size_t)bt, 1};
    return lt_ocl_run(dev, "attention", opts, "attn_fwd", 2, global, local,
                      LT_OCL_ARGS(VIEW(q), VIEW(k), VIEW(v), VIEW(out), LT_OCL_MEM(lse),
                                  LT_OCL_OFF(lse), LT_OCL_MEM(len), LT_OCL_OFF(len),
                                  LT_OCL_INT(len != NULL), LT_OCL_INT(T), LT_OCL_INT(H),
                                  LT_OCL_INT(call->p.attn.causal),
                                  LT_OCL_FLOAT(call->p.attn.scale)));
}

lt_status lt_ocl_attn_bwd(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *dout = call->src[0], *q = call->src[1], *k = call->src[2],
                    *v = call->src[3], *out = call->src[4], *lse = call->src[5],
                    *len = call->src[6];
    lt_tensor *dq = call->dst[0], *dk = call->dst[1], *dv = call->dst[2];
    int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2], Dh = q->shape[3];
    if (B * T * H == 0) return LT_OK;
    LT_TRY(dims_fit("attn_bwd", B, T, H));
    char opts[64];
    int bt = 1;
    LT_TRY(attn_options(dev, "attn_bwd", Dh, opts, sizeof opts, &bt));
    cl_mem delta;
    LT_TRY(lt_ocl_scratch(dev, (size_t)(B * H * T) * sizeof(float), &delta));
    int causal = call->p.attn.causal;
    float scale = call->p.attn.scale;

    size_t gd[2] = {(size_t)T, (size_t)(B * H)};
    LT_TRY(lt_ocl_run(dev, "attention", opts, "attn_bwd_delta", 2, gd, NULL,
                      LT_OCL_ARGS(LT_OCL_CLMEM(delta), VIEW(dout), VIEW(out), LT_OCL_MEM(len),
                                  LT_OCL_OFF(len), LT_OCL_INT(len != NULL), LT_OCL_INT(T),
                                  LT_OCL_INT(H))));
    size_t global[2] = {(size_t)T, (size_t)(B * H)}, local[2] = {(size_t)bt, 1};
    LT_TRY(lt_ocl_run(dev, "attention", opts, "attn_bwd_dkdv", 2, global, local,
                      LT_OCL_ARGS(VIEW(dk), VIEW(dv), VIEW(q), VIEW(k), VIEW(v), VIEW(dout),
                                  LT_OCL_MEM(lse), LT_OCL_OFF(lse), LT_OCL_CLMEM(delta),
                                  LT_OCL_MEM(len), LT_OCL_OFF(len), LT_OCL_INT(len != NULL),
                                  LT_OCL_INT(T), LT_OCL_INT(H), LT_OCL_INT(causal),
                                  LT_OCL_FLOAT(scale))));
    return lt_ocl_run(dev, "attention", opts, "attn_bwd_dq", 2, global, local,
                      LT_OCL_ARGS(VIEW(dq), VIEW(q), VIEW(k), VIEW(v), VIEW(dout),
                                  LT_OCL_MEM(lse), LT_OCL_OFF(lse), LT_OCL_CLMEM(delta),
                                  LT_OCL_MEM(len), LT_OCL_OFF(len), LT_OCL_INT(len != NULL),
                                  LT_OCL_INT(T), LT_OCL_INT(H), LT_OCL_INT(causal),
                                  LT_OCL_FLOAT(scale)));
}

lt_status lt_ocl_attn_decode(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *q = call->src[0], *kc = call->src[1], *vc = call->src[2],
                    *len = call->src[3];
    lt_tensor *out = call->dst[0];
    int64_t B = q->shape[0], Tq = q->shape[1], H = q->shape[2], Dh = q->shape[3];
    int64_t Tmax = kc->shape[1];
    if (B * Tq * H == 0) return LT_OK;
    LT_TRY(dims_fit("attn_decode", B, Tmax, H));
    int64_t bad;
    LT_TRY(lt_ocl_check_ids(dev, len, B, (int32_t)Tq, (int32_t)(Tmax + 1), &bad));
    if (bad >= 0)
        return lt_error(LT_ERR_RANGE, "attn_decode: lengths[%lld] = %d is outside [%lld, %lld] (Tq, Tmax)",
                        (long long)bad, (int)lt_ocl_read_i32(dev, len, bad), (long long)Tq,
                        (long long)Tmax);
    char opts[64];
    int bt = 1;
    LT_TRY(attn_options(dev, "attn_decode", Dh, opts, sizeof opts, &bt));
    size_t wg = (size_t)lt_ocl_dev(dev)->wg;
    size_t global[3] = {wg, (size_t)Tq, (size_t)(B * H)}, local[3] = {wg, 1, 1};
    return lt_ocl_run(dev, "attention", opts, "attn_decode", 3, global, local,
                      LT_OCL_ARGS(VIEW(out), VIEW(q), LT_OCL_MEM(kc), LT_OCL_OFF(kc),
                                  LT_OCL_MEM(vc), LT_OCL_OFF(vc), LT_OCL_MEM(len),
                                  LT_OCL_OFF(len), LT_OCL_INT(Tq), LT_OCL_INT(Tmax),
                                  LT_OCL_INT(H), LT_OCL_FLOAT(call->p.attn.scale)));
}

lt_status lt_ocl_kv_write(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *x = call->src[0], *pos = call->src[1];
    lt_tensor *cache = call->dst[0];
    int64_t B = x->shape[0], Tn = x->shape[1], H = x->shape[2], Dh = x->shape[3];
    int64_t Tmax = cache->shape[1];
    if (B == 0) return LT_OK;
    LT_TRY(dims_fit("kv_write", B, Tmax, H));
    int64_t bad;
    int64_t hi = Tmax - Tn + 1; /* pos[b] + Tn <= Tmax */
    LT_TRY(lt_ocl_check_ids(dev, pos, B, 0, (int32_t)(hi < 0 ? 0 : hi), &bad));
    if (bad >= 0)
        return lt_error(LT_ERR_RANGE, "kv_write: pos[%lld] = %d with %lld new tokens does not fit the cache of %lld",
                        (long long)bad, (int)lt_ocl_read_i32(dev, pos, bad), (long long)Tn,
                        (long long)Tmax);
    if (Tn * H * Dh == 0) return LT_OK;
    char opts[64];
    int bt = 1;
    LT_TRY(attn_options(dev, "kv_write", Dh, opts, sizeof opts, &bt));
    size_t global[3] = {(size_t)Dh, (size_t)(Tn * H), (size_t)B};
    return lt_ocl_run(dev, "attention", opts, "kv_write", 3, global, NULL,
                      LT_OCL_ARGS(LT_OCL_MEM(cache), LT_OCL_OFF(cache), VIEW(x), LT_OCL_MEM(pos),
                                  LT_OCL_OFF(pos), LT_OCL_INT(Tn), LT_OCL_INT(Tmax),
                                  LT_OCL_INT(H)));
}
