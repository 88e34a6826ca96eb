#!/usr/bin/env python3
"""Writes tests/data/dequant_golden.json: for every ggml type sinkquant reads, a few random
blocks (with finite fp16 scales) and gguf-py's dequantization of them, as f32 bit patterns.
gguf-py (pip install gguf==0.19.0) is llama.cpp's own Python reference; the Rust unit tests
compare sinkquant's scalar dequantizers against these values bit for bit.

Usage: python3 scripts/gen_dequant_golden.py [OUT]
"""
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

# (type, block bytes, byte offsets of fp16 scale fields)
TYPES = [
    (T.F32, 4, []), (T.F16, 2, []), (T.BF16, 2, []),
    (T.Q4_0, 18, [0]), (T.Q4_1, 20, [0, 2]), (T.Q5_0, 22, [0]), (T.Q5_1, 24, [0, 2]),
    (T.Q8_0, 34, [0]), (T.Q2_K, 84, [80, 82]), (T.Q3_K, 110, [108]),
    (T.Q4_K, 144, [0, 2]), (T.Q5_K, 176, [0, 2]), (T.Q6_K, 210, [208]),
    (T.IQ4_NL, 18, [0]), (T.IQ4_XS, 136, [0]),
]

rng = np.random.default_rng(20261122)
out = {}
for ty, size, scales in TYPES:
    n_blocks = 4
    if ty == T.F32:
        raw = rng.standard_normal(256).astype(np.float32).tobytes()
    elif ty == T.F16:
        raw = rng.standard_normal(256).astype(np.float16).tobytes()
    elif ty == T.BF16:
        raw = (rng.standard_normal(256).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()
    else:
        blocks = bytearray(rng.integers(0, 256, size * n_blocks, dtype=np.uint8).tobytes())
        for b in range(n_blocks):
            for off in scales:
                v = np.float16(rng.uniform(-0.05, 0.05))
                blocks[b * size + off:b * size + off + 2] = v.tobytes()
        raw = bytes(blocks)
    data = np.frombuffer(raw, dtype=np.uint8)
    values = dequantize(data, ty).astype(np.float32).reshape(-1)
    out[ty.name] = {"bytes": raw.hex(), "f32_bits": [int(x) for x in values.view(np.uint32)]}

path = sys.argv[1] if len(sys.argv) > 1 else "tests/data/dequant_golden.json"
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path, {k: len(v["f32_bits"]) for k, v in out.items()})
