/* core/source_mfcc.c - MFCC features as python_speech_features computes them (the
 * library the SVL-MNIST preparation used), with FFTW for the real FFT. Every step
 * mirrors that library so features match it to rounding (tests/golden check this). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/sources.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

lt_mfcc_params lt_mfcc_default(void) {
    lt_mfcc_params p = {8000, 0.050f, 0.025f, 1.0f, 13, 26, 0};
    return p;
}

/* python's round_half_up(x) = int(decimal round half up) */
static long round_half_up(double x) { return (long)floor(x + 0.5); }

static long frame_len(const lt_mfcc_params *p) { return round_half_up((double)p->win_s * p->sample_rate); }
static long frame_step(const lt_mfcc_params *p) { return round_half_up((double)p->hop_s * p->sample_rate); }
static long signal_len(const lt_mfcc_params *p) { return round_half_up((double)p->duration_s * p->sample_rate); }

int lt_mfcc_frames(const lt_mfcc_params *p) {
    long slen = signal_len(p), fl = frame_len(p), fs = frame_step(p);
    if (fl <= 0 || fs <= 0) return 0;
    return slen <= fl ? 1 : 1 + (int)ceil((double)(slen - fl) / (double)fs);
}

static int nfft_of(const lt_mfcc_params *p) {
    if (p->nfft > 0) return p->nfft;
    int n = 1;
    while ((double)n < (double)p->win_s * p->sample_rate) n *= 2;
    return n;
}

static double hz2mel(double hz) { return 2595.0 * log10(1.0 + hz / 700.0); }
static double mel2hz(double mel) { return 700.0 * (pow(10.0, mel / 2595.0) - 1.0); }

#ifdef LT_HAVE_FFTW
#include <fftw3.h>
#include <pthread.h>

/* FFTW's planner is not thread-safe; execution is. */
static pthread_mutex_t lt_fftw_lock = PTHREAD_MUTEX_INITIALIZER;

