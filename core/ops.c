/* core/ops.c - op names, dispatch, and the argument checks of every public op wrapper.
 *
 * Every check names the op and the argument at fault, so a user reading
 * "rmsnorm_fwd: w is f32[300], expected [512] (last dim of x)" knows what to fix. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "loretta/backend.h"
#include "profile_internal.h"

static const char *const lt_op_names[LT_OP_COUNT] = {
    [LT_OP_FILL] = "fill",
    [LT_OP_COPY] = "copy",
    [LT_OP_CAST] = "cast",
    [LT_OP_MATMUL] = "matmul",
    [LT_OP_EMBED_FWD] = "embed_fwd",
    [LT_OP_EMBED_BWD] = "embed_bwd",
    [LT_OP_POS_EMBED_FWD] = "pos_embed_fwd",
    [LT_OP_RMSNORM_FWD] = "rmsnorm_fwd",
    [LT_OP_RMSNORM_BWD] = "rmsnorm_bwd",
    [LT_OP_GELU_FWD] = "gelu_fwd",
    [LT_OP_GELU_BWD] = "gelu_bwd",
    [LT_OP_ADD] = "add",
    [LT_OP_SCALE] = "scale",
    [LT_OP_AXPY] = "axpy",
    [LT_OP_CROSS_ENTROPY] = "cross_entropy",
    [LT_OP_ATTN_FWD] = "attn_fwd",
    [LT_OP_ATTN_BWD] = "attn_bwd",
    [LT_OP_ATTN_DECODE] = "attn_decode",
    [LT_OP_KV_WRITE] = "kv_write",
    [LT_OP_ADAMW] = "adamw",
    [LT_OP_SUMSQ] = "sumsq",
    [LT_OP_SAMPLE] = "sample",
};
_Static_assert(LT_OP_COUNT == 22, "a new op needs a name here, a check below and an entry in "
                                  "every backend's table");

const char *lt_op_name(lt_op op) {
    return (unsigned)op < LT_OP_COUNT && lt_op_names[op] ? lt_op_names[op] : "?";
}

lt_status lt_op_parse(const char *name, lt_op *out) {
    for (int i = 0; i < LT_OP_COUNT; i++)
        if (name && strcmp(name, lt_op_names[i]) == 0) {
            *out = (lt_op)i;
            return LT_OK;
        }
    return lt_error(LT_ERR_INVALID_ARG, "unknown op '%s'", name ? name : "(null)");
}

lt_status lt_op_dispatch(lt_device *dev, const lt_op_call *call) {
    if (!dev || !call) return lt_error(LT_ERR_INVALID_ARG, "dispatch: NULL argument");
    if ((unsigned)call->op >= LT_OP_COUNT)
        return lt_error(LT_ERR_INVALID_ARG, "dispatch: op %d does not exist", (int)call->op);
    lt_op_fn fn = dev->backend->ops[call->op];
    if (!fn)
        return lt_error(LT_ERR_UNSUPPORTED, "%s is not implemented by backend %s",
                        lt_op_name(call->op), dev->backend->name);
    if (lt_profile_on) return lt_profile_dispatch(dev, call, fn);
    return fn(dev, call);
}

/* ---------------------------------------------------------------- checks ---- */

typedef struct check_ctx {
    const char *op;
    lt_device *dev;
} check_ctx;

static lt_status need(check_ctx *c, const lt_tensor *t, const char *arg) {
    if (!t) return lt_error(LT_ERR_INVALID_ARG, "%s: %s is NULL", c->op, arg);
    if (!t->buf) return lt_error(LT_ERR_INVALID_ARG, "%s: %s has no buffer", c->op, arg);
    if (!c->dev) c->dev = t->buf->dev;
    else if (t->buf->dev != c->dev)
        return lt_error(LT_ERR_DEVICE, "%s: %s is on %s device %d, other arguments on %s device %d",
                        c->op, arg, t->buf->dev->backend->name, t->buf->dev->index,
                        c->dev->backend->name, c->dev->index);
    size_t span = lt_tensor_span_bytes(t);
    if (t->offset > t->buf->bytes || span > t->buf->bytes - t->offset)
        return lt_error(LT_ERR_SHAPE, "%s: %s reaches past the end of its buffer", c->op, arg);
    return LT_OK;
}

static lt_status dtype_is(check_ctx *c, const lt_tensor *t, const char *arg, lt_dtype want) {
    if (t->dtype != want)
        return lt_error(LT_ERR_DTYPE, "%s: %s is %s, expected %s", c->op, arg,
                        lt_dtype_name(t->dtype), lt_dtype_name(want));
    return LT_OK;
}

static int is_float(lt_dtype t) { return t == LT_F32 || t == LT_F64 || t == LT_BF16 || t == LT_F16; }

static lt_status floating(check_ctx *c, const lt_tensor *t, const char *arg) {
    if (!is_float(t->dtype))
        return lt_error(LT_ERR_DTYPE, "%s: %s is %s, expected a floating dtype", c->op, arg,
                        lt_dtype_name(t->dtype));
    return LT_OK;
}

static lt_status same_dtype(check_ctx *c, const lt_tensor *t, const char *arg,
                            const lt_tensor *ref, const char *ref_arg) {
    if (t->dtype != ref->dtype)
        return lt_error(LT_ERR_DTYPE, "%s: %s is %s but %s is %s", c->op, arg,
                        lt_dtype_name(t->dtype), ref_arg, lt_dtype_name(ref->dtype));
    return LT_OK;
}

static int is_half(lt_dtype t) { return t == LT_BF16 || t == LT_F16; }

