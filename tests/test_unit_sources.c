/* tests/test_unit_sources.c - the raw-format readers: IDX (raw and gzip), WAV (rates,
 * bit depths, bad files), MFCC against python_speech_features, RFC 4180 CSV. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "loretta/sources.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static char dir[128];

static const char *tmp(const char *name) {
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static void write_idx(const char *path, int gz, uint32_t magic, uint32_t count, uint32_t claimed,
                      int rows) {
    unsigned char hdr[16];
    put_be32(hdr, magic);
    put_be32(hdr + 4, claimed);
    put_be32(hdr + 8, (uint32_t)rows);
    put_be32(hdr + 12, (uint32_t)rows);
    size_t hn = magic == 2051 ? 16 : 8;
    size_t n = magic == 2051 ? (size_t)count * rows * rows : count;
    unsigned char *px = malloc(n);
    for (size_t i = 0; i < n; i++) px[i] = (unsigned char)(i * 7);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        gzwrite(f, hdr, (unsigned)hn);
        gzwrite(f, px, (unsigned)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(hdr, 1, hn, f);
        fwrite(px, 1, n, f);
        fclose(f);
    }
    free(px);
}

static void test_idx(void **state) {
    (void)state;
    lt_idx_images im;
    for (int gz = 0; gz < 2; gz++) {
        write_idx(tmp("im.idx"), gz, 2051, 3, 3, 5);
        assert_int_equal(lt_idx_read_images(tmp("im.idx"), &im), LT_OK);
        assert_int_equal(im.count, 3);
        assert_int_equal(im.rows, 5);
        assert_int_equal(im.pixels[10], (unsigned char)70);
        lt_idx_images_free(&im);
    }
    write_idx(tmp("trunc.idx"), 1, 2051, 2, 3, 5); /* header claims 3 images, holds 2 */
    assert_int_equal(lt_idx_read_images(tmp("trunc.idx"), &im), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "header says 3 images"));
    write_idx(tmp("lab.idx"), 1, 2049, 20, 20, 0);
    assert_int_equal(lt_idx_read_images(tmp("lab.idx"), &im), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "label file"));
    uint8_t *lab;
    uint32_t n;
    assert_int_equal(lt_idx_read_labels(tmp("lab.idx"), &lab, &n), LT_OK);
    assert_int_equal(n, 20);
    assert_int_equal(lab[1], 7);
    free(lab);
    assert_int_equal(lt_idx_read_labels(tmp("nope.idx"), &lab, &n), LT_ERR_IO);

    const char *data = getenv("LORETTA_DATA");
    if (data && *data) { /* the real MNIST test set, when the data folder is known */
        char p[512];
        snprintf(p, sizeof p, "%s/mnist/t10k-labels-idx1-ubyte.gz", data);
        if (access(p, R_OK) == 0) {
            assert_int_equal(lt_idx_read_labels(p, &lab, &n), LT_OK);
            assert_int_equal(n, 10000);
            free(lab);
        }
    }
}

/* A minimal RIFF/WAVE writer so the test owns its fixtures. */
static void write_wav(const char *path, int rate, int bits, int channels, int frames, int format) {
    FILE *f = fopen(path, "wb");
    int bps = bits / 8, data = frames * channels * bps;
    unsigned char h[44] = "RIFF....WAVEfmt ";
    uint32_t v;
#define LE32(off, x) do { v = (uint32_t)(x); for (int i_ = 0; i_ < 4; i_++) h[(off) + i_] = (unsigned char)(v >> (8 * i_)); } while (0)
#define LE16(off, x) do { v = (uint32_t)(x); h[(off)] = (unsigned char)v; h[(off) + 1] = (unsigned char)(v >> 8); } while (0)
    LE32(4, 36 + data);
    LE32(16, 16);
    LE16(20, format);
    LE16(22, channels);
    LE32(24, rate);
    LE32(28, rate * channels * bps);
    LE16(32, channels * bps);
    LE16(34, bits);
    memcpy(h + 36, "data", 4);
    LE32(40, data);
    fwrite(h, 1, 44, f);
    for (int i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++) {
            double s = 0.5 * sin(2 * 3.14159265358979 * 440.0 * i / rate);
            if (bits == 16) {
                int16_t x = (int16_t)lrint(s * 32767);
                fwrite(&x, 2, 1, f);
            } else if (bits == 8) {
                unsigned char x = (unsigned char)lrint(128 + s * 127);
                fwrite(&x, 1, 1, f);
            }
        }
    fclose(f);
}

