/* core/eval_text.c - BLEU-4, ROUGE-L and exact-match METEOR on whitespace tokens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loretta/eval.h"

typedef struct toks {
    int n;
    const char *w[512];
    int len[512];
} toks;

static void split(const char *s, toks *t) {
    t->n = 0;
    while (*s && t->n < 512) {
        while (*s == ' ' || *s == '\t' || *s == '\n') s++;
        if (!*s) break;
        const char *b = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n') s++;
        t->w[t->n] = b;
        t->len[t->n] = (int)(s - b);
        t->n++;
    }
}

static int same(const toks *a, int i, const toks *b, int j) {
    return a->len[i] == b->len[j] && memcmp(a->w[i], b->w[j], (size_t)a->len[i]) == 0;
}

static int ngram_eq(const toks *a, int i, const toks *b, int j, int k) {
    for (int q = 0; q < k; q++)
        if (!same(a, i + q, b, j + q)) return 0;
    return 1;
}

double lt_bleu4(const char *const *hyp, const char *const *ref, int n) {
    static toks h, r;
    double match[4] = {0}, total[4] = {0}, hl = 0, rl = 0;
    for (int s = 0; s < n; s++) {
        split(hyp[s], &h);
        split(ref[s], &r);
        hl += h.n;
        rl += r.n;
        for (int k = 1; k <= 4; k++) {
            /* Clipped counts: each hypothesis n-gram type counts at most as often as in the
             * reference. Counting by first occurrence keeps it O(len^2) and exact. */
            for (int i = 0; i + k <= h.n; i++) {
                int first = 1;
                for (int p = 0; p < i && first; p++) first = !ngram_eq(&h, p, &h, i, k);
                if (!first) continue;
                int ch = 0, cr = 0;
                for (int p = i; p + k <= h.n; p++) ch += ngram_eq(&h, p, &h, i, k);
                for (int p = 0; p + k <= r.n; p++) cr += ngram_eq(&r, p, &h, i, k);
                match[k - 1] += ch < cr ? ch : cr;
            }
            total[k - 1] += h.n - k + 1 > 0 ? h.n - k + 1 : 0;
        }
    }
    double logp = 0;
    for (int k = 0; k < 4; k++) {
        if (match[k] == 0 || total[k] == 0) return 0.0;
        logp += 0.25 * log(match[k] / total[k]);
    }
    double bp = hl < rl ? exp(1.0 - rl / hl) : 1.0;
    return bp * exp(logp);
}

static int lcs(const toks *a, const toks *b) {
    int *prev = calloc((size_t)b->n + 1, sizeof(int)), *cur = calloc((size_t)b->n + 1, sizeof(int));
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return 0;
    }
    for (int i = 1; i <= a->n; i++) {
        for (int j = 1; j <= b->n; j++)
            cur[j] = same(a, i - 1, b, j - 1) ? prev[j - 1] + 1 : (prev[j] > cur[j - 1] ? prev[j] : cur[j - 1]);
        int *t = prev;
        prev = cur;
        cur = t;
    }
    int v = prev[b->n];
    free(prev);
    free(cur);
    return v;
}

double lt_rouge_l(const char *const *hyp, const char *const *ref, int n) {
    static toks h, r;
    double sum = 0;
    for (int s = 0; s < n; s++) {
        split(hyp[s], &h);
        split(ref[s], &r);
        int l = lcs(&h, &r);
        if (l == 0) continue;
        double p = (double)l / h.n, rc = (double)l / r.n;
        sum += 2 * p * rc / (p + rc);
    }
    return n ? sum / n : 0.0;
}

double lt_meteor_exact(const char *const *hyp, const char *const *ref, int n) {
    static toks h, r;
    double sum = 0;
    for (int s = 0; s < n; s++) {
        split(hyp[s], &h);
        split(ref[s], &r);
        /* NLTK's exact stage (_match_enums): hypothesis words from the last to the first,
         * each taking the LAST unmatched equal reference word. */
        int rused[512] = {0}, map[512], m = 0;
        for (int i = h.n - 1; i >= 0; i--) {
            map[i] = -1;
            for (int j = r.n - 1; j >= 0; j--)
                if (!rused[j] && same(&h, i, &r, j)) {
                    rused[j] = 1;
                    map[i] = j;
                    m++;
                    break;
                }
        }
        if (m == 0) continue;
        int chunks = 0, last = -2;
        for (int i = 0; i < h.n; i++) {
            if (map[i] < 0) {
                last = -2;
                continue;
            }
            if (map[i] != last + 1) chunks++;
            last = map[i];
        }
        double p = (double)m / h.n, rc = (double)m / r.n;
        double fmean = p * rc / (0.9 * p + 0.1 * rc);
        double frag = (double)chunks / m;
        sum += fmean * (1.0 - 0.5 * pow(frag, 3.0));
    }
    return n ? sum / n : 0.0;
}