/* The mixed-precision rule of matmul and attention results: the operands' dtype, or f32
 * when the operands are bf16/f16 (f32 accumulation kept as the f32 result). */
static lt_status dtype_or_f32(check_ctx *c, const lt_tensor *t, const char *arg,
                              const lt_tensor *ref, const char *ref_arg) {
    if (t->dtype == ref->dtype || (t->dtype == LT_F32 && is_half(ref->dtype))) return LT_OK;
    return lt_error(LT_ERR_DTYPE, "%s: %s is %s but %s is %s (expected %s%s)", c->op, arg,
                    lt_dtype_name(t->dtype), ref_arg, lt_dtype_name(ref->dtype),
                    lt_dtype_name(ref->dtype), is_half(ref->dtype) ? " or f32" : "");
}

static lt_status contiguous(check_ctx *c, const lt_tensor *t, const char *arg) {
    if (!lt_tensor_is_contiguous(t))
        return lt_error(LT_ERR_SHAPE, "%s: %s must be contiguous", c->op, arg);
    return LT_OK;
}

static lt_status rank_is(check_ctx *c, const lt_tensor *t, const char *arg, int ndim) {
    if (t->ndim != ndim) {
        char s[96];
        return lt_error(LT_ERR_SHAPE, "%s: %s is %s, expected %d dims", c->op, arg,
                        lt_tensor_str(t, s, sizeof s), ndim);
    }
    return LT_OK;
}

static lt_status same_shape(check_ctx *c, const lt_tensor *t, const char *arg,
                            const lt_tensor *ref, const char *ref_arg) {
    int ok = t->ndim == ref->ndim;
    for (int i = 0; ok && i < t->ndim; i++) ok = t->shape[i] == ref->shape[i];
    if (!ok) {
        char a[96], b[96];
        return lt_error(LT_ERR_SHAPE, "%s: %s is %s but %s is %s", c->op, arg,
                        lt_tensor_str(t, a, sizeof a), ref_arg, lt_tensor_str(ref, b, sizeof b));
    }
    return LT_OK;
}

static int64_t last_dim(const lt_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }
static int64_t rows(const lt_tensor *t) {
    int64_t d = last_dim(t);
    return d ? lt_tensor_numel(t) / d : 0;
}

static lt_status dim_is(check_ctx *c, const lt_tensor *t, const char *arg, int dim, int64_t want,
                        const char *why) {
    if (t->ndim <= dim || t->shape[dim] != want) {
        char s[96];
        return lt_error(LT_ERR_SHAPE, "%s: %s is %s, expected dim %d = %lld (%s)", c->op, arg,
                        lt_tensor_str(t, s, sizeof s), dim, (long long)want, why);
    }
    return LT_OK;
}

static lt_status last_contiguous(check_ctx *c, const lt_tensor *t, const char *arg) {
    if (t->ndim && t->stride[t->ndim - 1] != 1 && t->shape[t->ndim - 1] != 1)
        return lt_error(LT_ERR_SHAPE, "%s: %s must have a contiguous last dim (stride %lld)",
                        c->op, arg, (long long)t->stride[t->ndim - 1]);
    return LT_OK;
}

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Two views with equal shape and strides that interleave without sharing an element,
 * like the q, k and v (or dq, dk, dv) thirds of fused [B*T, 3d] rows. Each view is a
 * lattice of dense blocks (its contiguous inner dims) at multiples of g, the gcd of the
 * outer strides; the blocks of b sit `delta` elements after those of a, so they are
 * disjoint when delta mod g keeps a block length away from every multiple of g. */
static int interleaved_disjoint(const lt_tensor *a, const lt_tensor *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i] || a->stride[i] != b->stride[i]) return 0;
    const int64_t esz = (int64_t)lt_dtype_size(a->dtype);
    int64_t delta = (int64_t)b->offset - (int64_t)a->offset;
    if (delta < 0) delta = -delta;
    if (delta % esz) return 0;
    delta /= esz;
    int64_t block = 1;
    int i = a->ndim - 1;
    for (; i >= 0 && (a->stride[i] == block || a->shape[i] == 1); i--) block *= a->shape[i];
    int64_t g = 0;
    for (int j = 0; j <= i; j++)
        if (a->shape[j] > 1) g = gcd64(g, a->stride[j]);
    if (g == 0) return delta >= block;
    const int64_t r = delta % g;
    return r >= block && g - r >= block;
}

/* Outputs may not overlap inputs unless the op says so (in-place ops are checked apart). */
static int overlaps(const lt_tensor *a, const lt_tensor *b) {
    if (!a || !b || a->buf != b->buf) return 0;
    size_t a0 = a->offset, a1 = a->offset + lt_tensor_span_bytes(a);
    size_t b0 = b->offset, b1 = b->offset + lt_tensor_span_bytes(b);
    return a0 < b1 && b0 < a1 && !interleaved_disjoint(a, b);
}

static lt_status no_alias(check_ctx *c, const lt_tensor *out, const char *out_arg,
                          const lt_tensor *in, const char *in_arg) {
    if (overlaps(out, in))
        return lt_error(LT_ERR_INVALID_ARG, "%s: output %s overlaps input %s", c->op, out_arg,
                        in_arg);
    return LT_OK;
}

static lt_status run(check_ctx *c, lt_op_call *call) { return lt_op_dispatch(c->dev, call); }

#define CALL(opname) \
    lt_op_call call; \
    memset(&call, 0, sizeof call); \
    call.op = (opname); \
    check_ctx cx = {lt_op_name(opname), NULL}; \
    check_ctx *c = &cx

