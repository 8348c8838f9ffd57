/* core/conformance_case.c - building a conformance case on the host, running it on a
 * device with guard bytes around every buffer, and reading the results back. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance_case.h"

/* Guard and gap bytes: a position-dependent pattern, so a kernel that writes a constant
 * (zeros, a copy of a neighbouring row) into them cannot match it by accident. */
static uint8_t guard_byte(size_t k) { return (uint8_t)(0xA5u ^ (uint8_t)(k * 37u)); }

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void conf_fmt(char *dst, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

void conf_case_init(conf_case *c, uint64_t seed, const char *fmt, ...) {
    memset(c, 0, sizeof *c);
    c->rng = seed * 0x2545F4914F6CDD1Dull + 0x5851F42D4C957F2Dull;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->desc, sizeof c->desc, fmt, ap);
    va_end(ap);
}

void conf_case_free(conf_case *c) {
    for (int r = 0; r < c->nregions; r++) free(c->r[r].image);
    c->nregions = 0;
    c->ntensors = 0;
}

double conf_rand(conf_case *c) {
    return (double)(splitmix64(&c->rng) >> 11) * (1.0 / 9007199254740992.0); /* 53 bits */
}

int64_t conf_randint(conf_case *c, int64_t n) {
    return n > 0 ? (int64_t)(splitmix64(&c->rng) % (uint64_t)n) : 0;
}

int conf_region_new(conf_case *c, size_t bytes) {
    if (c->nregions >= CONF_MAX_REGIONS) {
        c->oom = 1;
        return 0;
    }
    int r = c->nregions++;
    size_t total = bytes + 2 * CONF_GUARD;
    c->r[r].bytes = bytes;
    c->r[r].image = malloc(total);
    if (!c->r[r].image) {
        c->oom = 1;
        c->r[r].bytes = 0;
        return r;
    }
    for (size_t k = 0; k < total; k++) c->r[r].image[k] = guard_byte(k);
    return r;
}

/* Byte offset of logical element i of tensor t inside its region's payload. */
static size_t elem_offset(const conf_tensor *t, int64_t i) {
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t s = t->shape[d];
        off += (i % s) * t->stride[d];
        i /= s;
    }
    return t->offset + (size_t)off * lt_dtype_size(t->dtype);
}

int64_t conf_numel(const conf_case *c, int t) {
    int64_t n = 1;
    for (int d = 0; d < c->t[t].ndim; d++) n *= c->t[t].shape[d];
    return n;
}

static void store(uint8_t *p, lt_dtype dt, double v) {
    switch (dt) {
    case LT_F32: { float f = (float)v; memcpy(p, &f, 4); break; }
    case LT_F64: memcpy(p, &v, 8); break;
    case LT_BF16: { uint16_t h = lt_f32_to_bf16((float)v); memcpy(p, &h, 2); break; }
    case LT_F16: { uint16_t h = lt_f32_to_f16((float)v); memcpy(p, &h, 2); break; }
    case LT_I32: { int32_t x = (int32_t)v; memcpy(p, &x, 4); break; }
    case LT_U8: *p = (uint8_t)v; break;
    default: break;
    }
}

static double load(const uint8_t *p, lt_dtype dt) {
    switch (dt) {
    case LT_F32: { float f; memcpy(&f, p, 4); return f; }
    case LT_F64: { double d; memcpy(&d, p, 8); return d; }
    case LT_BF16: { uint16_t h; memcpy(&h, p, 2); return lt_bf16_to_f32(h); }
    case LT_F16: { uint16_t h; memcpy(&h, p, 2); return lt_f16_to_f32(h); }
    case LT_I32: { int32_t x; memcpy(&x, p, 4); return x; }
    case LT_U8: return *p;
    default: return 0.0;
    }
}

