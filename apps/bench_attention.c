/* apps/bench_attention.c - `loretta bench attention`: a backend's tiled attention kernel,
 * forward + backward: time, TFLOP/s against the device's peak, and (on the cpu) a naive
 * T x T attention for comparison of time and extra memory.
 *
 * FLOPs follow the FlashAttention benchmarks: the forward counts its two T x T matmuls,
 * 4*B*H*T^2*Dh, halved when causal; the backward 2.5x the forward (five matmuls, one of
 * them the recomputed QK^T). Softmax and rescaling are not counted.
 *
 * Inputs: q, k, v of --dtype; with bf16/f16 the rest (out, dout, dq, dk, dv) is f32, as
 * the trainer's mixed precision uses them. lse is f32.
 *
 * The naive version lives here: it materialises the score matrix of every (b, h), keeps
 * P for the backward (as autograd would) and forms dS as a second T x T matrix; f32 on
 * the same (dtype-rounded) values, same OpenMP thread count, vectorisable loops. Its
 * extra memory is those two matrices, 2 * B*H*T*T floats. The tiled kernel's extra
 * memory is its per-thread scratch (as the cpu backend reports it) plus the saved lse,
 * B*H*T floats.
 *
 * Each measurement runs in a child process of its own, so the process peak RSS
 * (getrusage) of one does not hide the next; the parent never starts an OpenMP team or a
 * GPU context, so forking is safe. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../backends/cpu/cpu_attention.h"
#include "commands.h"

/* Absent when the cpu backend is not compiled in: then the scratch is reported as n/a. */
#pragma weak lt_cpu_attn_scratch_bytes

#define MAX_T 32

typedef struct bench_cfg {
    int64_t B, H, Dh, T;
    int64_t tokens;        /* > 0: B = tokens / T for each T (the FlashAttention setup) */
    int causal, reps, warmup;
    lt_dtype dtype;        /* of q, k, v */
    lt_common_opts dev;
} bench_cfg;

typedef struct bench_result {
    int ok, threads;
    lt_status status;      /* of the failing call when !ok */
    double fwd_s, bwd_s;   /* best of reps */
    double total_s;        /* best forward + backward of one rep */
    double extra_bytes;    /* counted: scratch + lse, or the T x T matrices; < 0 = unknown */
    long rss_base_kb;      /* peak RSS with inputs and outputs allocated */
    long rss_peak_kb;      /* peak RSS after the runs */
    double checksum;       /* sum of out, dq, dk, dv: the two implementations must agree */
    double peak_f32, peak_half; /* the device's dense peaks (0 = unknown) */
    char device[128];
    char err[256];
} bench_result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int is_half(lt_dtype t) { return t == LT_BF16 || t == LT_F16; }

/* Uniform in [-1, 1); slots 0-2 (q, k, v) rounded to the input dtype, so the naive f32
 * code sees exactly the values the kernel loads. */
static void fill_random(float *x, size_t n, uint64_t seed, lt_dtype round_to) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1 << 23)) - 1.0f;
        if (round_to == LT_BF16) x[i] = lt_bf16_to_f32(lt_f32_to_bf16(x[i]));
        else if (round_to == LT_F16) x[i] = lt_f16_to_f32(lt_f32_to_f16(x[i]));
    }
}

static lt_dtype slot_dtype(const bench_cfg *c, int slot) {
    if (slot < 3) return c->dtype;
    return is_half(c->dtype) ? LT_F32 : c->dtype;
}

static double sum_all(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s;
}

static double attn_fwd_flops(const bench_cfg *c) {
    double f = 4.0 * (double)c->B * (double)c->H * (double)c->T * (double)c->T * (double)c->Dh;
    return c->causal ? 0.5 * f : f;
}

/* ---------------------------------------------------------------- naive ---- */

/* Row i of (b, h) in a contiguous [B, T, H, Dh] array. */
#define ROW(x, b, t, h) ((x) + (((b) * c->T + (t)) * c->H + (h)) * c->Dh)

static int64_t naive_keys(const bench_cfg *c, int64_t i) { return c->causal ? i + 1 : c->T; }