/* ---------------------------------------------------------------- wrappers ---- */

lt_status lt_fill(lt_tensor *dst, double value) {
    CALL(LT_OP_FILL);
    LT_TRY(need(c, dst, "dst"));
    LT_TRY(contiguous(c, dst, "dst"));
    call.dst[0] = dst;
    call.p.fill.value = value;
    return run(c, &call);
}

lt_status lt_copy(lt_tensor *dst, const lt_tensor *src) {
    CALL(LT_OP_COPY);
    LT_TRY(need(c, src, "src"));
    LT_TRY(need(c, dst, "dst"));
    LT_TRY(same_dtype(c, dst, "dst", src, "src"));
    LT_TRY(same_shape(c, dst, "dst", src, "src"));
    LT_TRY(no_alias(c, dst, "dst", src, "src"));
    call.src[0] = src;
    call.dst[0] = dst;
    return run(c, &call);
}

lt_status lt_cast(lt_tensor *dst, const lt_tensor *src) {
    CALL(LT_OP_CAST);
    LT_TRY(need(c, src, "src"));
    LT_TRY(need(c, dst, "dst"));
    LT_TRY(floating(c, src, "src"));
    LT_TRY(floating(c, dst, "dst"));
    LT_TRY(contiguous(c, src, "src"));
    LT_TRY(contiguous(c, dst, "dst"));
    if (lt_tensor_numel(src) != lt_tensor_numel(dst))
        return lt_error(LT_ERR_SHAPE, "cast: src has %lld elements, dst %lld",
                        (long long)lt_tensor_numel(src), (long long)lt_tensor_numel(dst));
    LT_TRY(no_alias(c, dst, "dst", src, "src"));
    call.src[0] = src;
    call.dst[0] = dst;
    return run(c, &call);
}

static int64_t batch_of(const lt_tensor *t) { return t->ndim == 3 ? t->shape[0] : 1; }

lt_status lt_matmul(lt_tensor *cm, const lt_tensor *a, const lt_tensor *b, int trans_a,
                    int trans_b, float alpha, int accumulate) {
    CALL(LT_OP_MATMUL);
    LT_TRY(need(c, a, "a"));
    LT_TRY(need(c, b, "b"));
    LT_TRY(need(c, cm, "c"));
    LT_TRY(floating(c, a, "a"));
    LT_TRY(same_dtype(c, b, "b", a, "a"));
    LT_TRY(dtype_or_f32(c, cm, "c", a, "a"));
    const lt_tensor *ts[3] = {a, b, cm};
    const char *names[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        if (ts[i]->ndim != 2 && ts[i]->ndim != 3) {
            char s[96];
            return lt_error(LT_ERR_SHAPE, "matmul: %s is %s, expected 2 or 3 dims", names[i],
                            lt_tensor_str(ts[i], s, sizeof s));
        }
        LT_TRY(last_contiguous(c, ts[i], names[i]));
        int r = ts[i]->ndim - 2;
        if (ts[i]->stride[r] < ts[i]->shape[r + 1])
            return lt_error(LT_ERR_SHAPE, "matmul: %s row stride %lld is shorter than its rows (%lld)",
                            names[i], (long long)ts[i]->stride[r], (long long)ts[i]->shape[r + 1]);
    }
    int ra = a->ndim - 2, rb = b->ndim - 2, rc = cm->ndim - 2;
    int64_t M = trans_a ? a->shape[ra + 1] : a->shape[ra];
    int64_t K = trans_a ? a->shape[ra] : a->shape[ra + 1];
    int64_t Kb = trans_b ? b->shape[rb + 1] : b->shape[rb];
    int64_t N = trans_b ? b->shape[rb] : b->shape[rb + 1];
    char sa[96], sb[96], sc[96];
    if (K != Kb)
        return lt_error(LT_ERR_SHAPE, "matmul: inner dims differ: a %s%s gives K=%lld, b %s%s gives K=%lld",
                        lt_tensor_str(a, sa, sizeof sa), trans_a ? "^T" : "", (long long)K,
                        lt_tensor_str(b, sb, sizeof sb), trans_b ? "^T" : "", (long long)Kb);
    if (cm->shape[rc] != M || cm->shape[rc + 1] != N)
        return lt_error(LT_ERR_SHAPE, "matmul: c is %s, expected [%lld,%lld] from a %s and b %s",
                        lt_tensor_str(cm, sc, sizeof sc), (long long)M, (long long)N,
                        lt_tensor_str(a, sa, sizeof sa), lt_tensor_str(b, sb, sizeof sb));
    int64_t bc = batch_of(cm), ba = batch_of(a), bb = batch_of(b);
    if ((ba != 1 && ba != bc) || (bb != 1 && bb != bc))
        return lt_error(LT_ERR_SHAPE, "matmul: batch sizes a %lld, b %lld, c %lld: a and b must be 1 or %lld",
                        (long long)ba, (long long)bb, (long long)bc, (long long)bc);
    LT_TRY(no_alias(c, cm, "c", a, "a"));
    LT_TRY(no_alias(c, cm, "c", b, "b"));
    call.src[0] = a;
    call.src[1] = b;
    call.dst[0] = cm;
    call.p.matmul = (lt_matmul_params){trans_a != 0, trans_b != 0, accumulate != 0, alpha};
    return run(c, &call);
}