int conf_view(conf_case *c, const char *name, int region, size_t offset, lt_dtype dt, int ndim,
              const int64_t *shape, const int64_t *stride) {
    if (c->ntensors >= CONF_MAX_TENSORS) {
        c->oom = 1;
        return 0;
    }
    int i = c->ntensors++;
    conf_tensor *t = &c->t[i];
    memset(t, 0, sizeof *t);
    conf_fmt(t->name, sizeof t->name, "%s", name);
    t->dtype = dt;
    t->ndim = ndim;
    t->region = region;
    t->offset = offset;
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        t->shape[d] = shape[d];
        t->stride[d] = stride ? stride[d] : s;
        s *= shape[d];
    }
    for (int d = ndim; d < LT_MAX_DIMS; d++) {
        t->shape[d] = 1;
        t->stride[d] = 1;
    }
    if (!c->r[region].image) return i;
    int64_t n = conf_numel(c, i);
    for (int64_t k = 0; k < n; k++) conf_set(c, i, k, 0.0);
    return i;
}

int conf_tensor_new(conf_case *c, const char *name, lt_dtype dt, int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    int r = conf_region_new(c, (size_t)n * lt_dtype_size(dt));
    return conf_view(c, name, r, 0, dt, ndim, shape, NULL);
}

int conf_like(conf_case *c, const char *name, int like) {
    conf_tensor t = c->t[like];
    return conf_tensor_new(c, name, t.dtype, t.ndim, t.shape);
}

int conf_strided_new(conf_case *c, const char *name, lt_dtype dt, int ndim, const int64_t *shape,
                     const int64_t *stride, int64_t lead, int64_t tail) {
    int64_t span = 1;
    for (int d = 0; d < ndim; d++) span += (shape[d] - 1) * stride[d];
    size_t sz = lt_dtype_size(dt);
    int r = conf_region_new(c, (size_t)(lead + span + tail) * sz);
    return conf_view(c, name, r, (size_t)lead * sz, dt, ndim, shape, stride);
}

void conf_set(conf_case *c, int t, int64_t i, double v) {
    const conf_tensor *ct = &c->t[t];
    uint8_t *img = c->r[ct->region].image;
    if (img) store(img + CONF_GUARD + elem_offset(ct, i), ct->dtype, v);
}

double conf_get(const conf_case *c, int t, int64_t i) {
    const conf_tensor *ct = &c->t[t];
    const uint8_t *img = c->r[ct->region].image;
    return img ? load(img + CONF_GUARD + elem_offset(ct, i), ct->dtype) : 0.0;
}

void conf_uniform(conf_case *c, int t, double lo, double hi) {
    int64_t n = conf_numel(c, t);
    for (int64_t i = 0; i < n; i++) conf_set(c, t, i, lo + (hi - lo) * conf_rand(c));
}

void conf_ints(conf_case *c, int t, int64_t lo, int64_t hi) {
    int64_t n = conf_numel(c, t);
    for (int64_t i = 0; i < n; i++) conf_set(c, t, i, (double)(lo + conf_randint(c, hi - lo)));
}

void conf_poison(conf_case *c, int t) {
    const conf_tensor *ct = &c->t[t];
    uint8_t *img = c->r[ct->region].image;
    if (!img) return;
    /* Quiet NaNs with a payload (floats); for integers a value no op produces. */
    static const uint32_t f32 = 0x7FC5A5A5u;
    static const uint64_t f64 = 0x7FF8A5A5A5A5A5A5ull;
    static const uint16_t bf16 = 0x7FC5, f16 = 0x7E55;
    static const int32_t i32 = -0x5A5A5A5A;
    static const uint8_t u8 = 0xA5;
    const void *src = NULL;
    switch (ct->dtype) {
    case LT_F32: src = &f32; break;
    case LT_F64: src = &f64; break;
    case LT_BF16: src = &bf16; break;
    case LT_F16: src = &f16; break;
    case LT_I32: src = &i32; break;
    case LT_U8: src = &u8; break;
    default: return;
    }
    size_t sz = lt_dtype_size(ct->dtype);
    int64_t n = conf_numel(c, t);
    for (int64_t i = 0; i < n; i++) memcpy(img + CONF_GUARD + elem_offset(ct, i), src, sz);
}

void conf_output(conf_case *c, int t, lt_op tol_op) {
    c->t[t].written = 1;
    c->t[t].compare = 1;
    c->t[t].tol_op = tol_op;
}

