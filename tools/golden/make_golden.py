#!/usr/bin/python3
"""make_golden.py - PyTorch reference values for tests/test_golden_model.c.

Run with Debian's python (it has torch):  /usr/bin/python3 tools/golden/make_golden.py
Writes tests/golden/tiny_golden.bin.

The model mirrors core/model_*.c exactly: pre-norm decoder, RMSNorm x*rsqrt(mean(x^2)+eps)*w,
tanh GELU, no biases, untied head, learned position table with one row block per modality,
attention over keys j < length (and j <= i when causal) with padding rows (i >= length)
set to 0, loss = sum(w * ce) / sum(w). The initial weights are not stored: both sides draw
them from the same counter-based generator (Philox4x32-10 of loretta/rng.h, Box-Muller),
so the file only holds inputs and results.

File format (little endian): "LTGOLDEN", u32 version (1), u32 record count, then records
  u16 name length, name bytes, u8 dtype (0 f32, 1 i32, 2 f64), u8 ndim, i64 shape[ndim], data.
"""
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

MASK32 = np.uint64(0xFFFFFFFF)

# The "tiny" preset of core/model_config.c (the test checks they agree).
CFG = dict(n_layer=2, n_head=2, d_model=64, mlp_ratio=4, vocab=300, causal=1,
           mods=[(0, 256, 256, 257, 48), (258, 290, 290, 291, 32)])  # lo, hi, begin, end, max_len
NORM_EPS, INIT_STD, SEED = 1e-5, 0.02, 1234
B, T, N_BATCHES, N_STEPS = 2, 64, 4, 10
# lr_max, lr_min, lr_init, warmup, total, beta1, beta2, eps, wd, clip
TRAIN = [3e-3, 3e-4, 1e-7, 3, 10, 0.9, 0.95, 1e-8, 0.1, 1.0]


def philox_words(seed, a, b):
    """lt_rng_words(seed, a, b) for a vector a and a scalar b: the four 32-bit words."""
    a = a.astype(np.uint64)
    c = [a & MASK32, a >> np.uint64(32), np.full_like(a, b & 0xFFFFFFFF), np.full_like(a, b >> 32)]
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & MASK32, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & MASK32]
        k0 = (k0 + np.uint64(0x9E3779B9)) & MASK32
        k1 = (k1 + np.uint64(0xBB67AE85)) & MASK32
    return c


def init_normal(seed, n, tensor_index):
    w = philox_words(seed, np.arange(n, dtype=np.uint64), tensor_index)
    u1 = (w[0].astype(np.float64) + 0.5) / 4294967296.0
    u2 = w[1].astype(np.float64) / 4294967296.0
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u2)


def param_table():
    """(name, shape, residual) in the order of core/model_params.c."""
    d, V, Fh = CFG["d_model"], CFG["vocab"], CFG["mlp_ratio"] * CFG["d_model"]
    P = sum(m[4] for m in CFG["mods"])
    t = [("wte.weight", (V, d), 0), ("wpe.weight", (P, d), 0)]
    for l in range(CFG["n_layer"]):
        t += [(f"blocks.{l}.n1.weight", (d,), 0), (f"blocks.{l}.attn.qkv.weight", (3 * d, d), 0),
              (f"blocks.{l}.attn.proj.weight", (d, d), 1), (f"blocks.{l}.n2.weight", (d,), 0),
              (f"blocks.{l}.fc.weight", (Fh, d), 0), (f"blocks.{l}.fc2.weight", (d, Fh), 1)]
    return t + [("nf.weight", (d,), 0), ("head.weight", (V, d), 0)]


