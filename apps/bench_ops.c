/* apps/bench_ops.c - `loretta bench ops`: each op timed on each device (median of N runs,
 * each ending in a device sync), reported as GFLOP/s for the compute-bound ops and GB/s
 * for the memory-bound ones; then, on cpu devices, the backend's GEMM against direct
 * cblas_sgemm and the backend's own fallback GEMM at 512, 1024 and 2048.
 *
 * Counts per run (f32 = 4 bytes; "bytes" = the minimum traffic: each input read once,
 * each output written once, read too when it accumulates):
 *   fill            bytes = 4N                       copy       bytes = 8N
 *   cast f32->bf16  bytes = 6N                       add        bytes = 12N
 *   scale           bytes = 8N                       axpy       bytes = 12N (x, y read, y written)
 *   gelu_fwd        bytes = 8N                       gelu_bwd   bytes = 12N
 *   sumsq           bytes = 4N                       adamw      bytes = 29N (grad, param, m, v
 *                                                                read, param, m, v written, u8 mask)
 *   embed_fwd       bytes = 8ND + 4N (row read and written, ids)
 *   embed_bwd       bytes = 12ND + 4N (dout read, dtable row read and written)
 *   pos_embed_fwd   bytes = 12ND + 4N
 *   rmsnorm_fwd     bytes = 8ND + 4D + 4N            rmsnorm_bwd bytes = 12ND + 8D + 4N (dw += )
 *   cross_entropy   bytes = 8NV + 12N (logits read, dlogits written, targets/weights/losses)
 *   kv_write        bytes = 8 B Tn H Dh
 *   attn_decode     bytes = 8 H Dh sum_b len_b (K and V cache read; q and out are noise)
 *   sample          bytes = 4BV
 *   matmul          flops = 2MNK
 *   attn_fwd        flops = 4 B H T^2 Dh, halved when causal (QK^T and PV, 2 T^2 Dh each)
 *   attn_bwd        flops = 10 B H T^2 Dh, halved when causal (recomputed QK^T, dV, dP, dQ, dK)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "commands.h"
#include "loretta/conformance.h"

/* The cpu backend's own GEMM, for the comparison with BLAS. */
#include "../backends/cpu/gemm_own.h"

#if defined(LT_HAVE_CBLAS) || (defined(__has_include) && __has_include(<cblas.h>))
#include <cblas.h>
/* Weak: a build without a BLAS library still links; the pointer is then NULL. */
#pragma weak cblas_sgemm
#define LT_BENCH_CBLAS 1
#endif

#define MAX_T 10

typedef struct bench_case {
    char size[64];
    double flops, bytes; /* per run; one of them is 0 */
    lt_op_call call;
    lt_tensor t[MAX_T];
    int nt;
    int failed; /* a tensor could not be made (message in lt_last_error) */
} bench_case;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x853c49e6748fea9bull;
static double urand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

/* A new tensor on dev filled with uniform values in [lo, hi) (integers: floor). */
static lt_tensor *make(bench_case *b, lt_device *dev, lt_dtype dt, int ndim, int64_t d0,
                       int64_t d1, int64_t d2, int64_t d3, double lo, double hi) {
    int64_t shape[4] = {d0, d1, d2, d3};
    lt_tensor *t = &b->t[b->nt];
    if (b->nt >= MAX_T || lt_tensor_alloc(dev, dt, ndim, shape, t) != LT_OK) {
        b->failed = 1;
        return NULL;
    }
    b->nt++;
    int64_t n = lt_tensor_numel(t);
    size_t sz = lt_dtype_size(dt);
    unsigned char *h = malloc((size_t)n * sz + 1);
    if (!h) {
        b->failed = 1;
        lt_error(LT_ERR_OUT_OF_MEMORY, "bench: host memory for %lld elements", (long long)n);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = lo + (hi - lo) * urand();
        switch (dt) {
        case LT_F32: { float f = (float)v; memcpy(h + i * 4, &f, 4); break; }
        case LT_F64: memcpy(h + i * 8, &v, 8); break;
        case LT_BF16: { uint16_t x = lt_f32_to_bf16((float)v); memcpy(h + i * 2, &x, 2); break; }
        case LT_F16: { uint16_t x = lt_f32_to_f16((float)v); memcpy(h + i * 2, &x, 2); break; }
        case LT_I32: { int32_t x = (int32_t)v; memcpy(h + i * 4, &x, 4); break; }
        case LT_U8: h[i] = (unsigned char)v; break;
        default: break;
        }
    }
    lt_status s = lt_tensor_upload(t, h, (size_t)n * sz);
    free(h);
    if (s != LT_OK) b->failed = 1;
    return s == LT_OK ? t : NULL;
}