/* P[bh][i][:] = softmax(scale * q_i K^T) over visible keys, out = P V. */
static void naive_forward(const bench_cfg *c, int nt, const float *q, const float *k,
                          const float *v, float *out, float *P) {
    int64_t T = c->T, H = c->H, Dh = c->Dh, rows = c->B * H * T;
    float scale = 1.0f / sqrtf((float)Dh);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 16) num_threads(nt)
#endif
    for (int64_t r = 0; r < rows; r++) {
        int64_t bh = r / T, i = r % T, b = bh / H, h = bh % H, n = naive_keys(c, i);
        const float *qi = ROW(q, b, i, h);
        float *p = P + r * T, *o = ROW(out, b, i, h);
        float mx = -INFINITY, sum = 0.0f;
        for (int64_t j = 0; j < n; j++) {
            const float *kj = ROW(k, b, j, h);
            float s = 0.0f;
#ifdef _OPENMP
#pragma omp simd reduction(+ : s)
#endif
            for (int64_t d = 0; d < Dh; d++) s += qi[d] * kj[d];
            p[j] = s * scale;
            mx = p[j] > mx ? p[j] : mx;
        }
        for (int64_t j = 0; j < n; j++) sum += (p[j] = expf(p[j] - mx));
        for (int64_t j = 0; j < n; j++) p[j] /= sum;
        for (int64_t j = n; j < T; j++) p[j] = 0.0f;
        for (int64_t d = 0; d < Dh; d++) o[d] = 0.0f;
        for (int64_t j = 0; j < n; j++) {
            const float *vj = ROW(v, b, j, h);
            for (int64_t d = 0; d < Dh; d++) o[d] += p[j] * vj[d];
        }
    }
}

/* dS = P * (dO V^T - rowsum(dO * O)); dQ = scale dS K; dK = scale dS^T Q; dV = P^T dO. */
static void naive_backward(const bench_cfg *c, int nt, const float *q, const float *k,
                           const float *v, const float *out, const float *dout, const float *P,
                           float *dS, float *dq, float *dk, float *dv) {
    int64_t T = c->T, H = c->H, Dh = c->Dh, rows = c->B * H * T;
    float scale = 1.0f / sqrtf((float)Dh);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 16) num_threads(nt)
#endif
    for (int64_t r = 0; r < rows; r++) { /* dS row by row, and dQ from it */
        int64_t bh = r / T, i = r % T, b = bh / H, h = bh % H, n = naive_keys(c, i);
        const float *doi = ROW(dout, b, i, h), *oi = ROW(out, b, i, h), *p = P + r * T;
        float *ds = dS + r * T, *g = ROW(dq, b, i, h), D = 0.0f;
        for (int64_t d = 0; d < Dh; d++) D += doi[d] * oi[d];
        for (int64_t j = 0; j < n; j++) {
            const float *vj = ROW(v, b, j, h);
            float dp = 0.0f;
#ifdef _OPENMP
#pragma omp simd reduction(+ : dp)
#endif
            for (int64_t d = 0; d < Dh; d++) dp += doi[d] * vj[d];
            ds[j] = p[j] * (dp - D) * scale;
        }
        for (int64_t j = n; j < T; j++) ds[j] = 0.0f;
        for (int64_t d = 0; d < Dh; d++) g[d] = 0.0f;
        for (int64_t j = 0; j < n; j++) {
            const float *kj = ROW(k, b, j, h);
            for (int64_t d = 0; d < Dh; d++) g[d] += ds[j] * kj[d];
        }
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 16) num_threads(nt)
#endif
    for (int64_t r = 0; r < rows; r++) { /* dK, dV column by column of dS and P */
        int64_t bh = r / T, j = r % T, b = bh / H, h = bh % H;
        float *gk = ROW(dk, b, j, h), *gv = ROW(dv, b, j, h);
        for (int64_t d = 0; d < Dh; d++) gk[d] = gv[d] = 0.0f;
        for (int64_t i = c->causal ? j : 0; i < T; i++) {
            float s = dS[(bh * T + i) * T + j], p = P[(bh * T + i) * T + j];
            const float *qi = ROW(q, b, i, h), *doi = ROW(dout, b, i, h);
            for (int64_t d = 0; d < Dh; d++) {
                gk[d] += s * qi[d];
                gv[d] += p * doi[d];
            }
        }
    }
}