conf_call *conf_add_call(conf_case *c, lt_op op) {
    conf_call *k = &c->call[c->ncalls < CONF_MAX_CALLS ? c->ncalls++ : CONF_MAX_CALLS - 1];
    memset(k, 0, sizeof *k);
    k->op = op;
    for (int i = 0; i < LT_MAX_SRC; i++) k->src[i] = -1;
    for (int i = 0; i < LT_MAX_DST; i++) k->dst[i] = -1;
    return k;
}

/* ---------------------------------------------------------------- running ---- */

/* Through the public wrappers, so every case also passes the core's argument checks
 * (a malformed case fails on the reference too instead of testing nonsense). */
static lt_status invoke(const conf_call *k, lt_tensor *tt) {
    lt_op_call call;
    memset(&call, 0, sizeof call);
    call.op = k->op;
    for (int i = 0; i < LT_MAX_SRC; i++) call.src[i] = k->src[i] >= 0 ? &tt[k->src[i]] : NULL;
    for (int i = 0; i < LT_MAX_DST; i++) call.dst[i] = k->dst[i] >= 0 ? &tt[k->dst[i]] : NULL;
    call.p = k->p;
    return lt_conf_invoke(&call);
}

lt_status lt_conf_invoke(const lt_op_call *k) {
    if (!k) return lt_error(LT_ERR_INVALID_ARG, "conformance: call is NULL");
#define S(i) (k->src[i])
#define D(i) (k->dst[i])
    const lt_op_params *p = &k->p;
    switch (k->op) {
    case LT_OP_FILL: return lt_fill(D(0), p->fill.value);
    case LT_OP_COPY: return lt_copy(D(0), S(0));
    case LT_OP_CAST: return lt_cast(D(0), S(0));
    case LT_OP_MATMUL:
        return lt_matmul(D(0), S(0), S(1), p->matmul.trans_a, p->matmul.trans_b, p->matmul.alpha,
                         p->matmul.accumulate);
    case LT_OP_EMBED_FWD: return lt_embed_forward(D(0), S(0), S(1), p->embed.accumulate);
    case LT_OP_EMBED_BWD: return lt_embed_backward(D(0), S(0), S(1));
    case LT_OP_POS_EMBED_FWD: return lt_pos_embed_forward(D(0), S(0), S(1));
    case LT_OP_RMSNORM_FWD: return lt_rmsnorm_forward(D(0), D(1), S(0), S(1), p->rmsnorm.eps);
    case LT_OP_RMSNORM_BWD:
        return lt_rmsnorm_backward(D(0), D(1), S(0), S(1), S(2), S(3), p->rmsnorm.accumulate_dx);
    case LT_OP_GELU_FWD: return lt_gelu_forward(D(0), S(0));
    case LT_OP_GELU_BWD: return lt_gelu_backward(D(0), S(0), S(1));
    case LT_OP_ADD: return lt_add(D(0), S(0), S(1));
    case LT_OP_SCALE: return lt_scale(D(0), S(0), p->scalar.alpha);
    case LT_OP_AXPY: return lt_axpy(D(0), p->scalar.alpha, S(0));
    case LT_OP_CROSS_ENTROPY:
        return lt_cross_entropy(D(0), D(1), S(0), S(1), S(2), p->ce.grad_scale);
    case LT_OP_ATTN_FWD:
        return lt_attention_forward(D(0), D(1), S(0), S(1), S(2), S(3), p->attn.causal,
                                    p->attn.scale);
    case LT_OP_ATTN_BWD:
        return lt_attention_backward(D(0), D(1), D(2), S(0), S(1), S(2), S(3), S(4), S(5), S(6),
                                     p->attn.causal, p->attn.scale);
    case LT_OP_ATTN_DECODE: return lt_attention_decode(D(0), S(0), S(1), S(2), S(3), p->attn.scale);
    case LT_OP_KV_WRITE: return lt_kv_write(D(0), S(0), S(1));
    case LT_OP_ADAMW: return lt_adamw(D(0), D(1), D(2), S(0), S(1), &p->adamw);
    case LT_OP_SUMSQ: return lt_sumsq(D(0), S(0));
    case LT_OP_SAMPLE: return lt_sample(D(0), S(0), S(1), &p->sample);
    default: return lt_error(LT_ERR_INTERNAL, "conformance: op %d has no invoker", (int)k->op);
    }
#undef S
#undef D
}