static lt_status check_tokens(check_ctx *c, const lt_tensor *tok, const char *arg, int64_t n) {
    LT_TRY(need(c, tok, arg));
    LT_TRY(dtype_is(c, tok, arg, LT_I32));
    LT_TRY(contiguous(c, tok, arg));
    if (lt_tensor_numel(tok) != n)
        return lt_error(LT_ERR_SHAPE, "%s: %s has %lld entries, expected %lld (one per row)", c->op,
                        arg, (long long)lt_tensor_numel(tok), (long long)n);
    return LT_OK;
}

static lt_status embed_like(lt_op op, lt_tensor *out, const lt_tensor *ids, const char *ids_arg,
                            const lt_tensor *table, int accumulate) {
    CALL(op);
    LT_TRY(need(c, table, "table"));
    LT_TRY(need(c, out, "out"));
    LT_TRY(floating(c, table, "table"));
    LT_TRY(same_dtype(c, out, "out", table, "table"));
    LT_TRY(rank_is(c, table, "table", 2));
    LT_TRY(contiguous(c, table, "table"));
    LT_TRY(contiguous(c, out, "out"));
    LT_TRY(dim_is(c, out, "out", out->ndim - 1, table->shape[1], "width of table"));
    LT_TRY(check_tokens(c, ids, ids_arg, rows(out)));
    LT_TRY(no_alias(c, out, "out", table, "table"));
    call.src[0] = ids;
    call.src[1] = table;
    call.dst[0] = out;
    call.p.embed.accumulate = accumulate != 0;
    return run(c, &call);
}

lt_status lt_embed_forward(lt_tensor *out, const lt_tensor *tokens, const lt_tensor *table,
                           int accumulate) {
    return embed_like(LT_OP_EMBED_FWD, out, tokens, "tokens", table, accumulate);
}

lt_status lt_pos_embed_forward(lt_tensor *x, const lt_tensor *pos, const lt_tensor *table) {
    return embed_like(LT_OP_POS_EMBED_FWD, x, pos, "pos", table, 1);
}

lt_status lt_embed_backward(lt_tensor *dtable, const lt_tensor *tokens, const lt_tensor *dout) {
    CALL(LT_OP_EMBED_BWD);
    LT_TRY(need(c, dout, "dout"));
    LT_TRY(need(c, dtable, "dtable"));
    LT_TRY(floating(c, dout, "dout"));
    LT_TRY(same_dtype(c, dtable, "dtable", dout, "dout"));
    LT_TRY(rank_is(c, dtable, "dtable", 2));
    LT_TRY(contiguous(c, dtable, "dtable"));
    LT_TRY(contiguous(c, dout, "dout"));
    LT_TRY(dim_is(c, dout, "dout", dout->ndim - 1, dtable->shape[1], "width of dtable"));
    LT_TRY(check_tokens(c, tokens, "tokens", rows(dout)));
    LT_TRY(no_alias(c, dtable, "dtable", dout, "dout"));
    call.src[0] = tokens;
    call.src[1] = dout;
    call.dst[0] = dtable;
    return run(c, &call);
}

lt_status lt_rmsnorm_forward(lt_tensor *out, lt_tensor *rstd, const lt_tensor *x,
                             const lt_tensor *w, float eps) {
    CALL(LT_OP_RMSNORM_FWD);
    LT_TRY(need(c, x, "x"));
    LT_TRY(need(c, w, "w"));
    LT_TRY(need(c, out, "out"));
    LT_TRY(need(c, rstd, "rstd"));
    LT_TRY(floating(c, x, "x"));
    LT_TRY(same_dtype(c, w, "w", x, "x"));
    LT_TRY(same_dtype(c, out, "out", x, "x"));
    LT_TRY(same_dtype(c, rstd, "rstd", x, "x"));
    for (int i = 0; i < 4; i++) {
        const lt_tensor *t[4] = {x, w, out, rstd};
        const char *n[4] = {"x", "w", "out", "rstd"};
        LT_TRY(contiguous(c, t[i], n[i]));
    }
    LT_TRY(same_shape(c, out, "out", x, "x"));
    if (lt_tensor_numel(w) != last_dim(x))
        return lt_error(LT_ERR_SHAPE, "rmsnorm_fwd: w has %lld elements, expected %lld (last dim of x)",
                        (long long)lt_tensor_numel(w), (long long)last_dim(x));
    if (lt_tensor_numel(rstd) != rows(x))
        return lt_error(LT_ERR_SHAPE, "rmsnorm_fwd: rstd has %lld elements, expected %lld (rows of x)",
                        (long long)lt_tensor_numel(rstd), (long long)rows(x));
    if (!(eps >= 0.0f) || !isfinite(eps))
        return lt_error(LT_ERR_INVALID_ARG, "rmsnorm_fwd: eps %g must be finite and >= 0", eps);
    LT_TRY(no_alias(c, out, "out", w, "w"));
    LT_TRY(no_alias(c, rstd, "rstd", x, "x"));
    call.src[0] = x;
    call.src[1] = w;
    call.dst[0] = out;
    call.dst[1] = rstd;
    call.p.rmsnorm.eps = eps;
    return run(c, &call);
}

