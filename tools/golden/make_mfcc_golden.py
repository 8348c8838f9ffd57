#!/usr/bin/python3
"""make_mfcc_golden.py - golden MFCC values from python_speech_features, the library the
SVL-MNIST preparation used, for tests/test_unit_sources.c.

The signal is a deterministic formula the C test evaluates identically (0.7 s at 8 kHz,
so padding to 1 s is exercised). Needs: pip install python_speech_features scipy numpy.
Writes tests/golden/mfcc_golden.txt: a header line, then 39 lines of 13 values."""
import math, os, sys
import numpy as np
from python_speech_features import mfcc

RATE, N = 8000, 5600
x = np.array([0.5 * math.sin(2 * math.pi * 440 * i / RATE) + 0.25 * math.sin(2 * math.pi * 1234.5 * i / RATE)
              + 0.1 * math.sin(0.37 * i * i / RATE) for i in range(N)], dtype=np.float32).astype(np.float64)
sig = np.zeros(RATE)
sig[:N] = x  # pad to one second, as the builder does
feat = mfcc(sig, samplerate=RATE, winlen=0.05, winstep=0.025, numcep=13, nfilt=26, nfft=512)
out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "mfcc_golden.txt")
with open(out, "w") as f:
    f.write(f"# python_speech_features mfcc, rate {RATE}, {feat.shape[0]} frames x {feat.shape[1]}\n")
    for row in feat:
        f.write(" ".join(f"{v:.9g}" for v in row) + "\n")
print(out, feat.shape, file=sys.stderr)
