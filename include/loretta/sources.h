/* loretta/sources.h - readers for the raw public formats SVL-MNIST is built from:
 * MNIST IDX (gzip or raw), PCM WAV (any rate and bit depth, resampled), MFCC features,
 * and RFC 4180 CSV. Each reader checks what it reads against the file and names the
 * file, the offset or line, and the field when something is wrong.
 *
 * Libraries: zlib (IDX, gzip read transparently), libsndfile (WAV), libsamplerate
 * (resampling), FFTW (MFCC). Each is optional at build time; a reader whose library is
 * missing returns LT_ERR_UNSUPPORTED saying which package to install. */
#ifndef LORETTA_SOURCES_H
#define LORETTA_SOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "loretta/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- MNIST IDX ---- */
typedef struct lt_idx_images {
    uint32_t count, rows, cols;
    uint8_t *pixels; /* count * rows * cols, row-major; free with lt_idx_images_free */
} lt_idx_images;

lt_status lt_idx_read_images(const char *path, lt_idx_images *out);
void lt_idx_images_free(lt_idx_images *im);
/* Labels (magic 2049); *labels is malloc'ed. */
lt_status lt_idx_read_labels(const char *path, uint8_t **labels, uint32_t *count);

/* ---- WAV ---- */
/* Reads a PCM WAV (8/16/24/32-bit integer or float, any channels, any rate), mixes it to
 * mono and resamples it to target_rate. *samples is malloc'ed, values in [-1, 1].
 * Not PCM, empty, or unreadable: LT_ERR_FORMAT naming the file. */
lt_status lt_wav_read_mono(const char *path, int target_rate, float **samples, size_t *count);

/* ---- MFCC ---- */
/* The python_speech_features recipe the SVL-MNIST preparation used: pre-emphasis 0.97,
 * frames of win_s with hop_s (rectangular window), |FFT|^2 / nfft, n_filters mel
 * filters from 0 to rate/2, log (floored at machine epsilon), DCT-II (orthonormal),
 * n_coeffs kept, cepstral lifter 22, c0 replaced by the log frame energy. The signal is
 * padded with zeros or cropped to duration_s first, so every clip gives n_frames. */
typedef struct lt_mfcc_params {
    int sample_rate;
    float win_s, hop_s, duration_s;
    int n_coeffs, n_filters, nfft; /* nfft 0 = next power of two >= window */
} lt_mfcc_params;

/* 8 kHz, 50 ms window, 25 ms hop, 1 s, 13 coefficients, 26 filters: 39 frames x 13. */
lt_mfcc_params lt_mfcc_default(void);
int lt_mfcc_frames(const lt_mfcc_params *p);
/* out: n_frames x n_coeffs, row-major by frame. */
lt_status lt_mfcc_compute(const float *x, size_t n, const lt_mfcc_params *p, float *out);

/* ---- CSV (RFC 4180) ---- */
typedef struct lt_csv lt_csv;
/* Opens a CSV with a header line. Quoted fields may hold commas, doubled quotes and
 * newlines; a UTF-8 byte order mark is skipped. */
lt_status lt_csv_open(const char *path, lt_csv **out);
void lt_csv_close(lt_csv *c);
/* Column index of a header name, or -1. */
int lt_csv_column(const lt_csv *c, const char *name);
int lt_csv_column_count(const lt_csv *c);
/* Reads the next record: *fields points at n_fields NUL-terminated strings valid until
 * the next call. Returns LT_OK with *n_fields = 0 at end of file. A record with a
 * different field count than the header (e.g. a truncated last line) is returned as is,
 * so the caller decides; *line is the record's first line number (1 = header). */
lt_status lt_csv_next(lt_csv *c, char ***fields, int *n_fields, long *line);

#ifdef __cplusplus
}
#endif
#endif
