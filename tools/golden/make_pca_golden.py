#!/usr/bin/python3
"""make_pca_golden.py - golden PCA projections from numpy for tests/test_unit_tokenize.c.

The matrix is a deterministic formula the C test evaluates identically (math.sin/cos are
the C library's). Rows 0..N-1 are the training rows; rows N..N+T-1 are held-out rows
that are only transformed. The sign of each axis is fixed as in core/tokenize_pca.c:
the largest-magnitude loading (first index on ties) is positive.
Writes tests/golden/pca_golden.txt:
  line 1: "# n d k t"  then  "N D K T"
  then K explained-variance ratios, K explained variances (one line each),
  then N+T lines of K projected values."""
import math, os, sys
import numpy as np

N, D, K, T = 40, 12, 4, 5


def x_at(i, j):
    return (math.sin(0.37 * (i + 1) * (j + 1)) + 0.1 * math.cos(1.7 * i - 0.3 * j)
            + 0.05 * j + 0.02 * ((i * 7 + j * 3) % 11))


X = np.array([[x_at(i, j) for j in range(D)] for i in range(N + T)], dtype=np.float64)
train = X[:N]
mean = train.mean(axis=0)
_, s, vt = np.linalg.svd(train - mean, full_matrices=False)
axes = vt[:K].copy()
for c in range(K):
    b = int(np.argmax(np.abs(axes[c])))
    if axes[c, b] < 0:
        axes[c] = -axes[c]
var = s ** 2 / (N - 1)
ratio = s ** 2 / np.sum((train - mean) ** 2)
proj = (X - mean) @ axes.T
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden", "pca_golden.txt")
with open(out, "w") as f:
    f.write("# n d k t, then explained variance ratio, explained variance, projections (numpy svd)\n")
    f.write(f"{N} {D} {K} {T}\n")
    f.write(" ".join(f"{v:.17g}" for v in ratio[:K]) + "\n")
    f.write(" ".join(f"{v:.17g}" for v in var[:K]) + "\n")
    for row in proj:
        f.write(" ".join(f"{v:.17g}" for v in row) + "\n")
print(out, "ratios", ratio[:K], "singular values", s, file=sys.stderr)
