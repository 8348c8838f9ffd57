/* core/source_wav.c - PCM WAV to mono float at one sample rate (libsndfile + libsamplerate). */
#include <stdlib.h>
#include <string.h>

#include "loretta/sources.h"

#if defined(LT_HAVE_SNDFILE) && defined(LT_HAVE_SAMPLERATE)
#include <samplerate.h>
#include <sndfile.h>

static int is_pcm(int format) {
    switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8: case SF_FORMAT_PCM_U8: case SF_FORMAT_PCM_16: case SF_FORMAT_PCM_24:
    case SF_FORMAT_PCM_32: case SF_FORMAT_FLOAT: case SF_FORMAT_DOUBLE:
        return 1;
    default:
        return 0;
    }
}

lt_status lt_wav_read_mono(const char *path, int target_rate, float **samples, size_t *count) {
    *samples = NULL;
    *count = 0;
    if (target_rate < 1000 || target_rate > 384000)
        return lt_error(LT_ERR_INVALID_ARG, "wav %s: target rate %d Hz", path, target_rate);
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f) return lt_error(LT_ERR_FORMAT, "wav %s: %s", path, sf_strerror(NULL));
    if ((info.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_WAV || !is_pcm(info.format)) {
        sf_close(f);
        return lt_error(LT_ERR_FORMAT, "wav %s: not a PCM WAV file (format 0x%x)", path, info.format);
    }
    if (info.frames <= 0 || info.channels < 1 || info.samplerate <= 0) {
        sf_close(f);
        return lt_error(LT_ERR_FORMAT, "wav %s: empty (%lld frames, %d channels)", path,
                        (long long)info.frames, info.channels);
    }
    size_t frames = (size_t)info.frames;
    float *inter = malloc(frames * (size_t)info.channels * sizeof(float));
    float *mono = malloc(frames * sizeof(float));
    if (!inter || !mono) {
        free(inter);
        free(mono);
        sf_close(f);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "wav %s: %zu frames do not fit in memory", path, frames);
    }
    sf_count_t got = sf_readf_float(f, inter, info.frames);
    sf_close(f);
    if (got <= 0) {
        free(inter);
        free(mono);
        return lt_error(LT_ERR_FORMAT, "wav %s: no samples could be read", path);
    }
    frames = (size_t)got;
    for (size_t i = 0; i < frames; i++) {
        float s = 0;
        for (int c = 0; c < info.channels; c++) s += inter[i * (size_t)info.channels + (size_t)c];
        mono[i] = s / (float)info.channels;
    }
    free(inter);
    if (info.samplerate == target_rate) {
        *samples = mono;
        *count = frames;
        return LT_OK;
    }
    /* Band-limited sinc resampling: 48 kHz AudioMNIST to 8 kHz without aliasing. */
    double ratio = (double)target_rate / info.samplerate;
    size_t out_n = (size_t)(frames * ratio) + 16;
    float *out = malloc(out_n * sizeof(float));
    if (!out) {
        free(mono);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "wav %s: resampling buffer", path);
    }
    SRC_DATA d;
    memset(&d, 0, sizeof d);
    d.data_in = mono;
    d.input_frames = (long)frames;
    d.data_out = out;
    d.output_frames = (long)out_n;
    d.src_ratio = ratio;
    int err = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1);
    free(mono);
    if (err) {
        free(out);
        return lt_error(LT_ERR_FORMAT, "wav %s: resampling %d -> %d Hz failed: %s", path,
                        info.samplerate, target_rate, src_strerror(err));
    }
    *samples = out;
    *count = (size_t)d.output_frames_gen;
    return LT_OK;
}
#else
lt_status lt_wav_read_mono(const char *path, int target_rate, float **samples, size_t *count) {
    (void)target_rate;
    *samples = NULL;
    *count = 0;
    return lt_error(LT_ERR_UNSUPPORTED, "wav %s: built without libsndfile/libsamplerate "
                    "(install libsndfile1-dev and libsamplerate0-dev)", path);
}
#endif
