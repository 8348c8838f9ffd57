/* core/plot.h - a small RGB canvas written as PNG: lines, bars, axes and 5x7 text, enough
 * for the report's loss curves and perplexity bars without a plotting dependency. */
#ifndef LT_PLOT_H
#define LT_PLOT_H

#include <stdint.h>

#include "loretta/status.h"

typedef struct lt_canvas {
    int w, h;
    uint8_t *px; /* RGB */
} lt_canvas;

lt_status lt_canvas_init(lt_canvas *c, int w, int h);
void lt_canvas_free(lt_canvas *c);
void lt_canvas_line(lt_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb);
void lt_canvas_rect(lt_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb);
/* 5x7 glyphs scaled by `scale`; letters are drawn upper case. */
void lt_canvas_text(lt_canvas *c, int x, int y, const char *s, int scale, uint32_t rgb);
/* PNG with libpng when built with it, else binary PPM (the path's extension is kept). */
lt_status lt_canvas_save(const lt_canvas *c, const char *path);

#endif