static void test_wav(void **state) {
    (void)state;
    float *x;
    size_t n;
    write_wav(tmp("a.wav"), 8000, 16, 1, 4000, 1);
    assert_int_equal(lt_wav_read_mono(tmp("a.wav"), 8000, &x, &n), LT_OK);
    assert_int_equal(n, 4000);
    assert_float_equal(x[20], 0.5 * sin(2 * 3.14159265358979 * 440.0 * 20 / 8000), 1e-3);
    free(x);
    write_wav(tmp("b.wav"), 48000, 16, 2, 24000, 1); /* 48 kHz stereo -> 8 kHz mono */
    assert_int_equal(lt_wav_read_mono(tmp("b.wav"), 8000, &x, &n), LT_OK);
    assert_true(n >= 3990 && n <= 4010);
    double peak = 0;
    for (size_t i = 1000; i < 3000; i++) peak = fmax(peak, fabs(x[i]));
    assert_float_equal(peak, 0.5, 0.02); /* 440 Hz passes the anti-alias filter intact */
    free(x);
    write_wav(tmp("c.wav"), 11025, 8, 1, 1000, 1);
    assert_int_equal(lt_wav_read_mono(tmp("c.wav"), 8000, &x, &n), LT_OK);
    free(x);
    write_wav(tmp("empty.wav"), 8000, 16, 1, 0, 1);
    assert_int_not_equal(lt_wav_read_mono(tmp("empty.wav"), 8000, &x, &n), LT_OK);
    assert_non_null(strstr(lt_last_error(), "empty.wav"));
    FILE *f = fopen(tmp("text.wav"), "w");
    fputs("this is not audio\n", f);
    fclose(f);
    assert_int_equal(lt_wav_read_mono(tmp("text.wav"), 8000, &x, &n), LT_ERR_FORMAT);
    assert_non_null(strstr(lt_last_error(), "text.wav"));
}

static void test_mfcc_golden(void **state) {
    (void)state;
    lt_mfcc_params p = lt_mfcc_default();
    assert_int_equal(lt_mfcc_frames(&p), 39);
    enum { N = 5600 };
    static float x[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)(0.5 * sin(2 * M_PI * 440 * i / 8000.0) + 0.25 * sin(2 * M_PI * 1234.5 * i / 8000.0) +
                       0.1 * sin(0.37 * (double)i * i / 8000.0));
    float out[39 * 13];
    assert_int_equal(lt_mfcc_compute(x, N, &p, out), LT_OK);
    FILE *f = fopen(LT_SOURCE_DIR "/tests/golden/mfcc_golden.txt", "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    double worst = 0;
    for (int i = 0; i < 39 * 13; i++) {
        double g;
        assert_int_equal(fscanf(f, "%lf", &g), 1);
        double err = fabs(out[i] - g) / (1.0 + fabs(g));
        if (err > worst) worst = err;
    }
    fclose(f);
    printf("mfcc vs python_speech_features: worst relative error %.3g\n", worst);
    assert_true(worst < 1e-4);
}

static void test_csv(void **state) {
    (void)state;
    FILE *f = fopen(tmp("t.csv"), "wb");
    fputs("\xEF\xBB\xBF" "id,description,variety\r\n", f);
    fputs("0,\"plain, with comma\",Merlot\r\n", f);
    fputs("1,\"say \"\"hi\"\"\nsecond line\",Ros\xC3\xA9\n", f);
    fputs("2,,Syrah\n", f);
    fputs("3,\"cut off mid-rec", f); /* truncated last record */
    fclose(f);
    lt_csv *c;
    assert_int_equal(lt_csv_open(tmp("t.csv"), &c), LT_OK);
    assert_int_equal(lt_csv_column(c, "id"), 0); /* BOM skipped */
    assert_int_equal(lt_csv_column(c, "variety"), 2);
    assert_int_equal(lt_csv_column(c, "price"), -1);
    char **fl;
    int nf;
    long line;
    assert_int_equal(lt_csv_next(c, &fl, &nf, &line), LT_OK);
    assert_int_equal(nf, 3);
    assert_string_equal(fl[1], "plain, with comma");
    assert_int_equal(line, 2);
    assert_int_equal(lt_csv_next(c, &fl, &nf, &line), LT_OK);
    assert_string_equal(fl[1], "say \"hi\"\nsecond line");
    assert_string_equal(fl[2], "Ros\xC3\xA9");
    assert_int_equal(line, 3);
    assert_int_equal(lt_csv_next(c, &fl, &nf, &line), LT_OK);
    assert_int_equal(nf, 3);
    assert_string_equal(fl[1], "");
    assert_int_equal(line, 5);
    assert_int_equal(lt_csv_next(c, &fl, &nf, &line), LT_OK);
    assert_int_equal(nf, 2); /* the truncated record: fewer fields, caller warns with line 6 */
    assert_int_equal(line, 6);
    assert_int_equal(lt_csv_next(c, &fl, &nf, &line), LT_OK);
    assert_int_equal(nf, 0);
    lt_csv_close(c);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/lt_test_sources_%ld", (long)getpid());
    char cmd[200];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    if (system(cmd) != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx), cmocka_unit_test(test_wav),
        cmocka_unit_test(test_mfcc_golden), cmocka_unit_test(test_csv),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return r;
}