def init_params():
    params = {}
    resid = 1.0 / math.sqrt(2.0 * CFG["n_layer"])
    for i, (name, shape, residual) in enumerate(param_table()):
        if len(shape) == 1:
            v = np.ones(shape, dtype=np.float32)
        else:
            std = np.float64(np.float32(INIT_STD)) * (resid if residual else 1.0)
            v = (std * init_normal(SEED, int(np.prod(shape)), i)).astype(np.float32).reshape(shape)
        params[name] = torch.tensor(v, requires_grad=True)
    return params


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * w


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def forward(p, batch):
    tok, tgt, w, pos, lengths = batch["tokens"], batch["targets"], batch["weights"], batch["pos"], batch["lengths"]
    Bn, Tn = tok.shape
    d, H = CFG["d_model"], CFG["n_head"]
    Dh = d // H
    x = p["wte.weight"][tok] + p["wpe.weight"][pos]
    i = torch.arange(Tn).view(Tn, 1)
    j = torch.arange(Tn).view(1, Tn)
    lens = lengths.view(Bn, 1, 1, 1)
    mask = (j.view(1, 1, 1, Tn) < lens)
    if CFG["causal"]:
        mask = mask & (j <= i).view(1, 1, Tn, Tn)
    valid = (torch.arange(Tn).view(1, Tn) < lengths.view(Bn, 1)).float()
    for l in range(CFG["n_layer"]):
        pre = f"blocks.{l}."
        h = rmsnorm(x, p[pre + "n1.weight"])
        qkv = h @ p[pre + "attn.qkv.weight"].t()
        q, k, v = qkv.split(d, dim=2)
        q, k, v = (t.reshape(Bn, Tn, H, Dh).transpose(1, 2) for t in (q, k, v))
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(Dh))
        s = s.masked_fill(~mask, float("-inf"))
        att = torch.softmax(s, dim=-1) @ v
        att = att.transpose(1, 2).reshape(Bn, Tn, d) * valid.view(Bn, Tn, 1)
        x = x + att @ p[pre + "attn.proj.weight"].t()
        h2 = rmsnorm(x, p[pre + "n2.weight"])
        x = x + gelu_tanh(h2 @ p[pre + "fc.weight"].t()) @ p[pre + "fc2.weight"].t()
    logits = rmsnorm(x, p["nf.weight"]) @ p["head.weight"].t()
    ce = F.cross_entropy(logits.view(-1, CFG["vocab"]), tgt.view(-1), reduction="none")
    return logits.view(Bn * Tn, -1), ce * w.view(-1)


def make_batches(rng):
    """Ragged two-modality sequences [BOS_a a.. EOS_a BOS_b b.. EOS_b] with position ids from
    each modality's base row, some zero and some half loss weights."""
    (alo, ahi, abos, aeos, alen), (blo, bhi, bbos, beos, blen) = CFG["mods"]
    bases = [0, alen]
    out = []
    for _ in range(N_BATCHES):
        tok = np.zeros((B, T), np.int32); tgt = np.zeros((B, T), np.int32)
        w = np.zeros((B, T), np.float32); pos = np.zeros((B, T), np.int32)
        mod = np.zeros((B, T), np.int32); lengths = np.zeros(B, np.int32)
        for b in range(B):
            la = int(rng.integers(10, alen - 2 + 1)); lb = int(rng.integers(4, blen - 2 + 1))
            seq = [abos] + list(rng.integers(alo, ahi, la)) + [aeos] + [bbos] + list(rng.integers(blo, bhi, lb)) + [beos]
            sp = list(range(bases[0], bases[0] + la + 2)) + list(range(bases[1], bases[1] + lb + 2))
            sm = [0] * (la + 2) + [1] * (lb + 2)
            n = min(len(seq), T)
            lengths[b] = n
            tok[b, :n] = seq[:n]; pos[b, :n] = sp[:n]; mod[b, :n] = sm[:n]
            tgt[b, :n - 1] = seq[1:n]
            w[b, :n - 1] = 1.0
            drop = rng.random(n - 1)
            w[b, :n - 1][drop < 0.1] = 0.0
            w[b, :n - 1][(drop >= 0.1) & (drop < 0.2)] = 0.5
        out.append(dict(tokens=tok, targets=tgt, weights=w, pos=pos, lengths=lengths, modality=mod))
    return out


def torch_batch(b):
    return dict(tokens=torch.tensor(b["tokens"], dtype=torch.long), targets=torch.tensor(b["targets"], dtype=torch.long),
                weights=torch.tensor(b["weights"]), pos=torch.tensor(b["pos"], dtype=torch.long),
                lengths=torch.tensor(b["lengths"], dtype=torch.long))


def lr_at(s):
    lr_max, lr_min, lr_init, warmup, total = TRAIN[:5]
    if s < warmup:
        return lr_init + (lr_max - lr_init) * s / warmup
    prog = min(1.0, (s - warmup) / max(1, total - warmup))
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + math.cos(math.pi * prog))


