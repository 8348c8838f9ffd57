/* apps/bench_attention.c - `loretta bench attention`: the tiled kernel against a naive
 * T x T attention, forward + backward, time and extra memory.
 *
 * The naive version lives here: it materialises the score matrix of every (b, h), keeps
 * P for the backward (as autograd would) and forms dS as a second T x T matrix; same f32,
 * same OpenMP thread count, vectorisable loops. Its extra memory is those two matrices,
 * 2 * B*H*T*T floats. The tiled kernel's extra memory is its per-thread scratch (as the
 * cpu backend reports it) plus the saved lse, B*H*T floats.
 *
 * Each measurement runs in a child process of its own, so the process peak RSS
 * (getrusage) of one does not hide the next; the parent never starts an OpenMP team, so
 * forking is safe. */
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
    int causal, reps;
    lt_common_opts dev;
} bench_cfg;

typedef struct bench_result {
    int ok, threads;
    double fwd_s, bwd_s;   /* best of reps */
    double extra_bytes;    /* counted: scratch + lse, or the T x T matrices; < 0 = unknown */
    long rss_base_kb;      /* peak RSS with inputs and outputs allocated */
    long rss_peak_kb;      /* peak RSS after the runs */
    double checksum;       /* sum of out, dq, dk, dv: the two implementations must agree */
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

static void fill_random(float *x, size_t n, uint64_t seed) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1 << 23)) - 1.0f;
    }
}

static double sum_all(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s;
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
        fill_random(x[i], n, (uint64_t)i);
    }
    float *q = x[0], *k = x[1], *v = x[2], *dout = x[3], *out = x[4];
    float *dq = x[5], *dk = x[6], *dv = x[7];
    res->threads = nt;
    res->rss_base_kb = peak_rss_kb();
    res->extra_bytes = 2.0 * (double)tt * sizeof(float);
    res->fwd_s = res->bwd_s = INFINITY;
    for (int rep = 0; rep < c->reps; rep++) {
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
        if (t1 - t0 < res->fwd_s) res->fwd_s = t1 - t0;
        if (t2 - t1 < res->bwd_s) res->bwd_s = t2 - t1;
    }
    res->rss_peak_kb = peak_rss_kb();
    res->checksum = sum_all(out, n) + sum_all(dq, n) + sum_all(dk, n) + sum_all(dv, n);
    for (int i = 0; i < 8; i++) free(x[i]);
    return 0;
}

/* ---------------------------------------------------------------- tiled ---- */

static int tiled_fail(bench_result *res, const char *what) {
    snprintf(res->err, sizeof res->err, "%s: %s", what, lt_last_error());
    return 1;
}