static void keep_best(bench_result *res, double fwd, double bwd) {
    if (fwd < res->fwd_s) res->fwd_s = fwd;
    if (bwd < res->bwd_s) res->bwd_s = bwd;
    if (fwd + bwd < res->total_s) res->total_s = fwd + bwd;
}

static int run_naive(const bench_cfg *c, bench_result *res) {
    int nt = c->dev.threads;
#ifdef _OPENMP
    if (nt <= 0) nt = omp_get_max_threads();
#else
    nt = 1;
#endif
    size_t n = (size_t)(c->B * c->T * c->H * c->Dh);
    size_t tt = (size_t)(c->B * c->H * c->T) * (size_t)c->T;
    float *x[8];
    for (int i = 0; i < 8; i++) {
        x[i] = malloc(n * sizeof(float));
        if (!x[i]) return snprintf(res->err, sizeof res->err, "out of memory"), 1;
        fill_random(x[i], n, (uint64_t)i, i < 3 ? c->dtype : LT_F32);
    }
    float *q = x[0], *k = x[1], *v = x[2], *dout = x[3], *out = x[4];
    float *dq = x[5], *dk = x[6], *dv = x[7];
    res->threads = nt;
    res->rss_base_kb = peak_rss_kb();
    res->extra_bytes = 2.0 * (double)tt * sizeof(float);
    res->fwd_s = res->bwd_s = res->total_s = INFINITY;
    for (int rep = -c->warmup; rep < c->reps; rep++) {
        double t0 = now_s();
        float *P = malloc(tt * sizeof(float));
        if (!P) return snprintf(res->err, sizeof res->err, "out of memory (P)"), 1;
        naive_forward(c, nt, q, k, v, out, P);
        double t1 = now_s();
        float *dS = malloc(tt * sizeof(float));
        if (!dS) return snprintf(res->err, sizeof res->err, "out of memory (dS)"), 1;
        naive_backward(c, nt, q, k, v, out, dout, P, dS, dq, dk, dv);
        free(dS);
        free(P);
        double t2 = now_s();
        if (rep >= 0) keep_best(res, t1 - t0, t2 - t1);
    }
    res->rss_peak_kb = peak_rss_kb();
    res->checksum = sum_all(out, n) + sum_all(dq, n) + sum_all(dk, n) + sum_all(dv, n);
    for (int i = 0; i < 8; i++) free(x[i]);
    return 0;
}

/* ---------------------------------------------------------------- tiled ---- */

static int tiled_fail(bench_result *res, const char *what) {
    res->status = LT_ERR_INTERNAL;
    snprintf(res->err, sizeof res->err, "%s: %s", what, lt_last_error());
    return 1;
}

static int tiled_status(bench_result *res, lt_status s, const char *what) {
    int rc = tiled_fail(res, what);
    res->status = s;
    return rc;
}

/* Uploads n host floats into t, converting to t's dtype (through `tmp`, n elements). */
static lt_status upload_as(lt_tensor *t, const float *host, size_t n, void *tmp) {
    if (t->dtype == LT_F32) return lt_tensor_upload(t, host, n * sizeof(float));
    uint16_t *h = tmp;
    for (size_t i = 0; i < n; i++)
        h[i] = t->dtype == LT_BF16 ? lt_f32_to_bf16(host[i]) : lt_f32_to_f16(host[i]);
    return lt_tensor_upload(t, h, n * sizeof(uint16_t));
}