void conf_images_free(const conf_case *c, conf_images *im) {
    for (int r = 0; r < c->nregions && r < CONF_MAX_REGIONS; r++) {
        free(im->img[r]);
        im->img[r] = NULL;
    }
}

lt_status conf_execute(lt_device *dev, const conf_case *c, conf_images *out, char *msg,
                       size_t msg_len) {
    lt_buffer *bufs[CONF_MAX_REGIONS] = {0};
    lt_tensor tt[CONF_MAX_TENSORS];
    memset(out, 0, sizeof *out);
    msg[0] = '\0';
    if (c->oom) {
        conf_fmt(msg, msg_len, "case could not be built (host memory or too many tensors)");
        return LT_ERR_OUT_OF_MEMORY;
    }
    lt_status s = LT_OK;
    for (int r = 0; r < c->nregions && s == LT_OK; r++) {
        size_t total = c->r[r].bytes + 2 * CONF_GUARD;
        s = lt_buffer_alloc(dev, total, &bufs[r]);
        if (s == LT_OK) s = lt_buffer_upload(bufs[r], 0, c->r[r].image, total);
        if (s != LT_OK) conf_fmt(msg, msg_len, "buffer %d (%zu bytes): %s", r, total, lt_last_error());
    }
    for (int i = 0; i < c->ntensors && s == LT_OK; i++) {
        const conf_tensor *ct = &c->t[i];
        tt[i] = lt_tensor_desc(ct->dtype, ct->ndim, ct->shape);
        for (int d = 0; d < ct->ndim; d++) tt[i].stride[d] = ct->stride[d];
        tt[i].buf = bufs[ct->region];
        tt[i].offset = CONF_GUARD + ct->offset;
    }
    for (int k = 0; k < c->ncalls && s == LT_OK; k++) {
        lt_clear_error();
        s = invoke(&c->call[k], tt);
        if (s != LT_OK) conf_fmt(msg, msg_len, "%s", lt_last_error());
    }
    if (s == LT_OK) {
        s = lt_device_sync(dev);
        if (s != LT_OK) conf_fmt(msg, msg_len, "sync: %s", lt_last_error());
    }
    for (int r = 0; r < c->nregions && s == LT_OK; r++) {
        size_t total = c->r[r].bytes + 2 * CONF_GUARD;
        out->img[r] = malloc(total);
        if (!out->img[r]) {
            conf_fmt(msg, msg_len, "host memory for the results");
            s = LT_ERR_OUT_OF_MEMORY;
            break;
        }
        s = lt_buffer_download(out->img[r], bufs[r], 0, total);
        if (s != LT_OK) conf_fmt(msg, msg_len, "download: %s", lt_last_error());
    }
    for (int r = 0; r < c->nregions; r++) lt_buffer_free(bufs[r]);
    if (s != LT_OK) conf_images_free(c, out);
    return s;
}

double conf_image_get(const conf_case *c, const conf_images *im, int t, int64_t i) {
    const conf_tensor *ct = &c->t[t];
    return load(im->img[ct->region] + CONF_GUARD + elem_offset(ct, i), ct->dtype);
}

void conf_take(conf_case *c, int t, const conf_case *from, const conf_images *im, int from_t) {
    int64_t n = conf_numel(c, t);
    for (int64_t i = 0; i < n; i++) conf_set(c, t, i, conf_image_get(from, im, from_t, i));
}

/* ---------------------------------------------------------------- judging ---- */

/* The tensor of `region` with an element covering byte `off` (inputs only, or any). */
static const char *covering(const conf_case *c, int region, size_t off, int inputs_only) {
    for (int i = 0; i < c->ntensors; i++) {
        const conf_tensor *ct = &c->t[i];
        if (ct->region != region || (inputs_only && ct->written)) continue;
        size_t sz = lt_dtype_size(ct->dtype);
        int64_t n = conf_numel(c, i);
        for (int64_t k = 0; k < n; k++) {
            size_t e = elem_offset(ct, k);
            if (off >= e && off < e + sz) return ct->name;
        }
    }
    return NULL;
}

