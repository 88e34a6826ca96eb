#!/usr/bin/env python3
"""Writes tests/data/quant_golden.json: random f32 rows (with 100x outliers, all-zero blocks,
tiny and constant blocks), a random positive imatrix per row length, and what the real ggml
(`ggml_quantize_chunk` in libggml-base.so, ggml 0.25.3 as built by scripts/build-llama-cpp.sh)
makes of them for every type sinkquant writes, without and with the imatrix. The Rust unit
tests (src/quant/formats/quant_tests.rs) compare sinkquant's quantizers against these bytes.

It also checks that gguf-py's numpy quantizers (pip install gguf==0.19.0) agree with libggml
for the types gguf-py can quantize (F16, BF16 and the legacy Q4_0..Q8_0), on the fixture rows
and on a larger random set.

Usage: python3 scripts/gen_quant_golden.py [OUT]
  GGML_LIB overrides the library (default ~/.cache/llama-cpp-ref/bin/libggml-base.so).
"""
import ctypes
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize as gguf_quantize

LIB = os.environ.get("GGML_LIB", os.path.expanduser("~/.cache/llama-cpp-ref/bin/libggml-base.so"))
ggml = ctypes.CDLL(LIB)
ggml.ggml_quantize_chunk.restype = ctypes.c_size_t
ggml.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                     ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
ggml.ggml_quantize_init.argtypes = [ctypes.c_int]
ggml.ggml_row_size.restype = ctypes.c_size_t
ggml.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]

TYPES = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
         T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.IQ4_NL, T.IQ4_XS]
GGUF_PY_TYPES = [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]


def ggml_quantize(ty, src, imatrix=None):
    """ggml_quantize_chunk on a (nrows, n_per_row) f32 array; returns the bytes."""
    src = np.ascontiguousarray(src, dtype=np.float32)
    nrows, n_per_row = src.shape
    ggml.ggml_quantize_init(int(ty))
    out = np.zeros(nrows * ggml.ggml_row_size(int(ty), n_per_row), dtype=np.uint8)
    qw = None
    if imatrix is not None:
        imatrix = np.ascontiguousarray(imatrix, dtype=np.float32)
        assert imatrix.shape == (n_per_row,)
        qw = imatrix.ctypes.data
    n = ggml.ggml_quantize_chunk(int(ty), src.ctypes.data, out.ctypes.data, 0, nrows, n_per_row, qw)
    assert n == out.size, (ty.name, n, out.size)
    return out.tobytes()


def rows_512(rng):
    """Three rows of 512: outliers, an all-zero super-block, tiny/subnormal/constant/odd blocks."""
    x = rng.standard_normal((3, 512)).astype(np.float32) * 0.02
    x[0, [5, 77, 300, 301]] *= 100                       # massive outliers
    x[0, 400] = -3.0
    x[1, :256] = 0                                       # all-zero super-block (8 legacy blocks)
    x[1, 256:] *= np.repeat(np.exp(rng.uniform(-4, 3, 8)), 32).astype(np.float32)  # scale per block
    r = x[2]
    r[0:32] *= 1e-4                                      # fp16-subnormal scales
    r[32:64] = rng.standard_normal(32) * 1e-20           # below GROUP_MAX_EPS
    r[64:96] = 0.25                                      # constant positive
    r[96:128] = -np.abs(r[96:128]) - 0.01                # all negative
    r[128:160] = 0
    r[140] = 0.5                                         # one non-zero
    r[160:192] = np.abs(r[160:192]) + 1.0                # all positive with an offset
    r[192:224] = np.float32(3e-39)                       # subnormal: 1/scale overflows to inf
    r[200] = np.float32(-3.1e-39)
    r[224:256] = np.float32(1e-41) * np.arange(32)       # subnormal ramp
    r[256:512] = rng.uniform(-1, 1, 256)                 # uniform
    r[300] = 60.0
    return x


def rows_256(rng):
    """Four rows of 256: heavy tails, a mean shift, a wide random scale, a ramp."""
    x = np.empty((4, 256), dtype=np.float32)
    x[0] = rng.standard_t(2, 256) * 0.01
    x[1] = rng.standard_normal(256) * 0.05 + 0.1
    x[2] = rng.standard_normal(256) * np.exp(rng.uniform(-6, 2))
    x[3] = np.linspace(-1, 1, 256) ** 3
    x[3, 17] = 100.0
    return x


def imatrix_for(rng, n):
    return np.exp(rng.standard_normal(n) * 1.5).astype(np.float32)


def check_gguf_py(rng, cases):
    """gguf-py and libggml must agree (they are both llama.cpp's references)."""
    extra = {"big": (rng.standard_normal((64, 1024)) * np.exp(rng.uniform(-5, 2, (64, 1))))}
    for name, (x, _) in list(cases.items()) + [(k, (v, None)) for k, v in extra.items()]:
        x = x.astype(np.float32)
        for ty in GGUF_PY_TYPES:
            want = ggml_quantize(ty, x)
            with np.errstate(all="ignore"):  # subnormal blocks overflow 1/d, as in C
                got = gguf_quantize(x, ty).tobytes()
            assert got == want, f"gguf-py and libggml disagree on {ty.name} ({name})"
    print("gguf-py agrees with libggml on", [t.name for t in GGUF_PY_TYPES])


def main():
    rng = np.random.default_rng(20261123)
    cases = {}
    for name, make in [("r512", rows_512), ("r256", rows_256)]:
        x = make(rng)
        cases[name] = (x, imatrix_for(rng, x.shape[1]))
    check_gguf_py(rng, cases)
    out = {"cases": {}, "types": {}}
    for name, (x, qw) in cases.items():
        out["cases"][name] = {"n_per_row": x.shape[1], "src": x.astype("<f4").tobytes().hex(),
                              "imatrix": qw.astype("<f4").tobytes().hex()}
    for ty in TYPES:
        out["types"][ty.name] = {name: {"plain": ggml_quantize(ty, x).hex(),
                                        "imatrix": ggml_quantize(ty, x, qw).hex()}
                                 for name, (x, qw) in cases.items()}
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/data/quant_golden.json"
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