lt_status lt_rmsnorm_backward(lt_tensor *dx, lt_tensor *dw, const lt_tensor *dout,
                              const lt_tensor *x, const lt_tensor *w, const lt_tensor *rstd,
                              int accumulate_dx) {
    CALL(LT_OP_RMSNORM_BWD);
    const lt_tensor *t[6] = {dout, x, w, rstd, dx, dw};
    const char *n[6] = {"dout", "x", "w", "rstd", "dx", "dw"};
    for (int i = 0; i < 6; i++) {
        LT_TRY(need(c, t[i], n[i]));
        LT_TRY(contiguous(c, t[i], n[i]));
        LT_TRY(same_dtype(c, t[i], n[i], x, "x"));
    }
    LT_TRY(floating(c, x, "x"));
    LT_TRY(same_shape(c, dout, "dout", x, "x"));
    LT_TRY(same_shape(c, dx, "dx", x, "x"));
    if (lt_tensor_numel(w) != last_dim(x) || lt_tensor_numel(dw) != last_dim(x))
        return lt_error(LT_ERR_SHAPE, "rmsnorm_bwd: w and dw need %lld elements (last dim of x)",
                        (long long)last_dim(x));
    if (lt_tensor_numel(rstd) != rows(x))
        return lt_error(LT_ERR_SHAPE, "rmsnorm_bwd: rstd has %lld elements, expected %lld (rows of x)",
                        (long long)lt_tensor_numel(rstd), (long long)rows(x));
    for (int i = 0; i < 4; i++) {
        LT_TRY(no_alias(c, dx, "dx", t[i], n[i]));
        LT_TRY(no_alias(c, dw, "dw", t[i], n[i]));
    }
    call.src[0] = dout;
    call.src[1] = x;
    call.src[2] = w;
    call.src[3] = rstd;
    call.dst[0] = dx;
    call.dst[1] = dw;
    call.p.rmsnorm.accumulate_dx = accumulate_dx != 0;
    return run(c, &call);
}

static lt_status unary_like(lt_op op, lt_tensor *out, const lt_tensor *x, const lt_tensor *x2,
                            int in_place_ok, lt_op_call *callp, check_ctx *c) {
    (void)op;
    LT_TRY(need(c, x, x2 ? "dout" : "x"));
    LT_TRY(need(c, out, "out"));
    LT_TRY(floating(c, x, x2 ? "dout" : "x"));
    LT_TRY(same_dtype(c, out, "out", x, "x"));
    LT_TRY(contiguous(c, x, "x"));
    LT_TRY(contiguous(c, out, "out"));
    LT_TRY(same_shape(c, out, "out", x, "x"));
    if (x2) {
        LT_TRY(need(c, x2, "x"));
        LT_TRY(same_dtype(c, x2, "x", x, "dout"));
        LT_TRY(contiguous(c, x2, "x"));
        LT_TRY(same_shape(c, x2, "x", x, "dout"));
    }
    /* Element-wise ops may write in place exactly (same view), never partially overlapping. */
    const lt_tensor *ins[2] = {x, x2};
    for (int i = 0; i < 2; i++) {
        if (!ins[i] || !overlaps(out, ins[i])) continue;
        if (!(in_place_ok && ins[i]->offset == out->offset))
            return lt_error(LT_ERR_INVALID_ARG, "%s: output overlaps an input", c->op);
    }
    callp->src[0] = x;
    callp->src[1] = x2;
    callp->dst[0] = out;
    return LT_OK;
}

lt_status lt_gelu_forward(lt_tensor *out, const lt_tensor *x) {
    CALL(LT_OP_GELU_FWD);
    LT_TRY(unary_like(LT_OP_GELU_FWD, out, x, NULL, 1, &call, c));
    return run(c, &call);
}

lt_status lt_gelu_backward(lt_tensor *dx, const lt_tensor *dout, const lt_tensor *x) {
    CALL(LT_OP_GELU_BWD);
    LT_TRY(unary_like(LT_OP_GELU_BWD, dx, dout, x, 1, &call, c));
    return run(c, &call);
}

lt_status lt_add(lt_tensor *out, const lt_tensor *a, const lt_tensor *b) {
    CALL(LT_OP_ADD);
    LT_TRY(unary_like(LT_OP_ADD, out, a, b, 1, &call, c));
    return run(c, &call);
}

lt_status lt_scale(lt_tensor *out, const lt_tensor *x, float alpha) {
    CALL(LT_OP_SCALE);
    LT_TRY(unary_like(LT_OP_SCALE, out, x, NULL, 1, &call, c));
    call.p.scalar.alpha = alpha;
    return run(c, &call);
}

lt_status lt_axpy(lt_tensor *y, float alpha, const lt_tensor *x) {
    CALL(LT_OP_AXPY);
    LT_TRY(unary_like(LT_OP_AXPY, y, x, NULL, 0, &call, c));
    call.p.scalar.alpha = alpha;
    return run(c, &call);
}