#define F32 LT_F32
#define I32 LT_I32
#define MK(dt, nd, a, b_, c, d, lo, hi) make(b, dev, dt, nd, a, b_, c, d, lo, hi)

/* Builds the benchmark of `op` at its size; 0 on success. */
static int build(lt_op op, lt_device *dev, int quick, bench_case *b) {
    memset(b, 0, sizeof *b);
    lt_op_call *k = &b->call;
    k->op = op;
    const int64_t N = quick ? (1 << 18) : (1 << 22);              /* element-wise */
    const int64_t R = quick ? 1024 : 8192, D = 512;                /* rows x width */
    const int64_t T = quick ? 256 : 1024, H = 8, Dh = 64, B = 1;  /* attention */
    switch (op) {
    case LT_OP_FILL:
        k->dst[0] = MK(F32, 1, N, 0, 0, 0, 0, 1);
        k->p.fill.value = 1.5;
        snprintf(b->size, sizeof b->size, "N=%lld", (long long)N);
        b->bytes = 4.0 * N;
        break;
    case LT_OP_COPY:
        k->src[0] = MK(F32, 1, N, 0, 0, 0, -1, 1);
        k->dst[0] = MK(F32, 1, N, 0, 0, 0, 0, 1);
        snprintf(b->size, sizeof b->size, "N=%lld", (long long)N);
        b->bytes = 8.0 * N;
        break;
    case LT_OP_CAST:
        k->src[0] = MK(F32, 1, N, 0, 0, 0, -1, 1);
        k->dst[0] = MK(LT_BF16, 1, N, 0, 0, 0, 0, 1);
        snprintf(b->size, sizeof b->size, "N=%lld f32->bf16", (long long)N);
        b->bytes = 6.0 * N;
        break;
    case LT_OP_MATMUL: {
        int64_t m = quick ? 256 : 1024;
        k->src[0] = MK(F32, 2, m, m, 0, 0, -1, 1);
        k->src[1] = MK(F32, 2, m, m, 0, 0, -1, 1);
        k->dst[0] = MK(F32, 2, m, m, 0, 0, 0, 1);
        k->p.matmul = (lt_matmul_params){0, 1, 0, 1.0f};
        snprintf(b->size, sizeof b->size, "%lldx%lldx%lld B^T", (long long)m, (long long)m,
                 (long long)m);
        b->flops = 2.0 * m * m * m;
        break;
    }
    case LT_OP_EMBED_FWD:
    case LT_OP_POS_EMBED_FWD:
        k->src[0] = MK(I32, 1, R, 0, 0, 0, 0, 4096);
        k->src[1] = MK(F32, 2, 4096, D, 0, 0, -1, 1);
        k->dst[0] = MK(F32, 2, R, D, 0, 0, -1, 1);
        snprintf(b->size, sizeof b->size, "N=%lld D=%lld V=4096", (long long)R, (long long)D);
        b->bytes = (op == LT_OP_EMBED_FWD ? 8.0 : 12.0) * R * D + 4.0 * R;
        break;
    case LT_OP_EMBED_BWD:
        k->src[0] = MK(I32, 1, R, 0, 0, 0, 0, 4096);
        k->src[1] = MK(F32, 2, R, D, 0, 0, -1, 1);
        k->dst[0] = MK(F32, 2, 4096, D, 0, 0, 0, 0);
        snprintf(b->size, sizeof b->size, "N=%lld D=%lld V=4096", (long long)R, (long long)D);
        b->bytes = 12.0 * R * D + 4.0 * R;
        break;
    case LT_OP_RMSNORM_FWD:
        k->src[0] = MK(F32, 2, R, D, 0, 0, -1, 1);
        k->src[1] = MK(F32, 1, D, 0, 0, 0, 0.5, 1.5);
        k->dst[0] = MK(F32, 2, R, D, 0, 0, 0, 1);
        k->dst[1] = MK(F32, 1, R, 0, 0, 0, 0, 1);
        k->p.rmsnorm.eps = 1e-5f;
        snprintf(b->size, sizeof b->size, "%lldx%lld", (long long)R, (long long)D);
        b->bytes = 8.0 * R * D + 4.0 * D + 4.0 * R;
        break;
    case LT_OP_RMSNORM_BWD:
        k->src[0] = MK(F32, 2, R, D, 0, 0, -1, 1);
        k->src[1] = MK(F32, 2, R, D, 0, 0, -1, 1);
        k->src[2] = MK(F32, 1, D, 0, 0, 0, 0.5, 1.5);
        k->src[3] = MK(F32, 1, R, 0, 0, 0, 0.5, 1.5);
        k->dst[0] = MK(F32, 2, R, D, 0, 0, 0, 1);
        k->dst[1] = MK(F32, 1, D, 0, 0, 0, 0, 0);
        snprintf(b->size, sizeof b->size, "%lldx%lld", (long long)R, (long long)D);
        b->bytes = 12.0 * R * D + 8.0 * D + 4.0 * R;
        break;
    case LT_OP_GELU_FWD:
    case LT_OP_SCALE:
        k->src[0] = MK(F32, 1, N, 0, 0, 0, -4, 4);
        k->dst[0] = MK(F32, 1, N, 0, 0, 0, 0, 1);
        k->p.scalar.alpha = 0.5f;
        snprintf(b->size, sizeof b->size, "N=%lld", (long long)N);
        b->bytes = 8.0 * N;
        break;
    case LT_OP_GELU_BWD:
    case LT_OP_ADD:
        k->src[0] = MK(F32, 1, N, 0, 0, 0, -4, 4);
        k->src[1] = MK(F32, 1, N, 0, 0, 0, -4, 4);
        k->dst[0] = MK(F32, 1, N, 0, 0, 0, 0, 1);
        snprintf(b->size, sizeof b->size, "N=%lld", (long long)N);
        b->bytes = 12.0 * N;
        break;
    case LT_OP_AXPY:
        k->src[0] = MK(F32, 1, N, 0, 0, 0, -1, 1);
        k->dst[0] = MK(F32, 1, N, 0, 0, 0, -1, 1);
        k->p.scalar.alpha = 1e-3f;
        snprintf(b->size, sizeof b->size, "N=%lld", (long long)N);
        b->bytes = 12.0 * N;
        break;
    case LT_OP_CROSS_ENTROPY: {
        int64_t n = quick ? 64 : 512, V = 32000;
        k->src[0] = MK(F32, 2, n, V, 0, 0, -4, 4);
        k->src[1] = MK(I32, 1, n, 0, 0, 0, 0, (double)V);
        k->src[2] = MK(F32, 1, n, 0, 0, 0, 1, 1);
        k->dst[0] = MK(F32, 1, n, 0, 0, 0, 0, 1);
        k->dst[1] = MK(F32, 2, n, V, 0, 0, 0, 1);
        k->p.ce.grad_scale = 1.0f / (float)n;
        snprintf(b->size, sizeof b->size, "N=%lld V=%lld", (long long)n, (long long)V);
        b->bytes = 8.0 * n * V + 12.0 * n;
        break;
    }
    case LT_OP_ATTN_FWD:
    case LT_OP_ATTN_BWD: {
        lt_tensor *q = MK(F32, 4, B, T, H, Dh, -1, 1), *kk = MK(F32, 4, B, T, H, Dh, -1, 1);
        lt_tensor *v = MK(F32, 4, B, T, H, Dh, -1, 1), *o = MK(F32, 4, B, T, H, Dh, 0, 1);
        lt_tensor *lse = MK(F32, 3, B, H, T, 0, 0, 1);
        k->p.attn = (lt_attn_params){1, 0.125f};
        snprintf(b->size, sizeof b->size, "B=%lld T=%lld H=%lld Dh=%lld causal", (long long)B,
                 (long long)T, (long long)H, (long long)Dh);
        if (!q || !kk || !v || !o || !lse) return 1;
        if (op == LT_OP_ATTN_FWD) {
            k->src[0] = q, k->src[1] = kk, k->src[2] = v, k->dst[0] = o, k->dst[1] = lse;
            b->flops = 4.0 * B * H * T * T * Dh / 2;
            break;
        }
        /* The backward needs a consistent out and lse: one forward first. */
        lt_op_call f = {0};
        f.op = LT_OP_ATTN_FWD;
        f.src[0] = q, f.src[1] = kk, f.src[2] = v, f.dst[0] = o, f.dst[1] = lse;
        f.p.attn = k->p.attn;
        if (lt_conf_invoke(&f) != LT_OK) return 1;
        k->src[0] = MK(F32, 4, B, T, H, Dh, -1, 1);
        k->src[1] = q, k->src[2] = kk, k->src[3] = v, k->src[4] = o, k->src[5] = lse;
        k->dst[0] = MK(F32, 4, B, T, H, Dh, 0, 1);
        k->dst[1] = MK(F32, 4, B, T, H, Dh, 0, 1);
        k->dst[2] = MK(F32, 4, B, T, H, Dh, 0, 1);
        b->flops = 10.0 * B * H * T * T * Dh / 2;
        break;
    }
    case LT_OP_ATTN_DECODE: {
        int64_t Bd = 8, Tmax = quick ? 512 : 2048;
        k->src[0] = MK(F32, 4, Bd, 1, H, Dh, -1, 1);
        k->src[1] = MK(F32, 4, Bd, Tmax, H, Dh, -1, 1);
        k->src[2] = MK(F32, 4, Bd, Tmax, H, Dh, -1, 1);
        k->src[3] = MK(I32, 1, Bd, 0, 0, 0, (double)Tmax, (double)Tmax);
        k->dst[0] = MK(F32, 4, Bd, 1, H, Dh, 0, 1);
        k->p.attn = (lt_attn_params){1, 0.125f};
        snprintf(b->size, sizeof b->size, "B=%lld Tq=1 len=%lld H=%lld Dh=%lld", (long long)Bd,
                 (long long)Tmax, (long long)H, (long long)Dh);
        b->bytes = 8.0 * H * Dh * Bd * Tmax;
        break;
    }
    case LT_OP_KV_WRITE: {
        int64_t Bk = 8, Tn = 16, Tmax = 2048;
        k->src[0] = MK(F32, 4, Bk, Tn, H, Dh, -1, 1);
        k->src[1] = MK(I32, 1, Bk, 0, 0, 0, 100, 100);
        k->dst[0] = MK(F32, 4, Bk, Tmax, H, Dh, 0, 0);
        snprintf(b->size, sizeof b->size, "B=%lld Tn=%lld H=%lld Dh=%lld", (long long)Bk,
                 (long long)Tn, (long long)H, (long long)Dh);
        b->bytes = 8.0 * Bk * Tn * H * Dh;
        break;
    }
    case LT_OP_ADAMW:
        k->src[0] = MK(F32, 1, N, 0, 0, 0, -1, 1);
        k->src[1] = MK(LT_U8, 1, N, 0, 0, 0, 0, 2);
        k->dst[0] = MK(F32, 1, N, 0, 0, 0, -1, 1);
        k->dst[1] = MK(F32, 1, N, 0, 0, 0, -0.1, 0.1);
        k->dst[2] = MK(F32, 1, N, 0, 0, 0, 0, 0.01);
        k->p.adamw = (lt_adamw_params){1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 10};
        snprintf(b->size, sizeof b->size, "N=%lld", (long long)N);
        b->bytes = 29.0 * N;
        break;
    case LT_OP_SUMSQ:
        k->src[0] = MK(F32, 1, N, 0, 0, 0, -1, 1);
        k->dst[0] = MK(F32, 1, 1, 0, 0, 0, 0, 1);
        snprintf(b->size, sizeof b->size, "N=%lld", (long long)N);
        b->bytes = 4.0 * N;
        break;
    case LT_OP_SAMPLE: {
        int64_t Bs = 64, V = 32000;
        k->src[0] = MK(F32, 2, Bs, V, 0, 0, -4, 4);
        k->dst[0] = MK(I32, 1, Bs, 0, 0, 0, 0, 0);
        k->p.sample = (lt_sample_params){42, 1, 1.0f, 50, 0, (int32_t)V};
        snprintf(b->size, sizeof b->size, "B=%lld V=%lld top-50", (long long)Bs, (long long)V);
        b->bytes = 4.0 * Bs * V;
        break;
    }
    default: return 1;
    }
    return b->failed || b->nt == 0;
}