static int run_tiled(const bench_cfg *c, bench_result *res) {
    if (lt_init() != LT_OK) return tiled_fail(res, "init");
    lt_common_opts o = c->dev;
    if (!o.backend) o.backend = "cpu";
    lt_device *dev = NULL;
    if (lt_device_find(o.backend, o.device, &dev) != LT_OK) return tiled_fail(res, "device");
    if (o.threads > 0) lt_device_set_threads(dev, o.threads);
    snprintf(res->device, sizeof res->device, "%s", dev->info.name);
    res->peak_f32 = dev->info.peak_flops_f32;
    res->peak_half = dev->info.peak_flops_half;
    int64_t shape[4] = {c->B, c->T, c->H, c->Dh}, lshape[3] = {c->B, c->H, c->T};
    size_t n = (size_t)(c->B * c->T * c->H * c->Dh);
    lt_tensor t[8], lse;
    float *host = malloc(n * sizeof(float));
    uint16_t *tmp = malloc(n * sizeof(uint16_t));
    if (!host || !tmp) return snprintf(res->err, sizeof res->err, "out of memory"), 1;
    for (int i = 0; i < 8; i++) {
        if (lt_tensor_alloc(dev, slot_dtype(c, i), 4, shape, &t[i]) != LT_OK)
            return tiled_fail(res, "alloc");
        fill_random(host, n, (uint64_t)i, i < 3 ? c->dtype : LT_F32); /* touches every page */
        if (upload_as(&t[i], host, n, tmp) != LT_OK) return tiled_fail(res, "upload");
    }
    if (lt_tensor_alloc(dev, LT_F32, 3, lshape, &lse) != LT_OK) return tiled_fail(res, "alloc");
    lt_tensor *q = &t[0], *k = &t[1], *v = &t[2], *dout = &t[3], *out = &t[4];
    lt_tensor *dq = &t[5], *dk = &t[6], *dv = &t[7];
    int is_cpu = !strcmp(dev->backend->name, "cpu");
    res->threads = is_cpu ? lt_cpu_threads(dev) : 0;
    res->extra_bytes = -1.0;
    if (is_cpu && lt_cpu_attn_scratch_bytes) {
        size_t f = lt_cpu_attn_scratch_bytes(c->Dh, res->threads, 0);
        size_t b = lt_cpu_attn_scratch_bytes(c->Dh, res->threads, 1);
        res->extra_bytes = (double)(f > b ? f : b) + (double)lt_tensor_nbytes(&lse);
    }
    res->rss_base_kb = peak_rss_kb();
    res->fwd_s = res->bwd_s = res->total_s = INFINITY;
    float scale = 1.0f / sqrtf((float)c->Dh);
    lt_status s;
    for (int rep = -c->warmup; rep < c->reps; rep++) {
        double t0 = now_s();
        s = lt_attention_forward(out, &lse, q, k, v, NULL, c->causal, scale);
        if (s == LT_OK) s = lt_device_sync(dev);
        if (s != LT_OK) return tiled_status(res, s, "attn_fwd");
        double t1 = now_s();
        s = lt_attention_backward(dq, dk, dv, dout, q, k, v, out, &lse, NULL, c->causal, scale);
        if (s == LT_OK) s = lt_device_sync(dev);
        if (s != LT_OK) return tiled_status(res, s, "attn_bwd");
        double t2 = now_s();
        if (rep >= 0) keep_best(res, t1 - t0, t2 - t1);
    }
    res->rss_peak_kb = peak_rss_kb();
    res->checksum = 0.0;
    for (int i = 4; i < 8; i++) { /* f32 whenever the inputs are half */
        if (t[i].dtype != LT_F32) continue;
        if (lt_tensor_download(host, &t[i], n * sizeof(float)) != LT_OK)
            return tiled_fail(res, "download");
        res->checksum += sum_all(host, n);
    }
    for (int i = 0; i < 8; i++) lt_tensor_free(&t[i]);
    lt_tensor_free(&lse);
    free(host);
    free(tmp);
    return 0;
}

/* ---------------------------------------------------------------- driver ---- */

/* Runs one measurement in a child process and returns its result through a pipe. */
static bench_result measure(const bench_cfg *c, int naive) {
    bench_result res;
    memset(&res, 0, sizeof res);
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(res.err, sizeof res.err, "pipe failed");
        return res;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        bench_result r;
        memset(&r, 0, sizeof r);
        r.ok = (naive ? run_naive(c, &r) : run_tiled(c, &r)) == 0;
        ssize_t w = write(fd[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        snprintf(res.err, sizeof res.err, "fork failed");
        return res;
    }
    ssize_t got = read(fd[0], &res, sizeof res);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != (ssize_t)sizeof res) {
        memset(&res, 0, sizeof res);
        snprintf(res.err, sizeof res.err, "measurement process died (status %d)", status);
    }
    return res;
}

static int parse_list(const char *s, int64_t *out, int max) {
    int n = 0;
    while (*s && n < max) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v <= 0) return -1;
        out[n++] = v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return *s ? -1 : n;
}

