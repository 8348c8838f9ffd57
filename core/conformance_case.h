/* core/conformance_case.h - a conformance case: host images of a few buffers, tensors
 * that are views into them, and up to three op calls over those tensors.
 *
 * A case is built once on the host (same bytes for every device), executed on a device
 * (each buffer allocated with guard bytes before and after, uploaded, the calls made
 * through the public wrappers, everything downloaded) and judged against the reference
 * run. Internal to core/conformance*.c. */
#ifndef LT_CONFORMANCE_CASE_H
#define LT_CONFORMANCE_CASE_H

#include <stdint.h>

#include "loretta/conformance.h"

#define CONF_MAX_TENSORS 20
#define CONF_MAX_REGIONS 16
#define CONF_MAX_CALLS 3
/* Guard bytes before and after every buffer; 256 keeps the payload as aligned as the
 * allocation for backends that care (Vulkan storage buffer offsets, OpenCL sub-buffers). */
#define CONF_GUARD 256

typedef struct conf_tensor {
    char name[16];
    lt_dtype dtype;
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    int64_t stride[LT_MAX_DIMS]; /* elements */
    int region;
    size_t offset;  /* bytes into the region's payload */
    int written;    /* an output of some call: its bytes may change */
    int compare;    /* compared against the reference */
    lt_op tol_op;   /* whose tolerance applies */
} conf_tensor;

typedef struct conf_region {
    size_t bytes;   /* payload */
    uint8_t *image; /* CONF_GUARD + bytes + CONF_GUARD: what every device gets uploaded */
} conf_region;

typedef struct conf_call {
    lt_op op;
    int src[LT_MAX_SRC]; /* tensor index, -1 = NULL */
    int dst[LT_MAX_DST];
    lt_op_params p;
} conf_call;

typedef struct conf_case {
    char desc[112];
    int ntensors, nregions, ncalls;
    conf_tensor t[CONF_MAX_TENSORS];
    conf_region r[CONF_MAX_REGIONS];
    conf_call call[CONF_MAX_CALLS];
    uint64_t rng;      /* state of the case's generator (fixed seed) */
    int deterministic; /* the op promises bit-identical reruns: the device runs it twice */
    int oom;           /* a host allocation failed while building */
} conf_case;

/* Context of the case generators. */
typedef struct conf_gen_ctx {
    int quick;
    lt_device *ref; /* to compute consistent saved inputs (attention out/lse) */
} conf_gen_ctx;

/* Builds case i of a generator: 1 = built, 0 = no such case, -1 = could not be built
 * (message in lt_last_error). */
typedef int (*conf_gen_fn)(conf_case *c, int i, const conf_gen_ctx *ctx);

