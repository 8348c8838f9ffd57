/* core/generate_view.c - files a person can look at: grey images (PNG through libpng
 * when the build found it, else binary PGM, which every image viewer reads) and bytes as
 * valid UTF-8 text. Both write a temporary file and rename it, like the dataset writer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/generate.h"

#ifdef LT_HAVE_PNG
#include <png.h>
#endif

static lt_status finish(FILE *f, const char *tmp, const char *path, int ok) {
    if (fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) == 0) return LT_OK;
    int e = errno;
    remove(tmp);
    return lt_error(LT_ERR_IO, "%s: cannot write: %s", path, strerror(e));
}

#ifdef LT_HAVE_PNG
/* libpng reports errors by longjmp; the jump target is the setjmp below. */
static int write_png(FILE *f, const uint8_t *pixels, int w, int h) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png) return 0;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return 0;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return 0;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * w));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 1;
}
#endif

lt_status lt_write_grey_image(const char *path, const uint8_t *pixels, int w, int h) {
    if (!path || !pixels || w < 1 || h < 1)
        return lt_error(LT_ERR_INVALID_ARG, "image: NULL path or pixels, or size %d x %d", w, h);
    size_t n = strlen(path);
    char *full = malloc(n + 5), *tmp = malloc(n + 9);
    if (!full || !tmp) {
        free(full);
        free(tmp);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "image: path");
    }
#ifdef LT_HAVE_PNG
    snprintf(full, n + 5, "%s.png", path);
#else
    snprintf(full, n + 5, "%s.pgm", path);
#endif
    snprintf(tmp, n + 9, "%s.tmp", full);
    FILE *f = fopen(tmp, "wb");
    lt_status s;
    if (!f) {
        s = lt_error(LT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    } else {
#ifdef LT_HAVE_PNG
        int ok = write_png(f, pixels, w, h);
#else
        int ok = fprintf(f, "P5\n%d %d\n255\n", w, h) > 0 &&
                 fwrite(pixels, 1, (size_t)w * h, f) == (size_t)w * h;
#endif
        s = finish(f, tmp, full, ok);
    }
    free(full);
    free(tmp);
    return s;
}

/* Length of the valid UTF-8 sequence at b[0..n), or 0 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const uint8_t *b, size_t n) {
    if (b[0] < 0x80) return 1;
    size_t len;
    uint32_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b[0] >= 0xC2 && b[0] <= 0xDF) len = 2;
    else if (b[0] >= 0xE0 && b[0] <= 0xEF) {
        len = 3;
        if (b[0] == 0xE0) lo = 0xA0;
        if (b[0] == 0xED) hi = 0x9F;
    } else if (b[0] >= 0xF0 && b[0] <= 0xF4) {
        len = 4;
        if (b[0] == 0xF0) lo = 0x90;
        if (b[0] == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || b[1] < lo || b[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (b[i] < 0x80 || b[i] > 0xBF) return 0;
    return len;
}

lt_status lt_write_utf8_text(const char *path, const uint8_t *bytes, size_t n) {
    if (!path || (n > 0 && !bytes)) return lt_error(LT_ERR_INVALID_ARG, "text: NULL argument");
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 5);
    if (!tmp) return lt_error(LT_ERR_OUT_OF_MEMORY, "text: path");
    snprintf(tmp, pl + 5, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        lt_status s = lt_error(LT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return s;
    }
    static const uint8_t replacement[3] = {0xEF, 0xBF, 0xBD}; /* U+FFFD */
    int ok = 1;
    for (size_t i = 0; i < n && ok;) {
        size_t len = utf8_len(bytes + i, n - i);
        if (len == 0) {
            ok = fwrite(replacement, 1, 3, f) == 3;
            i++;
        } else {
            ok = fwrite(bytes + i, 1, len, f) == len;
            i += len;
        }
    }
    if (ok) ok = fputc('\n', f) != EOF;
    lt_status s = finish(f, tmp, path, ok);
    free(tmp);
    return s;
}