static int parse_int(const char *flag, const char *s, int64_t lo, int64_t *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || end == s || v < lo) {
        fprintf(stderr, "loretta bench attention: %s wants an integer >= %lld, got '%s'\n", flag,
                (long long)lo, s);
        return 2;
    }
    *out = v;
    return 0;
}

/* A 0/1 switch. */
static int parse_flag(const char *flag, const char *s, int64_t *out) {
    if (strcmp(s, "0") && strcmp(s, "1")) {
        fprintf(stderr, "loretta bench attention: %s is 0 or 1, got '%s'\n", flag, s);
        return 2;
    }
    *out = s[0] - '0';
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loretta bench attention [--dtype f32|bf16|f16] [--T 1024,2048,4096]\n"
            "       [--B 1 | --tokens N] [--H 8] [--Dh 64] [--causal 1|0] [--reps 2]\n"
            "       [--warmup 0] [--naive 1|0] [--peak TFLOPS] [--threads N] [--backend cpu]\n"
            "  Times the backend's attention forward and backward (device synced), best of\n"
            "  --reps after --warmup untimed runs. TFLOP/s use the FlashAttention count:\n"
            "  forward 4*B*H*T^2*Dh (halved when causal), backward 2.5x the forward; %% of\n"
            "  peak is against the device's dense peak for the dtype (bf16/f16: matrix\n"
            "  units; --peak overrides it), n/a when unknown. --tokens N sets B = N/T per T.\n"
            "  --dtype bf16|f16: q, k, v in that dtype, out, dout, dq, dk, dv f32.\n"
            "  --naive 1 (the default on the cpu) also runs a T x T attention on the CPU\n"
            "  threads and compares time, memory and results.\n");
}

static void mib(char *s, size_t n, double bytes) {
    if (bytes < 0) snprintf(s, n, "n/a");
    else snprintf(s, n, "%.2f", bytes / (1 << 20));
}

static void pct(char *s, size_t n, double rate, double peak) {
    if (peak > 0) snprintf(s, n, "%.1f", 100.0 * rate / peak);
    else snprintf(s, n, "n/a");
}

/* The header, once the first measurement has named the device and its peak. */
static void print_header(const bench_cfg *c, const bench_result *r, double peak, double unit) {
    const char *be = c->dev.backend ? c->dev.backend : "cpu";
    printf("attention forward+backward on %s [%s]: q/k/v %s", r->device, be,
           lt_dtype_name(c->dtype));
    if (is_half(c->dtype)) printf(" (out, dout, dq, dk, dv f32)");
    printf(", H=%lld Dh=%lld, %s, ", (long long)c->H, (long long)c->Dh,
           c->causal ? "causal" : "bidirectional");
    if (c->tokens > 0) printf("B = %lld/T, ", (long long)c->tokens);
    printf("best of %d after %d warm-up\n", c->reps, c->warmup);
    if (peak > 0) printf("peak %.1f TFLOP/s (%s, dense)\n", peak / 1e12, lt_dtype_name(c->dtype));
    else printf("peak unknown for this device and dtype: %% of peak is n/a (--peak sets it)\n");
    const char *u = unit >= 1e12 ? "TF/s" : "GF/s";
    char f[16], b[16], t[16];
    snprintf(f, sizeof f, "fwd %s", u);
    snprintf(b, sizeof b, "bwd %s", u);
    snprintf(t, sizeof t, "tot %s", u);
    printf("%6s %5s %7s | %9s %9s %9s | %8s %8s %8s %7s | %9s %9s\n", "T", "B", "threads",
           "fwd ms", "bwd ms", "total ms", f, b, t, "% peak", "extra MiB", "RSS+ MiB");
}