static void release(bench_case *b) {
    for (int i = 0; i < b->nt; i++) lt_tensor_free(&b->t[i]);
    b->nt = 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median wall time of `repeat` runs after one warm-up run; < 0 on error. */
static double time_call(lt_device *dev, const lt_op_call *call, int repeat, lt_status *st) {
    double *t = malloc(sizeof(double) * (size_t)repeat);
    if (!t) return -1.0;
    *st = lt_conf_invoke(call);
    if (*st == LT_OK) *st = lt_device_sync(dev);
    for (int r = 0; r < repeat && *st == LT_OK; r++) {
        double t0 = now_s();
        *st = lt_conf_invoke(call);
        if (*st == LT_OK) *st = lt_device_sync(dev);
        t[r] = now_s() - t0;
    }
    double med = -1.0;
    if (*st == LT_OK) {
        qsort(t, (size_t)repeat, sizeof(double), cmp_double);
        med = repeat % 2 ? t[repeat / 2] : 0.5 * (t[repeat / 2 - 1] + t[repeat / 2]);
    }
    free(t);
    return med;
}

static double median_of(double *t, int n) {
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static int host_threads(const lt_common_opts *o) {
    if (o->threads > 0) return o->threads;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* GEMM C[n,n] = A[n,n] B[n,n]^T three ways on the cpu device. */
static void gemm_compare(lt_device *dev, const lt_common_opts *o, int repeat, int quick) {
    printf("\nGEMM on %s:%d, C = A B^T (f32), %d thread(s), engine of the backend: %s\n",
           dev->backend->name, dev->index, host_threads(o), lt_cpu_gemm_engine());
    printf("%6s %16s %16s %16s %14s %14s\n", "n", "backend GFLOP/s", "cblas GFLOP/s", "own GFLOP/s",
           "backend/cblas", "own/cblas");
    const int sizes[3] = {512, 1024, 2048};
    for (int si = 0; si < 3; si++) {
        int64_t n = quick ? sizes[si] / 4 : sizes[si];
        double flops = 2.0 * (double)n * (double)n * (double)n;
        bench_case b;
        memset(&b, 0, sizeof b);
        lt_tensor *A = make(&b, dev, LT_F32, 2, n, n, 0, 0, -1, 1);
        lt_tensor *Bm = make(&b, dev, LT_F32, 2, n, n, 0, 0, -1, 1);
        lt_tensor *C = make(&b, dev, LT_F32, 2, n, n, 0, 0, 0, 1);
        if (!A || !Bm || !C || !A->buf->host_ptr) {
            printf("%6lld  (could not allocate host-visible buffers)\n", (long long)n);
            release(&b);
            continue;
        }
        lt_op_call call = {0};
        call.op = LT_OP_MATMUL;
        call.src[0] = A, call.src[1] = Bm, call.dst[0] = C;
        call.p.matmul = (lt_matmul_params){0, 1, 0, 1.0f};
        lt_status st;
        double t_backend = time_call(dev, &call, repeat, &st);
        const float *pa = (const float *)((char *)A->buf->host_ptr + A->offset);
        const float *pb = (const float *)((char *)Bm->buf->host_ptr + Bm->offset);
        float *pc = (float *)((char *)C->buf->host_ptr + C->offset);
        double *t = malloc(sizeof(double) * (size_t)repeat);
        double t_blas = -1.0, t_own = -1.0;
#ifdef LT_BENCH_CBLAS
        if (t && cblas_sgemm) {
            for (int r = -1; r < repeat; r++) {
                double t0 = now_s();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)n, 1.0f, pa,
                            (int)n, pb, (int)n, 0.0f, pc, (int)n);
                if (r >= 0) t[r] = now_s() - t0;
            }
            t_blas = median_of(t, repeat);
        }
#endif
        if (t) {
            int ok = 1;
            for (int r = -1; r < repeat && ok; r++) {
                double t0 = now_s();
                ok = lt_cpu_gemm_own(host_threads(o), 0, 1, n, n, n, 1.0f, pa, n, pb, n, 0.0f, pc,
                                     n) == LT_OK;
                if (r >= 0) t[r] = now_s() - t0;
            }
            if (ok) t_own = median_of(t, repeat);
        }
        free(t);
        char gb[32] = "-", gc[32] = "-", go[32] = "-", rb[32] = "-", ro[32] = "-";
        if (t_backend > 0) snprintf(gb, sizeof gb, "%.1f", flops / t_backend * 1e-9);
        if (t_blas > 0) snprintf(gc, sizeof gc, "%.1f", flops / t_blas * 1e-9);
        if (t_own > 0) snprintf(go, sizeof go, "%.1f", flops / t_own * 1e-9);
        if (t_backend > 0 && t_blas > 0) snprintf(rb, sizeof rb, "%.2f", t_blas / t_backend);
        if (t_own > 0 && t_blas > 0) snprintf(ro, sizeof ro, "%.2f", t_blas / t_own);
        printf("%6lld %16s %16s %16s %14s %14s\n", (long long)n, gb, gc, go, rb, ro);
        release(&b);
    }
#ifndef LT_BENCH_CBLAS
    printf("(no cblas.h in this build: the cblas column is empty)\n");
#endif
    printf("ratios: time of cblas_sgemm / time of the other (> 1 = faster than BLAS)\n");
}

int lt_bench_ops_main(int argc, char **argv) {
    lt_common_opts co;
    if (lt_parse_common(&argc, argv, &co)) return 2;
    const char *op_name = NULL;
    int repeat = 5, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--op") && i + 1 < argc) op_name = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else {
            fprintf(stderr, "usage: loretta bench ops [--backend NAME] [--device INDEX] [--threads N]"
                            " [--op NAME] [--repeat N] [--quick]\n");
            return 2;
        }
    }
    if (repeat < 1 || repeat > 1000) {
        fprintf(stderr, "loretta bench ops: --repeat wants 1..1000\n");
        return 2;
    }
    lt_op only = LT_OP_COUNT;
    if (op_name && lt_op_parse(op_name, &only) != LT_OK) return lt_fail("--op");
    lt_init();
    lt_device *devs[64];
    int ndev = 0;
    for (int i = 0; i < lt_device_count() && ndev < 64; i++) {
        lt_device *d = lt_device_get(i);
        if (co.backend ? strcmp(d->backend->name, co.backend) != 0 : d->info.is_reference) continue;
        if (co.threads > 0) lt_device_set_threads(d, co.threads);
        devs[ndev++] = d;
    }
    if (!ndev) {
        lt_device *d;
        if (co.backend) lt_device_find(co.backend, 0, &d);
        return lt_fail("bench ops: no device");
    }
    int errors = 0;
    printf("%-14s %-9s %-34s %11s %12s\n", "op", "device", "size", "median ms", "rate");
    for (int di = 0; di < ndev; di++) {
        lt_device *dev = devs[di];
        for (int op = 0; op < LT_OP_COUNT; op++) {
            if (op_name && op != (int)only) continue;
            bench_case b;
            char dname[24];
            snprintf(dname, sizeof dname, "%s:%d", dev->backend->name, dev->index);
            if (build((lt_op)op, dev, quick, &b)) {
                printf("%-14s %-9s %-34s  setup failed: %s\n", lt_op_name((lt_op)op), dname, b.size,
                       lt_last_error());
                release(&b);
                errors++;
                continue;
            }
            lt_status st;
            double t = time_call(dev, &b.call, repeat, &st);
            if (st != LT_OK) {
                printf("%-14s %-9s %-34s  %s: %s\n", lt_op_name((lt_op)op), dname, b.size,
                       st == LT_ERR_UNSUPPORTED ? "unsupported" : "error", lt_last_error());
                if (st != LT_ERR_UNSUPPORTED) errors++;
            } else if (b.flops > 0) {
                printf("%-14s %-9s %-34s %11.3f %7.1f GFLOP/s\n", lt_op_name((lt_op)op), dname,
                       b.size, t * 1e3, b.flops / t * 1e-9);
            } else {
                printf("%-14s %-9s %-34s %11.3f %7.1f GB/s\n", lt_op_name((lt_op)op), dname,
                       b.size, t * 1e3, b.bytes / t * 1e-9);
            }
            fflush(stdout);
            release(&b);
        }
        if (!strcmp(dev->backend->name, "cpu") && (!op_name || only == LT_OP_MATMUL))
            gemm_compare(dev, &co, repeat, quick);
    }
    return errors ? 1 : 0;
}