lt_status lt_mfcc_compute(const float *x, size_t n, const lt_mfcc_params *p, float *out) {
    if (!x || !p || !out) return lt_error(LT_ERR_INVALID_ARG, "mfcc: NULL argument");
    if (p->sample_rate <= 0 || !(p->win_s > 0) || !(p->hop_s > 0) || !(p->duration_s > 0) ||
        p->n_filters < 1 || p->n_coeffs < 1 || p->n_coeffs > p->n_filters)
        return lt_error(LT_ERR_INVALID_ARG, "mfcc: invalid parameters (rate %d, window %g s, hop %g s, "
                        "%d coefficients of %d filters)", p->sample_rate, p->win_s, p->hop_s,
                        p->n_coeffs, p->n_filters);
    long slen = signal_len(p), fl = frame_len(p), fs = frame_step(p);
    int nframes = lt_mfcc_frames(p), nfft = nfft_of(p), nbins = nfft / 2 + 1;
    long padlen = (long)(nframes - 1) * fs + fl;
    double *sig = calloc((size_t)padlen, sizeof(double));
    double *fb = calloc((size_t)p->n_filters * (size_t)nbins, sizeof(double));
    double *frame = fftw_malloc(sizeof(double) * (size_t)nfft);
    fftw_complex *spec = fftw_malloc(sizeof(fftw_complex) * (size_t)nbins);
    double *logfb = malloc(sizeof(double) * (size_t)p->n_filters);
    lt_status s = LT_OK;
    if (!sig || !fb || !frame || !spec || !logfb) {
        s = lt_error(LT_ERR_OUT_OF_MEMORY, "mfcc: out of host memory");
        goto done;
    }
    /* Pad with zeros or crop to duration_s, then pre-emphasis y[i] = x[i] - 0.97 x[i-1]. */
    for (long i = 0; i < slen; i++) {
        double cur = (size_t)i < n ? x[i] : 0.0;
        double prev = i > 0 && (size_t)(i - 1) < n ? x[i - 1] : 0.0;
        sig[i] = i == 0 ? cur : cur - 0.97 * prev;
    }
    /* Triangular mel filters on FFT bins, exactly as get_filterbanks builds them. */
    double lowmel = hz2mel(0.0), highmel = hz2mel(p->sample_rate / 2.0);
    double *bin = malloc(sizeof(double) * (size_t)(p->n_filters + 2));
    if (!bin) {
        s = lt_error(LT_ERR_OUT_OF_MEMORY, "mfcc: out of host memory");
        goto done;
    }
    for (int j = 0; j < p->n_filters + 2; j++) {
        double mel = lowmel + (highmel - lowmel) * j / (p->n_filters + 1);
        bin[j] = floor((nfft + 1) * mel2hz(mel) / p->sample_rate);
    }
    for (int j = 0; j < p->n_filters; j++) {
        for (long i = (long)bin[j]; i < (long)bin[j + 1]; i++)
            if (i < nbins) fb[(size_t)j * nbins + i] = (i - bin[j]) / (bin[j + 1] - bin[j]);
        for (long i = (long)bin[j + 1]; i < (long)bin[j + 2]; i++)
            if (i < nbins) fb[(size_t)j * nbins + i] = (bin[j + 2] - i) / (bin[j + 2] - bin[j + 1]);
    }
    free(bin);
    pthread_mutex_lock(&lt_fftw_lock);
    fftw_plan plan = fftw_plan_dft_r2c_1d(nfft, frame, spec, FFTW_ESTIMATE);
    pthread_mutex_unlock(&lt_fftw_lock);
    for (int f = 0; f < nframes; f++) {
        memset(frame, 0, sizeof(double) * (size_t)nfft);
        /* numpy's rfft(frame, nfft) truncates a frame longer than nfft. */
        long take = fl < nfft ? fl : nfft;
        for (long i = 0; i < take; i++) {
            long at = (long)f * fs + i;
            frame[i] = at < padlen ? sig[at] : 0.0;
        }
        fftw_execute(plan);
        double energy = 0.0;
        double pspec_j;
        for (int j = 0; j < p->n_filters; j++) logfb[j] = 0.0;
        for (int b = 0; b < nbins; b++) {
            pspec_j = (spec[b][0] * spec[b][0] + spec[b][1] * spec[b][1]) / nfft;
            energy += pspec_j;
            for (int j = 0; j < p->n_filters; j++) logfb[j] += pspec_j * fb[(size_t)j * nbins + b];
        }
        for (int j = 0; j < p->n_filters; j++)
            logfb[j] = log(logfb[j] == 0.0 ? 2.220446049250313e-16 : logfb[j]);
        /* DCT-II, orthonormal, keep n_coeffs, lifter 22; c0 = log frame energy. */
        int N = p->n_filters;
        for (int k = 0; k < p->n_coeffs; k++) {
            double acc = 0.0;
            for (int j = 0; j < N; j++) acc += logfb[j] * cos(M_PI * k * (2 * j + 1) / (2.0 * N));
            acc *= k == 0 ? sqrt(1.0 / N) : sqrt(2.0 / N);
            acc *= 1.0 + 11.0 * sin(M_PI * k / 22.0);
            out[(size_t)f * p->n_coeffs + k] = (float)acc;
        }
        out[(size_t)f * p->n_coeffs] =
            (float)log(energy == 0.0 ? 2.220446049250313e-16 : energy);
    }
    pthread_mutex_lock(&lt_fftw_lock);
    fftw_destroy_plan(plan);
    pthread_mutex_unlock(&lt_fftw_lock);
done:
    free(sig);
    free(fb);
    free(logfb);
    if (frame) fftw_free(frame);
    if (spec) fftw_free(spec);
    return s;
}
#else
lt_status lt_mfcc_compute(const float *x, size_t n, const lt_mfcc_params *p, float *out) {
    (void)x; (void)n; (void)p; (void)out;
    return lt_error(LT_ERR_UNSUPPORTED, "mfcc: built without FFTW (install libfftw3-dev)");
}
#endif
