/* core/source_csv.c - RFC 4180 CSV: quoted fields with commas, doubled quotes and
 * newlines; CRLF or LF line ends; a UTF-8 BOM skipped; a header line naming columns. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/sources.h"

struct lt_csv {
    FILE *f;
    char *path;
    long line;       /* current physical line (1-based) */
    char *buf;       /* the record's field text, fields NUL-separated */
    size_t len, cap;
    size_t *starts;  /* field start offsets into buf */
    char **fields;
    int nf, fcap;
    char **header;
    int nheader;
};

static int push_char(lt_csv *c, char ch) {
    if (c->len + 1 >= c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        char *p = realloc(c->buf, cap);
        if (!p) return 0;
        c->buf = p;
        c->cap = cap;
    }
    c->buf[c->len++] = ch;
    return 1;
}

static int start_field(lt_csv *c) {
    if (c->nf == c->fcap) {
        int cap = c->fcap ? c->fcap * 2 : 32;
        size_t *s = realloc(c->starts, sizeof(size_t) * (size_t)cap);
        if (!s) return 0;
        c->starts = s;
        char **f = realloc(c->fields, sizeof(char *) * (size_t)cap);
        if (!f) return 0;
        c->fields = f;
        c->fcap = cap;
    }
    c->starts[c->nf++] = c->len;
    return 1;
}

/* Reads one record into c->fields. Returns 1 on a record, 0 at clean EOF, -1 on OOM.
 * A record cut off by EOF (even inside quotes) is returned as far as it got. */
static int read_record(lt_csv *c, long *first_line) {
    c->len = 0;
    c->nf = 0;
    int ch = getc(c->f);
    if (ch == EOF) return 0;
    *first_line = c->line;
    if (!start_field(c)) return -1;
    int quoted = 0, at_start = 1;
    for (;; ch = getc(c->f)) {
        if (ch == EOF) break;
        if (quoted) {
            if (ch == '"') {
                int nx = getc(c->f);
                if (nx == '"') {
                    if (!push_char(c, '"')) return -1;
                    continue;
                }
                quoted = 0;
                if (nx == EOF) break;
                ch = nx; /* fall through to unquoted handling of the next char */
            } else {
                if (ch == '\n') c->line++;
                if (!push_char(c, (char)ch)) return -1;
                continue;
            }
        }
        if (ch == '"' && at_start) {
            quoted = 1;
            at_start = 0;
            continue;
        }
        if (ch == ',') {
            if (!push_char(c, '\0') || !start_field(c)) return -1;
            at_start = 1;
            continue;
        }
        if (ch == '\r') {
            int nx = getc(c->f);
            if (nx != '\n' && nx != EOF) ungetc(nx, c->f);
            ch = '\n';
        }
        if (ch == '\n') {
            c->line++;
            break;
        }
        at_start = 0;
        if (!push_char(c, (char)ch)) return -1;
    }
    if (!push_char(c, '\0')) return -1;
    for (int i = 0; i < c->nf; i++) c->fields[i] = c->buf + c->starts[i];
    return 1;
}

lt_status lt_csv_open(const char *path, lt_csv **out) {
    *out = NULL;
    lt_csv *c = calloc(1, sizeof *c);
    if (!c) return lt_error(LT_ERR_OUT_OF_MEMORY, "csv %s: out of host memory", path);
    c->f = fopen(path, "rb");
    if (!c->f) {
        free(c);
        return lt_error(LT_ERR_IO, "csv %s: cannot open: %s", path, strerror(errno));
    }
    c->path = strdup(path);
    c->line = 1;
    unsigned char bom[3];
    size_t got = fread(bom, 1, 3, c->f);
    if (!(got == 3 && bom[0] == 0xEF && bom[1] == 0xBB && bom[2] == 0xBF)) rewind(c->f);
    long l;
    int r = read_record(c, &l);
    if (r <= 0) {
        lt_csv_close(c);
        return r < 0 ? lt_error(LT_ERR_OUT_OF_MEMORY, "csv %s: out of host memory", path)
                     : lt_error(LT_ERR_FORMAT, "csv %s: line 1: empty file, expected a header", path);
    }
    c->header = calloc((size_t)c->nf, sizeof(char *));
    if (!c->header) {
        lt_csv_close(c);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "csv %s: out of host memory", path);
    }
    c->nheader = c->nf;
    for (int i = 0; i < c->nf; i++) c->header[i] = strdup(c->fields[i]);
    *out = c;
    return LT_OK;
}

void lt_csv_close(lt_csv *c) {
    if (!c) return;
    if (c->f) fclose(c->f);
    for (int i = 0; i < c->nheader; i++) free(c->header[i]);
    free(c->header);
    free(c->buf);
    free(c->starts);
    free(c->fields);
    free(c->path);
    free(c);
}

int lt_csv_column(const lt_csv *c, const char *name) {
    for (int i = 0; i < c->nheader; i++)
        if (c->header[i] && strcmp(c->header[i], name) == 0) return i;
    return -1;
}

int lt_csv_column_count(const lt_csv *c) { return c->nheader; }

lt_status lt_csv_next(lt_csv *c, char ***fields, int *n_fields, long *line) {
    *n_fields = 0;
    *fields = NULL;
    long first = c->line;
    int r = read_record(c, &first);
    if (r < 0) return lt_error(LT_ERR_OUT_OF_MEMORY, "csv %s: line %ld: out of host memory", c->path, first);
    if (line) *line = first;
    if (r == 0) return LT_OK;
    *fields = c->fields;
    *n_fields = c->nf;
    return LT_OK;
}