/* snprintf whose truncation is intended (messages are cut to fit their buffers). */
void conf_fmt(char *dst, size_t n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- building (conformance_case.c) ---- */
void conf_case_init(conf_case *c, uint64_t seed, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void conf_case_free(conf_case *c);
int conf_region_new(conf_case *c, size_t bytes);
/* A view into region `region` at byte `offset`; stride NULL = contiguous. Its elements
 * start as zero; the gaps between them keep the guard pattern. */
int conf_view(conf_case *c, const char *name, int region, size_t offset, lt_dtype dt, int ndim,
              const int64_t *shape, const int64_t *stride);
/* A contiguous tensor in a region of its own. */
int conf_tensor_new(conf_case *c, const char *name, lt_dtype dt, int ndim, const int64_t *shape);
/* A view with explicit strides in a region of its own, starting `lead` elements in and
 * followed by `tail` spare elements (gaps, lead and tail keep the guard pattern). */
int conf_strided_new(conf_case *c, const char *name, lt_dtype dt, int ndim, const int64_t *shape,
                     const int64_t *stride, int64_t lead, int64_t tail);
/* The seed of case i of op (or family) k: fixed, so every run sees the same data. */
#define CONF_SEED(k, i) ((uint64_t)(k) * 7919u + (uint64_t)(i) + 1u)
/* A contiguous tensor (own region) with the dtype and shape of tensor `like`. */
int conf_like(conf_case *c, const char *name, int like);
int64_t conf_numel(const conf_case *c, int t);
void conf_set(conf_case *c, int t, int64_t i, double v); /* logical row-major index */
double conf_get(const conf_case *c, int t, int64_t i);
void conf_uniform(conf_case *c, int t, double lo, double hi);
void conf_ints(conf_case *c, int t, int64_t lo, int64_t hi); /* [lo, hi) */
/* Fills with NaN (floats) or a sentinel (integers): an output written with "=". */
void conf_poison(conf_case *c, int t);
double conf_rand(conf_case *c);                 /* uniform [0, 1) */
int64_t conf_randint(conf_case *c, int64_t n);  /* [0, n) */
/* Marks t as written by the case and compared with the tolerance of `tol_op`. */
void conf_output(conf_case *c, int t, lt_op tol_op);
conf_call *conf_add_call(conf_case *c, lt_op op);

/* ---- running (conformance_case.c) ---- */

/* Downloaded region images of one execution, CONF_GUARD + bytes + CONF_GUARD each. */
typedef struct conf_images {
    uint8_t *img[CONF_MAX_REGIONS];
} conf_images;

/* Runs the case on dev. LT_OK, LT_ERR_UNSUPPORTED or another error with its message in
 * msg. On LT_OK the images are filled (free with conf_images_free). */
lt_status conf_execute(lt_device *dev, const conf_case *c, conf_images *out, char *msg,
                       size_t msg_len);
void conf_images_free(const conf_case *c, conf_images *im);
/* Element i of tensor t as stored in an image. */
double conf_image_get(const conf_case *c, const conf_images *im, int t, int64_t i);
/* Replaces tensor t's initial elements with those of an execution (saved inputs). */
void conf_take(conf_case *c, int t, const conf_case *from, const conf_images *im, int from_t);

/* The case's verdict on one device against the reference execution. */
typedef struct conf_judgement {
    int pass;
    double max_abs, nmse, ratio;
    char msg[320];
} conf_judgement;

void conf_judge(const conf_case *c, const conf_images *ref, const conf_images *got,
                conf_judgement *j);
/* Checks only the untouched bytes of one execution (used for the reference run too). */
int conf_check_untouched(const conf_case *c, const conf_images *im, char *msg, size_t msg_len);
/* 1 when the compared outputs of two executions are bit-identical. */
int conf_same_bits(const conf_case *c, const conf_images *a, const conf_images *b, char *msg,
                   size_t msg_len);

/* Sets the verdict of a result from its counts (excuses looked up for `op`). */
void conf_finish(lt_conf_result *r, lt_op op);

/* ---- generators ---- */
conf_gen_fn conf_op_generator(lt_op op);
/* Per-op case lists, one family per file (conformance_gen_*.c). */
int conf_gen_fill(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_copy(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_cast(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_matmul(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_embed_fwd(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_embed_bwd(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_pos_embed_fwd(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_rmsnorm_fwd(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_rmsnorm_bwd(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_gelu_fwd(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_gelu_bwd(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_add(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_scale(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_axpy(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_cross_entropy(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_attn_fwd(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_attn_bwd(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_attn_decode(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_kv_write(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_adamw(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_sumsq(conf_case *c, int i, const conf_gen_ctx *x);
int conf_gen_sample(conf_case *c, int i, const conf_gen_ctx *x);

/* Gradient-mode chains (forward then backward in one case), by family. */
int conf_chain_matmul(conf_case *c, int i, const conf_gen_ctx *x);
int conf_chain_embed(conf_case *c, int i, const conf_gen_ctx *x);
int conf_chain_rmsnorm(conf_case *c, int i, const conf_gen_ctx *x);
int conf_chain_gelu(conf_case *c, int i, const conf_gen_ctx *x);
int conf_chain_cross_entropy(conf_case *c, int i, const conf_gen_ctx *x);
int conf_chain_attention(conf_case *c, int i, const conf_gen_ctx *x);

/* Shared shape lists (op mode and gradient chains use the same ones). */
typedef struct conf_attn_shape {
    int B, T, H, Dh;
    int causal;
    int ragged;  /* per-sample lengths (some short, one 0 when B > 2) */
    int fused;   /* q/k/v (and gradients) as strided views into one fused buffer */
    int big;     /* skipped in quick mode */
} conf_attn_shape;
const conf_attn_shape *conf_attn_shape_at(int i, int quick);
/* Builds q, k, v, lengths (t[0..3], lengths -1 when not ragged) for shape s. */
void conf_attn_inputs(conf_case *c, const conf_attn_shape *s, int t[4]);
/* Three [B, T, H, Dh] tensors (dq, dk, dv): views into one fused buffer when s->fused. */
void conf_attn_triple(conf_case *c, const conf_attn_shape *s, const char *const names[3], int t[3]);
/* out [B, T, H, Dh] (a view with padded rows when s->fused) and lse [B, H, T]. */
int conf_attn_out(conf_case *c, const conf_attn_shape *s, const char *name);
int conf_attn_lse(conf_case *c, const conf_attn_shape *s, const char *name);
/* Appends the attn_fwd call over t[0..3] -> out, lse. */
conf_call *conf_attn_fwd_call(conf_case *c, const conf_attn_shape *s, const int t[4], int out,
                              int lse);

typedef struct conf_matmul_shape {
    int M, K, N;
    int ta, tb;
    int batch;    /* 0 = rank 2 */
    int bcast;    /* 1 = A has batch 1 (rank 2), 2 = B has batch 1 (rank 3) */
    int strided;  /* A, B and C as row-strided views into larger buffers */
    int accumulate;
    float alpha;
    int big;
} conf_matmul_shape;
const conf_matmul_shape *conf_matmul_shape_at(int i, int quick);
/* A, B, C for shape s (C poisoned unless accumulate); returns the call. */
conf_call *conf_matmul_build(conf_case *c, const conf_matmul_shape *s, int t[3]);
/* Appends dA and dB of C = alpha op(A) op(B) as two transposed matmuls (conformance_grad.c). */
void conf_matmul_grad_calls(conf_case *c, int a, int b, int dc, int da, int db, int ta, int tb,
                            float alpha);

#endif