int conf_check_untouched(const conf_case *c, const conf_images *im, char *msg, size_t msg_len) {
    for (int r = 0; r < c->nregions; r++) {
        size_t total = c->r[r].bytes + 2 * CONF_GUARD;
        uint8_t *mask = calloc(total, 1);
        if (!mask) {
            conf_fmt(msg, msg_len, "host memory for the guard check");
            return 0;
        }
        for (int i = 0; i < c->ntensors; i++) {
            const conf_tensor *ct = &c->t[i];
            if (ct->region != r || !ct->written) continue;
            size_t sz = lt_dtype_size(ct->dtype);
            int64_t n = conf_numel(c, i);
            for (int64_t k = 0; k < n; k++) memset(mask + CONF_GUARD + elem_offset(ct, k), 1, sz);
        }
        size_t bad = 0;
        int ok = lt_conf_untouched(c->r[r].image, im->img[r], mask, total, &bad);
        free(mask);
        if (ok) continue;
        size_t bytes = c->r[r].bytes, at = bad - CONF_GUARD;
        const char *in = NULL;
        if (bad < CONF_GUARD) {
            conf_fmt(msg, msg_len, "wrote the guard before buffer %d, %zu bytes before its start",
                     r, CONF_GUARD - bad);
        } else if (bad >= CONF_GUARD + bytes) {
            conf_fmt(msg, msg_len, "wrote the guard after buffer %d, byte %zu past its end", r,
                     bad - CONF_GUARD - bytes + 1);
        } else if ((in = covering(c, r, at, 1)) != NULL) {
            conf_fmt(msg, msg_len, "modified input '%s' (buffer %d byte %zu)", in, r, at);
        } else {
            /* A byte no element covers: a gap of a strided view, or lead/tail padding. */
            const char *near = NULL;
            for (int i = 0; i < c->ntensors && !near; i++) {
                const conf_tensor *ct = &c->t[i];
                size_t first = elem_offset(ct, 0), last = elem_offset(ct, conf_numel(c, i) - 1);
                if (ct->region == r && at >= first && at <= last) near = ct->name;
            }
            if (near)
                conf_fmt(msg, msg_len, "wrote a gap between elements of the strided view '%s' "
                         "(buffer %d byte %zu)", near, r, at);
            else
                conf_fmt(msg, msg_len, "wrote padding outside every view (buffer %d byte %zu)", r, at);
        }
        return 0;
    }
    return 1;
}

void conf_judge(const conf_case *c, const conf_images *ref, const conf_images *got,
                conf_judgement *j) {
    memset(j, 0, sizeof *j);
    j->pass = 1;
    char m[256];
    if (!conf_check_untouched(c, got, m, sizeof m)) {
        j->pass = 0;
        conf_fmt(j->msg, sizeof j->msg, "%s", m);
    }
    for (int t = 0; t < c->ntensors; t++) {
        const conf_tensor *ct = &c->t[t];
        if (!ct->compare) continue;
        int64_t n = conf_numel(c, t);
        double *g = malloc(sizeof(double) * (size_t)(n ? n : 1));
        double *w = malloc(sizeof(double) * (size_t)(n ? n : 1));
        if (!g || !w) {
            free(g);
            free(w);
            j->pass = 0;
            conf_fmt(j->msg, sizeof j->msg, "host memory for comparing '%s'", ct->name);
            return;
        }
        for (int64_t i = 0; i < n; i++) {
            g[i] = conf_image_get(c, got, t, i);
            w[i] = conf_image_get(c, ref, t, i);
        }
        int exact = ct->dtype == LT_I32 || ct->dtype == LT_U8;
        lt_conf_stats st;
        int ok = lt_conf_compare(g, w, n, exact, lt_conf_tolerance(ct->tol_op, ct->dtype), &st, m,
                                 sizeof m);
        free(g);
        free(w);
        if (st.max_abs > j->max_abs) j->max_abs = st.max_abs;
        if (st.nmse > j->nmse) j->nmse = st.nmse;
        if (st.ratio > j->ratio) j->ratio = st.ratio;
        if (!ok && j->pass) {
            j->pass = 0;
            conf_fmt(j->msg, sizeof j->msg, "%s: %s", ct->name, m);
        }
    }
}

