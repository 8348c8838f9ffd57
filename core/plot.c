/* core/plot.c - the canvas of plot.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

#ifdef LT_HAVE_PNG
#include <png.h>
#endif

lt_status lt_canvas_init(lt_canvas *c, int w, int h) {
    c->w = w;
    c->h = h;
    c->px = malloc((size_t)w * h * 3);
    if (!c->px) return lt_error(LT_ERR_OUT_OF_MEMORY, "plot: %dx%d canvas", w, h);
    memset(c->px, 255, (size_t)w * h * 3);
    return LT_OK;
}

void lt_canvas_free(lt_canvas *c) {
    free(c->px);
    c->px = NULL;
}

static void put(lt_canvas *c, int x, int y, uint32_t rgb) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->px + ((size_t)y * c->w + x) * 3;
    p[0] = (uint8_t)(rgb >> 16);
    p[1] = (uint8_t)(rgb >> 8);
    p[2] = (uint8_t)rgb;
}

void lt_canvas_line(lt_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb) {
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) { /* Bresenham */
        put(c, x0, y0, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

void lt_canvas_rect(lt_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb) {
    for (int y = y0 < y1 ? y0 : y1; y <= (y0 < y1 ? y1 : y0); y++)
        for (int x = x0 < x1 ? x0 : x1; x <= (x0 < x1 ? x1 : x0); x++) put(c, x, y, rgb);
}

/* 5x7 glyphs, one byte per row (low 5 bits, MSB left). */
static const struct {
    char ch;
    uint8_t rows[7];
} font[] = {
    {'0', {14, 17, 19, 21, 25, 17, 14}}, {'1', {4, 12, 4, 4, 4, 4, 14}},   {'2', {14, 17, 1, 2, 4, 8, 31}},
    {'3', {31, 2, 4, 2, 1, 17, 14}},     {'4', {2, 6, 10, 18, 31, 2, 2}},  {'5', {31, 16, 30, 1, 1, 17, 14}},
    {'6', {6, 8, 16, 30, 17, 17, 14}},   {'7', {31, 1, 2, 4, 8, 8, 8}},    {'8', {14, 17, 17, 14, 17, 17, 14}},
    {'9', {14, 17, 17, 15, 1, 2, 12}},   {'A', {14, 17, 17, 31, 17, 17, 17}}, {'B', {30, 17, 17, 30, 17, 17, 30}},
    {'C', {14, 17, 16, 16, 16, 17, 14}}, {'D', {28, 18, 17, 17, 17, 18, 28}}, {'E', {31, 16, 16, 30, 16, 16, 31}},
    {'F', {31, 16, 16, 30, 16, 16, 16}}, {'G', {14, 17, 16, 23, 17, 17, 15}}, {'H', {17, 17, 17, 31, 17, 17, 17}},
    {'I', {14, 4, 4, 4, 4, 4, 14}},      {'J', {7, 2, 2, 2, 2, 18, 12}},   {'K', {17, 18, 20, 24, 20, 18, 17}},
    {'L', {16, 16, 16, 16, 16, 16, 31}}, {'M', {17, 27, 21, 21, 17, 17, 17}}, {'N', {17, 17, 25, 21, 19, 17, 17}},
    {'O', {14, 17, 17, 17, 17, 17, 14}}, {'P', {30, 17, 17, 30, 16, 16, 16}}, {'Q', {14, 17, 17, 17, 21, 18, 13}},
    {'R', {30, 17, 17, 30, 20, 18, 17}}, {'S', {15, 16, 16, 14, 1, 1, 30}}, {'T', {31, 4, 4, 4, 4, 4, 4}},
    {'U', {17, 17, 17, 17, 17, 17, 14}}, {'V', {17, 17, 17, 17, 17, 10, 4}}, {'W', {17, 17, 17, 21, 21, 21, 10}},
    {'X', {17, 17, 10, 4, 10, 17, 17}},  {'Y', {17, 17, 17, 10, 4, 4, 4}}, {'Z', {31, 1, 2, 4, 8, 16, 31}},
    {'(', {2, 4, 8, 8, 8, 4, 2}},        {')', {8, 4, 2, 2, 2, 4, 8}},     {',', {0, 0, 0, 0, 12, 4, 8}},
    {'.', {0, 0, 0, 0, 0, 12, 12}},      {'-', {0, 0, 0, 31, 0, 0, 0}},    {':', {0, 12, 12, 0, 12, 12, 0}},
    {'/', {0, 1, 2, 4, 8, 16, 0}},       {'|', {4, 4, 4, 4, 4, 4, 4}},     {'*', {0, 4, 21, 14, 21, 4, 0}},
    {'=', {0, 0, 31, 0, 31, 0, 0}},      {'%', {24, 25, 2, 4, 8, 19, 3}},
};

void lt_canvas_text(lt_canvas *c, int x, int y, const char *s, int scale, uint32_t rgb) {
    for (; *s; s++, x += 6 * scale) {
        char ch = (*s >= 'a' && *s <= 'z') ? (char)(*s - 32) : *s;
        for (size_t g = 0; g < sizeof font / sizeof font[0]; g++) {
            if (font[g].ch != ch) continue;
            for (int r = 0; r < 7; r++)
                for (int b = 0; b < 5; b++)
                    if (font[g].rows[r] >> (4 - b) & 1)
                        lt_canvas_rect(c, x + b * scale, y + r * scale, x + b * scale + scale - 1,
                                       y + r * scale + scale - 1, rgb);
            break;
        }
    }
}

lt_status lt_canvas_save(const lt_canvas *c, const char *path) {
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return lt_error(LT_ERR_IO, "plot: cannot write %s: %s", tmp, strerror(errno));
    int ok = 1;
#ifdef LT_HAVE_PNG
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        remove(tmp);
        return lt_error(LT_ERR_IO, "plot: libpng failed writing %s", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < c->h; y++) png_write_row(png, c->px + (size_t)y * c->w * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
#else
    ok = fprintf(f, "P6\n%d %d\n255\n", c->w, c->h) > 0 && fwrite(c->px, 3, (size_t)c->w * c->h, f) == (size_t)c->w * c->h;
#endif
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0)
        return lt_error(LT_ERR_IO, "plot: cannot write %s: %s", path, strerror(errno));
    return LT_OK;
}
