/* tests/support/svl_fixture.c - see svl_fixture.h. Patterns depend on the class so a model
 * can learn something, and on the sample so no two samples are equal. */
#include "svl_fixture.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static int write_mnist(const char *dir, const char *prefix, int n, int id0, int side) {
    char p[512];
    unsigned char h[16];
    snprintf(p, sizeof p, "%s/mnist/%s-images-idx3-ubyte.gz", dir, prefix);
    gzFile f = gzopen(p, "wb");
    if (!f) return 1;
    put_be32(h, 2051);
    put_be32(h + 4, (uint32_t)n);
    put_be32(h + 8, (uint32_t)side);
    put_be32(h + 12, (uint32_t)side);
    gzwrite(f, h, 16);
    unsigned char *px = malloc((size_t)side * side);
    for (int i = 0; i < n; i++) {
        int c = i % 10;
        for (int k = 0; k < side * side; k++) px[k] = (unsigned char)(((k / side + c) % 4 == 0) ? 200 + c : 10 * (k % side == c));
        px[0] = (unsigned char)((id0 + i) & 255);
        px[1] = (unsigned char)((id0 + i) >> 8);
        gzwrite(f, px, (unsigned)(side * side));
    }
    free(px);
    gzclose(f);
    snprintf(p, sizeof p, "%s/mnist/%s-labels-idx1-ubyte.gz", dir, prefix);
    f = gzopen(p, "wb");
    if (!f) return 1;
    put_be32(h, 2049);
    put_be32(h + 4, (uint32_t)n);
    gzwrite(f, h, 8);
    for (int i = 0; i < n; i++) {
        unsigned char l = (unsigned char)(i % 10);
        gzwrite(f, &l, 1);
    }
    gzclose(f);
    return 0;
}

static int write_wav(const char *path, double freq) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    int frames = 3000, rate = 8000;
    unsigned char h[44] = "RIFF....WAVEfmt ";
    uint32_t v;
#define LE32(off, x)                                                                  \
    do {                                                                              \
        v = (uint32_t)(x);                                                            \
        for (int i_ = 0; i_ < 4; i_++) h[(off) + i_] = (unsigned char)(v >> (8 * i_)); \
    } while (0)
    LE32(4, 36 + frames * 2);
    LE32(16, 16);
    h[20] = 1;
    h[22] = 1;
    LE32(24, rate);
    LE32(28, rate * 2);
    h[32] = 2;
    h[34] = 16;
    memcpy(h + 36, "data", 4);
    LE32(40, frames * 2);
    fwrite(h, 1, 44, f);
    for (int i = 0; i < frames; i++) {
        int16_t x = (int16_t)lrint(8000 * sin(2 * 3.14159265 * freq * i / rate));
        fwrite(&x, 2, 1, f);
    }
    fclose(f);
    return 0;
}

int lt_fixture_svl_sources(const char *dir, int n_train, int n_test, int side, int per_class,
                           int n_text, int missing_text_class, const char *header) {
    char p[1024];
    snprintf(p, sizeof p, "mkdir -p %s/mnist %s/audio/01 %s/audio/02", dir, dir, dir);
    if (system(p) != 0) return 1;
    if (write_mnist(dir, "train", n_train, 0, side) || write_mnist(dir, "t10k", n_test, 1000, side)) return 1;
    for (int d = 0; d < 10; d++)
        for (int k = 0; k < per_class; k++) {
            snprintf(p, sizeof p, "%s/audio/%02d/%d_%02d_%d.wav", dir, 1 + k % 2, d, 1 + k % 2, k);
            if (write_wav(p, 200 + 60 * d + 7 * k)) return 1;
        }
    snprintf(p, sizeof p, "%s/text.csv", dir);
    FILE *f = fopen(p, "w");
    if (!f) return 1;
    static const char *words[10] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
    fprintf(f, "%s\n", header);
    for (int i = 0; i < n_text; i++) {
        int c = i % 10;
        if (c == missing_text_class) c = (c + 1) % 10;
        fprintf(f, "\"text sample %d, of class %s %d\",%d\n", i, words[c], c, c);
    }
    fclose(f);
    return 0;
}