lt_status lt_cross_entropy(lt_tensor *losses, lt_tensor *dlogits, const lt_tensor *logits,
                           const lt_tensor *targets, const lt_tensor *weights,
                           float grad_scale) {
    CALL(LT_OP_CROSS_ENTROPY);
    LT_TRY(need(c, logits, "logits"));
    LT_TRY(need(c, losses, "losses"));
    LT_TRY(floating(c, logits, "logits"));
    LT_TRY(contiguous(c, logits, "logits"));
    LT_TRY(contiguous(c, losses, "losses"));
    if (logits->ndim < 2)
        return lt_error(LT_ERR_SHAPE, "cross_entropy: logits need at least 2 dims [N, V]");
    int64_t n = rows(logits);
    LT_TRY(check_tokens(c, targets, "targets", n));
    LT_TRY(dtype_is(c, losses, "losses", logits->dtype == LT_F64 ? LT_F64 : LT_F32));
    if (lt_tensor_numel(losses) != n)
        return lt_error(LT_ERR_SHAPE, "cross_entropy: losses has %lld entries, expected %lld",
                        (long long)lt_tensor_numel(losses), (long long)n);
    if (weights) {
        LT_TRY(need(c, weights, "weights"));
        LT_TRY(dtype_is(c, weights, "weights", LT_F32));
        LT_TRY(contiguous(c, weights, "weights"));
        if (lt_tensor_numel(weights) != n)
            return lt_error(LT_ERR_SHAPE, "cross_entropy: weights has %lld entries, expected %lld",
                            (long long)lt_tensor_numel(weights), (long long)n);
    }
    if (dlogits) {
        LT_TRY(need(c, dlogits, "dlogits"));
        LT_TRY(contiguous(c, dlogits, "dlogits"));
        LT_TRY(same_dtype(c, dlogits, "dlogits", logits, "logits"));
        LT_TRY(same_shape(c, dlogits, "dlogits", logits, "logits"));
        if (overlaps(dlogits, logits) && dlogits->offset != logits->offset)
            return lt_error(LT_ERR_INVALID_ARG, "cross_entropy: dlogits partially overlaps logits");
        LT_TRY(no_alias(c, dlogits, "dlogits", targets, "targets"));
        LT_TRY(no_alias(c, dlogits, "dlogits", losses, "losses"));
    }
    LT_TRY(no_alias(c, losses, "losses", logits, "logits"));
    call.src[0] = logits;
    call.src[1] = targets;
    call.src[2] = weights;
    call.dst[0] = losses;
    call.dst[1] = dlogits;
    call.p.ce.grad_scale = grad_scale;
    return run(c, &call);
}

/* [B, T, H, Dh] with a contiguous last dim, shape equal to ref when given. */
static lt_status attn_tensor(check_ctx *c, const lt_tensor *t, const char *arg,
                             const lt_tensor *ref, const char *ref_arg) {
    LT_TRY(need(c, t, arg));
    LT_TRY(rank_is(c, t, arg, 4));
    LT_TRY(last_contiguous(c, t, arg));
    if (ref) {
        LT_TRY(same_dtype(c, t, arg, ref, ref_arg));
        LT_TRY(same_shape(c, t, arg, ref, ref_arg));
    } else {
        LT_TRY(floating(c, t, arg));
    }
    return LT_OK;
}

/* An attention result (or its gradient): q's shape, dtype q's or f32 when q is half. */
static lt_status attn_result(check_ctx *c, const lt_tensor *t, const char *arg,
                             const lt_tensor *q) {
    LT_TRY(need(c, t, arg));
    LT_TRY(rank_is(c, t, arg, 4));
    LT_TRY(last_contiguous(c, t, arg));
    LT_TRY(dtype_or_f32(c, t, arg, q, "q"));
    return same_shape(c, t, arg, q, "q");
}

static lt_status attn_lengths(check_ctx *c, const lt_tensor *len, int64_t B) {
    if (!len) return LT_OK;
    return check_tokens(c, len, "lengths", B);
}

lt_status lt_attention_forward(lt_tensor *out, lt_tensor *lse, const lt_tensor *q,
                               const lt_tensor *k, const lt_tensor *v,
                               const lt_tensor *lengths, int causal, float scale) {
    CALL(LT_OP_ATTN_FWD);
    LT_TRY(attn_tensor(c, q, "q", NULL, NULL));
    LT_TRY(attn_tensor(c, k, "k", q, "q"));
    LT_TRY(attn_tensor(c, v, "v", q, "q"));
    LT_TRY(attn_result(c, out, "out", q));
    LT_TRY(need(c, lse, "lse"));
    LT_TRY(dtype_is(c, lse, "lse", q->dtype == LT_F64 ? LT_F64 : LT_F32));
    LT_TRY(contiguous(c, lse, "lse"));
    int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2];
    int64_t want[3] = {B, H, T};
    if (lse->ndim != 3 || lse->shape[0] != B || lse->shape[1] != H || lse->shape[2] != T) {
        char s[96];
        return lt_error(LT_ERR_SHAPE, "attn_fwd: lse is %s, expected [%lld,%lld,%lld] (B,H,T)",
                        lt_tensor_str(lse, s, sizeof s), (long long)want[0], (long long)want[1],
                        (long long)want[2]);
    }
    LT_TRY(attn_lengths(c, lengths, B));
    const lt_tensor *ins[4] = {q, k, v, lengths};
    const char *names[4] = {"q", "k", "v", "lengths"};
    for (int i = 0; i < 4; i++) {
        LT_TRY(no_alias(c, out, "out", ins[i], names[i]));
        LT_TRY(no_alias(c, lse, "lse", ins[i], names[i]));
    }
    if (!(scale > 0.0f) || !isfinite(scale))
        return lt_error(LT_ERR_INVALID_ARG, "attn_fwd: scale %g must be finite and > 0", scale);
    call.src[0] = q;
    call.src[1] = k;
    call.src[2] = v;
    call.src[3] = lengths;
    call.dst[0] = out;
    call.dst[1] = lse;
    call.p.attn = (lt_attn_params){causal != 0, scale};
    return run(c, &call);
}

