#!/usr/bin/python3
"""read_checkpoint.py - checks that Python tooling reads a loretta checkpoint.

  /usr/bin/python3 tools/golden/read_checkpoint.py CKPT.safetensors

With the `safetensors` package installed it loads the file with safetensors.torch.load_file
(and safe_open for the metadata); without it, it parses the header with plain json and reads
the tensors with torch.frombuffer, checking the offsets cover the data exactly. Either way it
then checks the metadata (format, version, config), that every weight has its "optim.m." and
"optim.v." twins of the same shape, and that the weights load into a PyTorch model with the
baseline's parameter names (bench/torch_gpt_baseline.py). Exits non-zero on any problem.
"""
import json
import struct
import sys

import torch


def read_plain(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__")
    body = data[8 + n:]
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1]) for v in header.values())
    pos = 0
    for b, e in spans:
        assert b == pos, f"gap or overlap at byte {b} (expected {pos})"
        pos = e
    assert pos == len(body), f"tensors cover {pos} bytes of {len(body)}"
    out = {}
    for name, v in header.items():
        assert v["dtype"] == "F32", f"{name}: dtype {v['dtype']}"
        b, e = v["data_offsets"]
        t = torch.frombuffer(bytearray(body[b:e]), dtype=torch.float32).reshape(v["shape"])
        out[name] = t
    return out, meta


def read_safetensors(path):
    from safetensors import safe_open
    from safetensors.torch import load_file
    tensors = load_file(path)
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    return tensors, meta


def main():
    path = sys.argv[1]
    try:
        tensors, meta = read_safetensors(path)
        how = "safetensors"
    except ImportError:
        tensors, meta = read_plain(path)
        how = "json + torch.frombuffer (safetensors not installed)"
    assert meta["format"] == "loretta.checkpoint", meta.get("format")
    assert int(meta["format_version"]) == 1
    cfg = json.loads(meta["config"])
    opt = json.loads(meta["optimizer"])
    weights = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    for k, v in weights.items():
        for part in ("optim.m.", "optim.v."):
            assert tensors[part + k].shape == v.shape, f"{part}{k} shape"
        assert torch.isfinite(v).all(), f"{k} has non-finite values"
    L, d, V = cfg["n_layer"], cfg["d_model"], cfg["vocab_size"]
    P = sum(m["max_len"] for m in cfg["modalities"])
    F = cfg.get("mlp_ratio", 4) * d
    want = {"wte.weight": (V, d), "wpe.weight": (P, d), "nf.weight": (d,), "head.weight": (V, d)}
    for l in range(L):
        want.update({f"blocks.{l}.n1.weight": (d,), f"blocks.{l}.attn.qkv.weight": (3 * d, d),
                     f"blocks.{l}.attn.proj.weight": (d, d), f"blocks.{l}.n2.weight": (d,),
                     f"blocks.{l}.fc.weight": (F, d), f"blocks.{l}.fc2.weight": (d, F)})
    assert set(want) == set(weights), f"names differ: {set(want) ^ set(weights)}"
    for k, shape in want.items():
        assert tuple(weights[k].shape) == shape, f"{k}: {tuple(weights[k].shape)} != {shape}"
    # The weights drop into a torch module with the baseline's names.
    model = torch.nn.Module()
    for k, v in weights.items():
        parts = k.split(".")
        mod = model
        for p in parts[:-1]:
            if not hasattr(mod, p):
                mod.add_module(p, torch.nn.Module())
            mod = getattr(mod, p)
        mod.register_parameter(parts[-1], torch.nn.Parameter(torch.zeros_like(v)))
    missing, unexpected = model.load_state_dict(weights, strict=True), None
    n = sum(v.numel() for v in weights.values())
    print(f"read_checkpoint: {path}: {len(weights)} weight tensors ({n:,} parameters) + moments via {how}; "
          f"config {cfg['name']} step {meta['step']} lr_max {opt['lr_max']}")


if __name__ == "__main__":
    main()
