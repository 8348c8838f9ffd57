#!/usr/bin/python3
"""make_eval_golden.py - reference values for tests/test_unit_eval.c from established
libraries: sacrebleu (BLEU-4), rouge-score (ROUGE-L), NLTK (METEOR with its WordNet and
stemming stages switched off, the exact-match variant we implement), and for survival an
independent numpy implementation (Cox elastic net by proximal gradient descent, c-index by
the definition) on a synthetic data set the C test rebuilds from the same formula.
Needs: pip install sacrebleu rouge-score nltk numpy. Prints C initialisers to paste."""
import math
import numpy as np
import sacrebleu
from rouge_score import rouge_scorer
from nltk.translate.meteor_score import meteor_score

HYP = ["the cat sat on the mat", "a quick brown fox jumps over the lazy dog",
       "there is a big red barn in the field", "wine with notes of cherry and oak"]
REF = ["the cat is sitting on the mat", "the quick brown fox jumped over the lazy dog",
       "a big red barn stands in the field", "this wine shows cherry and oak notes"]

bleu = sacrebleu.corpus_bleu(HYP, [REF], tokenize="none", smooth_method="none", force=True)
print(f"#define GOLD_BLEU {bleu.score / 100:.10f}")
sc = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
print(f"#define GOLD_ROUGE_L {np.mean([sc.score(r, h)['rougeL'].fmeasure for h, r in zip(HYP, REF)]):.10f}")

class NoWordnet:  # METEOR's synonym stage off
    def synsets(self, *a, **k):
        return []
class NoStem:     # METEOR's stem stage reduced to exact matching
    def stem(self, w):
        return w
print(f"#define GOLD_METEOR {np.mean([meteor_score([r.split()], h.split(), stemmer=NoStem(), wordnet=NoWordnet()) for h, r in zip(HYP, REF)]):.10f}")

# Survival data: the C test builds the same values from these formulas.
n, p = 60, 3
x = np.array([[math.sin(0.7 * i * (j + 1) + 0.3 * j) for j in range(p)] for i in range(n)])
true_b = np.array([0.8, -0.5, 0.0])
time = np.array([math.exp(-x[i] @ true_b) * (1.0 + (i * 37 % 11) / 11.0) for i in range(n)])
event = np.array([0 if i % 7 == 3 else 1 for i in range(n)])

def cindex(risk):
    conc, comp = 0.0, 0
    for i in range(n):
        if not event[i]:
            continue
        for j in range(n):
            if time[i] < time[j]:
                comp += 1
                conc += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    return conc / comp

lam, l1r = 0.05, 0.5
mu, sd = x.mean(0), x.std(0)
xs = (x - mu) / sd
def nll_grad(b):  # -(1/n) Breslow partial log-likelihood and its gradient
    eta = xs @ b
    g = np.zeros(p); val = 0.0
    for i in range(n):
        if not event[i]:
            continue
        R = time >= time[i]
        e = np.exp(eta[R]); s = e.sum()
        val -= eta[i] - math.log(s)
        g -= xs[i] - (e[:, None] * xs[R]).sum(0) / s
    return val / n, g / n
b = np.zeros(p); step = 0.5
for it in range(20000):  # proximal gradient: a different algorithm than the C code's
    _, g = nll_grad(b)
    z = b - step * (g + lam * (1 - l1r) * b)
    b = np.sign(z) * np.maximum(np.abs(z) - step * lam * l1r, 0.0)
beta = b / sd
print("static const double GOLD_COX_BETA[3] = {" + ", ".join(f"{v:.10f}" for v in beta) + "};")
print(f"#define GOLD_CINDEX {cindex(x @ true_b):.10f}")