lt_status lt_attention_backward(lt_tensor *dq, lt_tensor *dk, lt_tensor *dv,
                                const lt_tensor *dout, const lt_tensor *q, const lt_tensor *k,
                                const lt_tensor *v, const lt_tensor *out,
                                const lt_tensor *lse, const lt_tensor *lengths, int causal,
                                float scale) {
    CALL(LT_OP_ATTN_BWD);
    LT_TRY(attn_tensor(c, q, "q", NULL, NULL));
    LT_TRY(attn_tensor(c, k, "k", q, "q"));
    LT_TRY(attn_tensor(c, v, "v", q, "q"));
    /* out/dout share one dtype and dq/dk/dv another, each q's or f32 when q is half. */
    LT_TRY(attn_result(c, out, "out", q));
    LT_TRY(attn_result(c, dout, "dout", q));
    LT_TRY(same_dtype(c, dout, "dout", out, "out"));
    LT_TRY(attn_result(c, dq, "dq", q));
    LT_TRY(attn_result(c, dk, "dk", q));
    LT_TRY(attn_result(c, dv, "dv", q));
    LT_TRY(same_dtype(c, dk, "dk", dq, "dq"));
    LT_TRY(same_dtype(c, dv, "dv", dq, "dq"));
    LT_TRY(need(c, lse, "lse"));
    LT_TRY(dtype_is(c, lse, "lse", q->dtype == LT_F64 ? LT_F64 : LT_F32));
    LT_TRY(contiguous(c, lse, "lse"));
    int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2];
    if (lse->ndim != 3 || lse->shape[0] != B || lse->shape[1] != H || lse->shape[2] != T)
        return lt_error(LT_ERR_SHAPE, "attn_bwd: lse must be [%lld,%lld,%lld] (B,H,T)",
                        (long long)B, (long long)H, (long long)T);
    LT_TRY(attn_lengths(c, lengths, B));
    const lt_tensor *ins[7] = {dout, q, k, v, out, lse, lengths};
    const char *in_names[7] = {"dout", "q", "k", "v", "out", "lse", "lengths"};
    lt_tensor *outs[3] = {dq, dk, dv};
    const char *out_names[3] = {"dq", "dk", "dv"};
    for (int o = 0; o < 3; o++) {
        for (int i = 0; i < 7; i++) LT_TRY(no_alias(c, outs[o], out_names[o], ins[i], in_names[i]));
        for (int p = o + 1; p < 3; p++) LT_TRY(no_alias(c, outs[o], out_names[o], outs[p], out_names[p]));
    }
    if (!(scale > 0.0f) || !isfinite(scale))
        return lt_error(LT_ERR_INVALID_ARG, "attn_bwd: scale %g must be finite and > 0", scale);
    for (int i = 0; i < 7; i++) call.src[i] = ins[i];
    call.dst[0] = dq;
    call.dst[1] = dk;
    call.dst[2] = dv;
    call.p.attn = (lt_attn_params){causal != 0, scale};
    return run(c, &call);
}

lt_status lt_attention_decode(lt_tensor *out, const lt_tensor *q, const lt_tensor *k_cache,
                              const lt_tensor *v_cache, const lt_tensor *lengths, float scale) {
    CALL(LT_OP_ATTN_DECODE);
    LT_TRY(attn_tensor(c, q, "q", NULL, NULL));
    LT_TRY(attn_tensor(c, out, "out", q, "q"));
    LT_TRY(attn_tensor(c, k_cache, "k_cache", NULL, NULL));
    LT_TRY(same_dtype(c, k_cache, "k_cache", q, "q"));
    LT_TRY(contiguous(c, k_cache, "k_cache"));
    LT_TRY(attn_tensor(c, v_cache, "v_cache", k_cache, "k_cache"));
    LT_TRY(contiguous(c, v_cache, "v_cache"));
    if (k_cache->shape[0] != q->shape[0] || k_cache->shape[2] != q->shape[2] ||
        k_cache->shape[3] != q->shape[3] || k_cache->shape[1] < q->shape[1]) {
        char a[96], b[96];
        return lt_error(LT_ERR_SHAPE, "attn_decode: k_cache %s does not fit q %s (same B, H, Dh; Tmax >= Tq)",
                        lt_tensor_str(k_cache, a, sizeof a), lt_tensor_str(q, b, sizeof b));
    }
    LT_TRY(need(c, lengths, "lengths"));
    LT_TRY(check_tokens(c, lengths, "lengths", q->shape[0]));
    const lt_tensor *ins[4] = {q, k_cache, v_cache, lengths};
    const char *names[4] = {"q", "k_cache", "v_cache", "lengths"};
    for (int i = 0; i < 4; i++) LT_TRY(no_alias(c, out, "out", ins[i], names[i]));
    if (!(scale > 0.0f) || !isfinite(scale))
        return lt_error(LT_ERR_INVALID_ARG, "attn_decode: scale %g must be finite and > 0", scale);
    for (int i = 0; i < 4; i++) call.src[i] = ins[i];
    call.dst[0] = out;
    call.p.attn = (lt_attn_params){1, scale};
    return run(c, &call);
}

lt_status lt_kv_write(lt_tensor *cache, const lt_tensor *x, const lt_tensor *pos) {
    CALL(LT_OP_KV_WRITE);
    LT_TRY(attn_tensor(c, x, "x", NULL, NULL));
    LT_TRY(attn_tensor(c, cache, "cache", NULL, NULL));
    LT_TRY(same_dtype(c, cache, "cache", x, "x"));
    LT_TRY(contiguous(c, cache, "cache"));
    if (cache->shape[0] != x->shape[0] || cache->shape[2] != x->shape[2] ||
        cache->shape[3] != x->shape[3]) {
        char a[96], b[96];
        return lt_error(LT_ERR_SHAPE, "kv_write: cache %s does not fit x %s (same B, H, Dh)",
                        lt_tensor_str(cache, a, sizeof a), lt_tensor_str(x, b, sizeof b));
    }
    LT_TRY(check_tokens(c, pos, "pos", x->shape[0]));
    LT_TRY(no_alias(c, cache, "cache", x, "x"));
    LT_TRY(no_alias(c, cache, "cache", pos, "pos"));
    call.src[0] = x;
    call.src[1] = pos;
    call.dst[0] = cache;
    return run(c, &call);
}