int conf_same_bits(const conf_case *c, const conf_images *a, const conf_images *b, char *msg,
                   size_t msg_len) {
    for (int t = 0; t < c->ntensors; t++) {
        const conf_tensor *ct = &c->t[t];
        if (!ct->compare) continue;
        size_t sz = lt_dtype_size(ct->dtype);
        int64_t n = conf_numel(c, t);
        for (int64_t i = 0; i < n; i++) {
            size_t off = CONF_GUARD + elem_offset(ct, i);
            if (memcmp(a->img[ct->region] + off, b->img[ct->region] + off, sz) != 0) {
                conf_fmt(msg, msg_len, "%s: a second run differs at [%lld] (%.9g vs %.9g): the op "
                         "promises bit-identical reruns", ct->name, (long long)i,
                         conf_image_get(c, a, t, i), conf_image_get(c, b, t, i));
                return 0;
            }
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- public ---- */

int lt_conf_untouched(const uint8_t *before, const uint8_t *after, const uint8_t *writable,
                      size_t n, size_t *first_bad) {
    for (size_t k = 0; k < n; k++)
        if (!writable[k] && before[k] != after[k]) {
            if (first_bad) *first_bad = k;
            return 0;
        }
    return 1;
}

int lt_conf_compare(const double *got, const double *want, int64_t n, int exact,
                    lt_conf_tol tol, lt_conf_stats *st, char *msg, size_t msg_len) {
    memset(st, 0, sizeof *st);
    st->worst = -1;
    double sd = 0.0, sw = 0.0;
    int64_t bad_got = -1, bad_want = -1, first_mismatch = -1;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        int fg = isfinite(g), fw = isfinite(w);
        if (!fg && st->nonfinite_got++ == 0) bad_got = i;
        if (!fw && st->nonfinite_want++ == 0) bad_want = i;
        if (!fg || !fw) continue;
        double d = fabs(g - w);
        sd += d * d;
        sw += w * w;
        if (st->worst < 0 || d > st->max_abs) {
            st->max_abs = d;
            st->worst = i;
        }
        if (fabs(w) > st->ref_max) st->ref_max = fabs(w);
        if (g != w && st->mismatches++ == 0) first_mismatch = i;
    }
    /* An all-zero reference (a zero-weight row) has no scale: the error itself counts. */
    st->nmse = sw > 0.0 ? sd / sw : sd;
    double scale = st->ref_max > 1.0 ? st->ref_max : 1.0;
    double r1 = tol.nmse > 0.0 ? st->nmse / tol.nmse : (st->nmse > 0.0 ? INFINITY : 0.0);
    double r2 = tol.max_abs > 0.0 ? st->max_abs / (tol.max_abs * scale)
                                  : (st->max_abs > 0.0 ? INFINITY : 0.0);
    st->ratio = exact ? (st->mismatches ? INFINITY : 0.0) : (r1 > r2 ? r1 : r2);
    if (st->nonfinite_got) {
        conf_fmt(msg, msg_len, "%lld NaN/Inf in the output, first at [%lld] (%g)",
                 (long long)st->nonfinite_got, (long long)bad_got, got[bad_got]);
        st->ratio = INFINITY;
        return 0;
    }
    if (st->nonfinite_want) {
        conf_fmt(msg, msg_len, "the reference output has %lld NaN/Inf, first at [%lld]",
                 (long long)st->nonfinite_want, (long long)bad_want);
        st->ratio = INFINITY;
        return 0;
    }
    if (exact && st->mismatches) {
        conf_fmt(msg, msg_len, "%lld of %lld values differ, first at [%lld]: got %.17g, want %.17g",
                 (long long)st->mismatches, (long long)n, (long long)first_mismatch,
                 got[first_mismatch], want[first_mismatch]);
        return 0;
    }
    if (st->ratio > 1.0) {
        int64_t w = st->worst >= 0 ? st->worst : 0;
        conf_fmt(msg, msg_len, "max abs err %.3g at [%lld] (got %.9g, want %.9g; allowed %.3g), "
                 "nmse %.3g (allowed %.3g)", st->max_abs, (long long)w, n ? got[w] : 0.0,
                 n ? want[w] : 0.0, tol.max_abs * scale, st->nmse, tol.nmse);
        return 0;
    }
    if (msg_len) msg[0] = '\0';
    return 1;
}