static void print_naive(const bench_result *tiled, const bench_result *slow, const int64_t *Ts,
                        const int64_t *Bs, int nT) {
    printf("\nnaive T x T attention (this file, f32, CPU threads) against the tiled kernel\n");
    printf("%6s %5s %7s | %9s %9s %9s %11s %9s | %6s %8s\n", "T", "B", "threads", "naive fwd",
           "bwd ms", "total ms", "extra MiB", "RSS+ MiB", "time", "memory");
    for (int i = 0; i < nT; i++) {
        const bench_result *t = &tiled[i], *n = &slow[i];
        if (!t->ok || !n->ok) continue;
        char e1[32], mem_ratio[32];
        mib(e1, sizeof e1, n->extra_bytes);
        if (t->extra_bytes > 0)
            snprintf(mem_ratio, sizeof mem_ratio, "%.0fx", n->extra_bytes / t->extra_bytes);
        else
            snprintf(mem_ratio, sizeof mem_ratio, "n/a");
        printf("%6lld %5lld %7d | %9.1f %9.1f %9.1f %11s %9.1f | %5.2fx %8s\n", (long long)Ts[i],
               (long long)Bs[i], n->threads, 1e3 * n->fwd_s, 1e3 * n->bwd_s, 1e3 * n->total_s, e1,
               (double)(n->rss_peak_kb - n->rss_base_kb) / 1024, n->total_s / t->total_s,
               mem_ratio);
    }
    printf("time and memory: naive / tiled. extra = tiled scratch + lse, naive P + dS;\n"
           "RSS+ = peak RSS growth over the inputs and outputs (getrusage, one process each)\n");
}