lt_status lt_adamw(lt_tensor *param, lt_tensor *m, lt_tensor *v, const lt_tensor *grad,
                   const lt_tensor *decay_mask, const lt_adamw_params *p) {
    CALL(LT_OP_ADAMW);
    if (!p) return lt_error(LT_ERR_INVALID_ARG, "adamw: params is NULL");
    const lt_tensor *t[4] = {param, m, v, grad};
    const char *n[4] = {"param", "m", "v", "grad"};
    for (int i = 0; i < 4; i++) {
        LT_TRY(need(c, t[i], n[i]));
        LT_TRY(contiguous(c, t[i], n[i]));
        LT_TRY(floating(c, t[i], n[i]));
        if (lt_tensor_numel(t[i]) != lt_tensor_numel(param))
            return lt_error(LT_ERR_SHAPE, "adamw: %s has %lld elements, param %lld", n[i],
                            (long long)lt_tensor_numel(t[i]), (long long)lt_tensor_numel(param));
    }
    LT_TRY(same_dtype(c, m, "m", param, "param"));
    LT_TRY(same_dtype(c, v, "v", param, "param"));
    LT_TRY(same_dtype(c, grad, "grad", param, "param"));
    if (decay_mask) {
        LT_TRY(need(c, decay_mask, "decay_mask"));
        LT_TRY(dtype_is(c, decay_mask, "decay_mask", LT_U8));
        LT_TRY(contiguous(c, decay_mask, "decay_mask"));
        if (lt_tensor_numel(decay_mask) != lt_tensor_numel(param))
            return lt_error(LT_ERR_SHAPE, "adamw: decay_mask has %lld entries, param %lld",
                            (long long)lt_tensor_numel(decay_mask), (long long)lt_tensor_numel(param));
    }
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            if (overlaps(t[i], t[j]))
                return lt_error(LT_ERR_INVALID_ARG, "adamw: %s overlaps %s", n[i], n[j]);
    if (p->step < 1) return lt_error(LT_ERR_INVALID_ARG, "adamw: step %lld must be >= 1", (long long)p->step);
    if (!(p->beta1 >= 0 && p->beta1 < 1) || !(p->beta2 >= 0 && p->beta2 < 1))
        return lt_error(LT_ERR_INVALID_ARG, "adamw: betas (%g, %g) must be in [0, 1)", p->beta1, p->beta2);
    if (!isfinite(p->lr) || !isfinite(p->grad_scale) || !isfinite(p->weight_decay) || !(p->eps > 0))
        return lt_error(LT_ERR_INVALID_ARG, "adamw: lr %g, grad_scale %g, weight_decay %g must be finite and eps %g > 0",
                        p->lr, p->grad_scale, p->weight_decay, p->eps);
    call.src[0] = grad;
    call.src[1] = decay_mask;
    call.dst[0] = param;
    call.dst[1] = m;
    call.dst[2] = v;
    call.p.adamw = *p;
    return run(c, &call);
}

lt_status lt_sumsq(lt_tensor *out, const lt_tensor *x) {
    CALL(LT_OP_SUMSQ);
    LT_TRY(need(c, x, "x"));
    LT_TRY(need(c, out, "out"));
    LT_TRY(floating(c, x, "x"));
    LT_TRY(contiguous(c, x, "x"));
    LT_TRY(dtype_is(c, out, "out", x->dtype == LT_F64 ? LT_F64 : LT_F32));
    if (lt_tensor_numel(out) != 1)
        return lt_error(LT_ERR_SHAPE, "sumsq: out must hold 1 element, has %lld",
                        (long long)lt_tensor_numel(out));
    LT_TRY(no_alias(c, out, "out", x, "x"));
    call.src[0] = x;
    call.dst[0] = out;
    return run(c, &call);
}

lt_status lt_sample(lt_tensor *tokens, const lt_tensor *logits, const lt_tensor *sample_ids,
                    const lt_sample_params *p) {
    CALL(LT_OP_SAMPLE);
    if (!p) return lt_error(LT_ERR_INVALID_ARG, "sample: params is NULL");
    LT_TRY(need(c, logits, "logits"));
    LT_TRY(floating(c, logits, "logits"));
    LT_TRY(contiguous(c, logits, "logits"));
    LT_TRY(rank_is(c, logits, "logits", 2));
    int64_t B = logits->shape[0], V = logits->shape[1];
    LT_TRY(check_tokens(c, tokens, "tokens", B));
    if (sample_ids) LT_TRY(check_tokens(c, sample_ids, "sample_ids", B));
    if (p->range_lo < 0 || p->range_hi > V || p->range_lo >= p->range_hi)
        return lt_error(LT_ERR_RANGE, "sample: token range [%d, %d) is empty or outside the vocabulary of %lld",
                        p->range_lo, p->range_hi, (long long)V);
    if (!(p->temperature >= 0.0f) || !isfinite(p->temperature))
        return lt_error(LT_ERR_INVALID_ARG, "sample: temperature %g must be finite and >= 0", p->temperature);
    if (p->top_k < 0) return lt_error(LT_ERR_INVALID_ARG, "sample: top_k %d must be >= 0", p->top_k);
    LT_TRY(no_alias(c, tokens, "tokens", logits, "logits"));
    call.src[0] = logits;
    call.src[1] = sample_ids;
    call.dst[0] = tokens;
    call.p.sample = *p;
    return run(c, &call);
}