class Writer:
    def __init__(self):
        self.records = []

    def add(self, name, arr):
        arr = np.ascontiguousarray(arr)
        code = {np.dtype(np.float32): 0, np.dtype(np.int32): 1, np.dtype(np.float64): 2}[arr.dtype]
        nb = name.encode()
        head = struct.pack("<H", len(nb)) + nb + struct.pack("<BB", code, arr.ndim)
        head += b"".join(struct.pack("<q", s) for s in arr.shape)
        self.records.append(head + arr.astype(arr.dtype.newbyteorder("<")).tobytes())

    def save(self, path):
        with open(path, "wb") as f:
            f.write(b"LTGOLDEN" + struct.pack("<II", 1, len(self.records)))
            for r in self.records:
                f.write(r)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(7)
    batches = make_batches(rng)
    tb = [torch_batch(b) for b in batches]
    p = init_params()
    names = [n for n, _, _ in param_table()]
    out = Writer()
    cfg = [CFG["n_layer"], CFG["n_head"], CFG["d_model"], CFG["mlp_ratio"], CFG["vocab"], CFG["causal"], len(CFG["mods"])]
    for m in CFG["mods"]:
        cfg += list(m)
    out.add("config", np.array(cfg, np.int32))
    out.add("config.f", np.array([NORM_EPS, INIT_STD], np.float64))
    out.add("run", np.array([SEED, B, T, N_BATCHES, N_STEPS], np.int32))
    out.add("train", np.array(TRAIN, np.float64))
    for key in ("tokens", "targets", "weights", "pos", "lengths", "modality"):
        out.add("batch." + key, np.stack([b[key] for b in batches]))
    out.add("init.sumsq", np.array([float((p[n].double() ** 2).sum()) for n in names], np.float64))

    # 1. Logits, loss and every gradient of the mean loss on batch 0.
    logits, wce = forward(p, tb[0])
    loss = wce.sum() / tb[0]["weights"].sum()
    loss.backward()
    out.add("logits", logits.detach().numpy())
    out.add("loss", np.array([loss.item()], np.float64))
    mod = torch.tensor(batches[0]["modality"]).view(-1)
    wv = tb[0]["weights"].view(-1)
    mloss = [float(wce[mod == i].sum() / wv[mod == i].sum()) for i in range(len(CFG["mods"]))]
    out.add("mod_loss", np.array(mloss, np.float64))
    for n in names:
        out.add("grad." + n, p[n].grad.numpy())
        p[n].grad = None

    # 2. N_STEPS AdamW steps, each accumulating two micro-batches, clipped, on the schedule.
    lr_max, _, _, _, _, b1, b2, eps, wd, clip = TRAIN
    params = [p[n] for n in names]
    opt = torch.optim.AdamW([{"params": [q for q in params if q.dim() >= 2], "weight_decay": wd},
                             {"params": [q for q in params if q.dim() < 2], "weight_decay": 0.0}],
                            lr=lr_max, betas=(b1, b2), eps=eps)
    losses, norms, lrs = [], [], []
    for s in range(N_STEPS):
        micro = [tb[(2 * s) % N_BATCHES], tb[(2 * s + 1) % N_BATCHES]]
        wsum = sum(float(m["weights"].sum()) for m in micro)
        total = 0.0
        for m in micro:
            _, wce = forward(p, m)
            l = wce.sum() / wsum
            l.backward()
            total += l.item()
        norm = torch.nn.utils.clip_grad_norm_(params, clip)
        for g in opt.param_groups:
            g["lr"] = lr_at(s)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(total); norms.append(float(norm)); lrs.append(lr_at(s))
        print(f"step {s} loss {total:.6f} grad_norm {float(norm):.4f} lr {lr_at(s):.3g}", file=sys.stderr)
    out.add("steps.loss", np.array(losses, np.float64))
    out.add("steps.grad_norm", np.array(norms, np.float64))
    out.add("steps.lr", np.array(lrs, np.float64))
    out.add("final.sumsq", np.array([float((p[n].detach().double() ** 2).sum()) for n in names], np.float64))
    for n in names:
        if p[n].dim() == 1:
            out.add("final." + n, p[n].detach().numpy())
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "tests", "golden", "tiny_golden.bin")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    out.save(path)
    print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