static int run_tiled(const bench_cfg *c, bench_result *res) {
    if (lt_init() != LT_OK) return tiled_fail(res, "init");
    lt_common_opts o = c->dev;
    if (!o.backend) o.backend = "cpu";
    lt_device *dev = NULL;
    if (lt_device_find(o.backend, o.device, &dev) != LT_OK) return tiled_fail(res, "device");
    if (o.threads > 0) lt_device_set_threads(dev, o.threads);
    int64_t shape[4] = {c->B, c->T, c->H, c->Dh}, lshape[3] = {c->B, c->H, c->T};
    size_t n = (size_t)(c->B * c->T * c->H * c->Dh);
    lt_tensor t[8], lse;
    float *host = malloc(n * sizeof(float));
    if (!host) return snprintf(res->err, sizeof res->err, "out of memory"), 1;
    for (int i = 0; i < 8; i++) {
        if (lt_tensor_alloc(dev, LT_F32, 4, shape, &t[i]) != LT_OK) return tiled_fail(res, "alloc");
        fill_random(host, n, (uint64_t)i); /* also touches every page of outputs */
        if (lt_tensor_upload(&t[i], host, n * sizeof(float)) != LT_OK)
            return tiled_fail(res, "upload");
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
    res->fwd_s = res->bwd_s = INFINITY;
    float scale = 1.0f / sqrtf((float)c->Dh);
    for (int rep = 0; rep < c->reps; rep++) {
        double t0 = now_s();
        if (lt_attention_forward(out, &lse, q, k, v, NULL, c->causal, scale) != LT_OK ||
            lt_device_sync(dev) != LT_OK)
            return tiled_fail(res, "attn_fwd");
        double t1 = now_s();
        if (lt_attention_backward(dq, dk, dv, dout, q, k, v, out, &lse, NULL, c->causal, scale) !=
                LT_OK ||
            lt_device_sync(dev) != LT_OK)
            return tiled_fail(res, "attn_bwd");
        double t2 = now_s();
        if (t1 - t0 < res->fwd_s) res->fwd_s = t1 - t0;
        if (t2 - t1 < res->bwd_s) res->bwd_s = t2 - t1;
    }
    res->rss_peak_kb = peak_rss_kb();
    res->checksum = 0.0;
    for (int i = 4; i < 8; i++) {
        if (lt_tensor_download(host, &t[i], n * sizeof(float)) != LT_OK)
            return tiled_fail(res, "download");
        res->checksum += sum_all(host, n);
    }
    for (int i = 0; i < 8; i++) lt_tensor_free(&t[i]);
    lt_tensor_free(&lse);
    free(host);
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

static void usage(void) {
    fprintf(stderr, "usage: loretta bench attention [--T 1024,2048,4096] [--B 1] [--H 8]\n"
                    "       [--Dh 64] [--causal 1|0] [--reps 2] [--threads N] [--backend cpu]\n");
}

static void mib(char *s, size_t n, double bytes) {
    if (bytes < 0) snprintf(s, n, "n/a");
    else snprintf(s, n, "%.2f", bytes / (1 << 20));
}

int lt_bench_attention_main(int argc, char **argv) {
    bench_cfg c = {1, 8, 64, 0, 1, 2, {NULL, 0, 0}};
    if (lt_parse_common(&argc, argv, &c.dev)) return 2;
    int64_t Ts[MAX_T] = {1024, 2048, 4096}, causal = 1, reps = 2;
    int nT = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        if (!val) return usage(), 2;
        int rc = 0;
        if (!strcmp(a, "--T")) {
            nT = parse_list(val, Ts, MAX_T);
            if (nT <= 0) {
                fprintf(stderr, "loretta bench attention: --T wants lengths like 1024,2048\n");
                return 2;
            }
        } else if (!strcmp(a, "--B")) rc = parse_int(a, val, 1, &c.B);
        else if (!strcmp(a, "--H")) rc = parse_int(a, val, 1, &c.H);
        else if (!strcmp(a, "--Dh")) rc = parse_int(a, val, 1, &c.Dh);
        else if (!strcmp(a, "--causal")) rc = parse_int(a, val, 0, &causal);
        else if (!strcmp(a, "--reps")) rc = parse_int(a, val, 1, &reps);
        else {
            fprintf(stderr, "loretta bench attention: unknown option '%s'\n", a);
            return usage(), 2;
        }
        if (rc) return rc;
        i++;
    }
    c.causal = causal != 0;
    c.reps = (int)reps;
    printf("attention forward+backward, f32, B=%lld H=%lld Dh=%lld, %s, best of %d\n",
           (long long)c.B, (long long)c.H, (long long)c.Dh, c.causal ? "causal" : "bidirectional",
           c.reps);
    printf("tiled = %s backend's kernel (extra = scratch + lse); naive = T x T in this file "
           "(extra = P + dS)\n",
           c.dev.backend ? c.dev.backend : "cpu");
    printf("%6s %7s | %9s %9s %9s %11s %9s | %9s %9s %9s %11s %9s | %6s %8s\n", "T", "threads",
           "tiled fwd", "bwd ms", "total ms", "extra MiB", "RSS+ MiB", "naive fwd", "bwd ms",
           "total ms", "extra MiB", "RSS+ MiB", "time", "memory");
    int failed = 0;
    for (int i = 0; i < nT; i++) {
        c.T = Ts[i];
        bench_result r[2];
        for (int naive = 0; naive < 2; naive++) {
            r[naive] = measure(&c, naive);
            if (!r[naive].ok) {
                fprintf(stderr, "loretta bench attention: T=%lld %s: %s\n", (long long)c.T,
                        naive ? "naive" : "tiled", r[naive].err);
                failed = 1;
            }
        }
        if (!r[0].ok || !r[1].ok) continue;
        char e0[32], e1[32], mem_ratio[32];
        mib(e0, sizeof e0, r[0].extra_bytes);
        mib(e1, sizeof e1, r[1].extra_bytes);
        if (r[0].extra_bytes > 0)
            snprintf(mem_ratio, sizeof mem_ratio, "%.0fx", r[1].extra_bytes / r[0].extra_bytes);
        else
            snprintf(mem_ratio, sizeof mem_ratio, "n/a");
        double t0 = r[0].fwd_s + r[0].bwd_s, t1 = r[1].fwd_s + r[1].bwd_s;
        printf("%6lld %7d | %9.1f %9.1f %9.1f %11s %9.1f | %9.1f %9.1f %9.1f %11s %9.1f | "
               "%5.2fx %8s\n",
               (long long)c.T, r[0].threads, 1e3 * r[0].fwd_s, 1e3 * r[0].bwd_s, 1e3 * t0, e0,
               (double)(r[0].rss_peak_kb - r[0].rss_base_kb) / 1024, 1e3 * r[1].fwd_s,
               1e3 * r[1].bwd_s, 1e3 * t1, e1, (double)(r[1].rss_peak_kb - r[1].rss_base_kb) / 1024,
               t1 / t0, mem_ratio);
        double scale = fabs(r[1].checksum) > 1.0 ? fabs(r[1].checksum) : 1.0;
        if (fabs(r[0].checksum - r[1].checksum) > 1e-3 * scale) {
            fprintf(stderr,
                    "loretta bench attention: T=%lld: tiled and naive disagree (checksums "
                    "%.6g vs %.6g)\n",
                    (long long)c.T, r[0].checksum, r[1].checksum);
            failed = 1;
        }
    }
    printf("time and memory columns at the right: naive / tiled. RSS+ = peak RSS growth over the\n"
           "inputs and outputs (getrusage, one process per measurement).\n");
    return failed;
}