int lt_bench_attention_main(int argc, char **argv) {
    bench_cfg c = {1, 8, 64, 0, 0, 1, 2, 0, LT_F32, {NULL, 0, 0}};
    if (lt_parse_common(&argc, argv, &c.dev)) return 2;
    int64_t Ts[MAX_T] = {1024, 2048, 4096}, causal = 1, reps = 2, warmup = 0, naive = -1;
    int64_t B = 1;
    int have_B = 0;
    double peak_override = 0.0;
    int nT = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        if (!val) {
            fprintf(stderr, "loretta bench attention: %s needs a value\n", a);
            return usage(), 2;
        }
        int rc = 0;
        if (!strcmp(a, "--T")) {
            nT = parse_list(val, Ts, MAX_T);
            if (nT <= 0) {
                fprintf(stderr, "loretta bench attention: --T wants lengths like 1024,2048\n");
                return 2;
            }
        } else if (!strcmp(a, "--dtype")) {
            if (lt_dtype_parse(val, &c.dtype) != LT_OK ||
                (c.dtype != LT_F32 && !is_half(c.dtype))) {
                fprintf(stderr, "loretta bench attention: --dtype is f32, bf16 or f16, not '%s'\n",
                        val);
                return 2;
            }
        } else if (!strcmp(a, "--peak")) {
            char *end;
            peak_override = strtod(val, &end);
            if (*end || end == val || !(peak_override > 0)) {
                fprintf(stderr, "loretta bench attention: --peak wants TFLOP/s > 0, got '%s'\n", val);
                return 2;
            }
            peak_override *= 1e12;
        } else if (!strcmp(a, "--B")) rc = parse_int(a, val, 1, &B), have_B = 1;
        else if (!strcmp(a, "--tokens")) rc = parse_int(a, val, 1, &c.tokens);
        else if (!strcmp(a, "--H")) rc = parse_int(a, val, 1, &c.H);
        else if (!strcmp(a, "--Dh")) rc = parse_int(a, val, 1, &c.Dh);
        else if (!strcmp(a, "--causal")) rc = parse_flag(a, val, &causal);
        else if (!strcmp(a, "--reps")) rc = parse_int(a, val, 1, &reps);
        else if (!strcmp(a, "--warmup")) rc = parse_int(a, val, 0, &warmup);
        else if (!strcmp(a, "--naive")) rc = parse_flag(a, val, &naive);
        else {
            fprintf(stderr, "loretta bench attention: unknown option '%s'\n", a);
            return usage(), 2;
        }
        if (rc) return rc;
        i++;
    }
    if (have_B && c.tokens > 0) {
        fprintf(stderr, "loretta bench attention: give --B (a fixed batch) or --tokens (B = tokens / T), "
                        "not both\n");
        return 2;
    }
    c.causal = causal != 0;
    c.reps = (int)reps;
    c.warmup = (int)warmup;
    const char *be = c.dev.backend ? c.dev.backend : "cpu";
    int with_naive = naive < 0 ? !strcmp(be, "cpu") : naive != 0;

    int failed = 0, header = 0;
    double unit = 1e12; /* TFLOP/s, or GFLOP/s when the first rate is below 1 TFLOP/s */
    char results[MAX_T][512];
    int n_results = 0;
    bench_result tiled[MAX_T], slow[MAX_T];
    int64_t Bs[MAX_T];
    memset(tiled, 0, sizeof tiled);
    memset(slow, 0, sizeof slow);
    for (int i = 0; i < nT; i++) {
        c.T = Ts[i];
        c.B = c.tokens > 0 ? (c.tokens / c.T > 0 ? c.tokens / c.T : 1) : B;
        Bs[i] = c.B;
        bench_result *r = &tiled[i];
        *r = measure(&c, 0);
        if (!r->ok) {
            fprintf(stderr, "loretta bench attention: T=%lld: %s\n", (long long)c.T, r->err);
            if (r->status == LT_ERR_UNSUPPORTED || r->status == LT_ERR_DTYPE) {
                fprintf(stderr,
                        "loretta bench attention: the %s backend cannot run attention with %s "
                        "inputs in this build (try --dtype f32)\n",
                        be, lt_dtype_name(c.dtype));
                return 1;
            }
            failed = 1;
            continue;
        }
        double peak = peak_override > 0 ? peak_override
                      : is_half(c.dtype) ? r->peak_half
                      : c.dtype == LT_F32 ? r->peak_f32 : 0.0;
        double ff = attn_fwd_flops(&c), fb = 2.5 * ff;
        if (!header) {
            if ((ff + fb) / r->total_s < 1e12) unit = 1e9;
            print_header(&c, r, peak, unit);
            header = 1;
        }
        char e0[32], p0[32], pk[32];
        mib(e0, sizeof e0, r->extra_bytes);
        pct(p0, sizeof p0, (ff + fb) / r->total_s, peak);
        if (peak > 0) snprintf(pk, sizeof pk, "%.1f", peak / 1e12);
        else snprintf(pk, sizeof pk, "n/a");
        printf("%6lld %5lld %7d | %9.3f %9.3f %9.3f | %8.2f %8.2f %8.2f %7s | %9s %9.1f\n",
               (long long)c.T, (long long)c.B, r->threads, 1e3 * r->fwd_s, 1e3 * r->bwd_s,
               1e3 * r->total_s, ff / r->fwd_s / unit, fb / r->bwd_s / unit,
               (ff + fb) / r->total_s / unit, p0, e0,
               (double)(r->rss_peak_kb - r->rss_base_kb) / 1024);
        snprintf(results[n_results++], sizeof results[0],
                 "RESULT attention backend=%s dtype=%s B=%lld H=%lld T=%lld Dh=%lld causal=%d "
                 "fwd_ms=%.4f bwd_ms=%.4f total_ms=%.4f fwd_tflops=%.4g bwd_tflops=%.4g "
                 "total_tflops=%.4g peak_tflops=%s pct_peak=%s",
                 be, lt_dtype_name(c.dtype), (long long)c.B, (long long)c.H, (long long)c.T,
                 (long long)c.Dh, c.causal, 1e3 * r->fwd_s, 1e3 * r->bwd_s, 1e3 * r->total_s,
                 ff / r->fwd_s / 1e12, fb / r->bwd_s / 1e12, (ff + fb) / r->total_s / 1e12, pk,
                 p0);
        if (!with_naive) continue;
        slow[i] = measure(&c, 1);
        if (!slow[i].ok) {
            fprintf(stderr, "loretta bench attention: T=%lld naive: %s\n", (long long)c.T,
                    slow[i].err);
            failed = 1;
            continue;
        }
        double scale = fabs(slow[i].checksum) > 1.0 ? fabs(slow[i].checksum) : 1.0;
        if (fabs(r->checksum - slow[i].checksum) > 1e-3 * scale) {
            fprintf(stderr,
                    "loretta bench attention: T=%lld: tiled and naive disagree (checksums "
                    "%.6g vs %.6g)\n",
                    (long long)c.T, r->checksum, slow[i].checksum);
            failed = 1;
        }
    }
    if (with_naive && header) print_naive(tiled, slow, Ts, Bs, nT);
    for (int i = 0; i < n_results; i++) printf("%s\n", results[i]);
    return failed;
}
