#!/usr/bin/env python3
"""Check `quantize export` tensor by tensor against gguf-py's dequantization.

Purpose
    `quantize export IN.gguf OUT_DIR --dtype f32` turns a GGUF model into a Hugging Face
    directory. This script checks every tensor of OUT_DIR/model.safetensors against an
    independent reference built only from gguf-py (the GGUF library maintained with llama.cpp)
    and numpy:

      reference = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
                  reshaped to numpy order (the reverse of GGUF's ne order),
                  then the conversions llama.cpp applied are undone exactly as transformers'
                  own GGUF loader undoes them (transformers/modeling_gguf_pytorch_utils.py):
        * llama arch: attn_q / attn_k rows were permuted by convert_hf_to_gguf.py; reversed by
          LlamaTensorProcessor._reverse_permute_weights:
              n_head = head_count (q) or head_count_kv (k)
              w.reshape(n_head, rows // n_head // 2, 2, *rest).swapaxes(2, 1).reshape(w.shape)
          (transformers tests `".attn_q." in name`, so a bias would be permuted too.)
        * gemma3 arch: norm weights were stored as w + 1; Gemma2TensorProcessor subtracts 1 from
          every tensor whose GGUF name contains "norm.weight" (in float32).
        * qwen2: nothing to undo.
      GGUF names are mapped to HF names (token_embd -> model.embed_tokens, blk.N.attn_q ->
      model.layers.N.self_attn.q_proj, ...; see hf_name()).

    A tensor passes when max|export - reference| <= 1e-6 * max|reference| (exact equality for an
    all-zero reference), with equal shapes and float32 storage. The script fails (exit 1) on any
    failing tensor, on a tensor present on one side only (lm_head may be absent only when the
    GGUF has no output.weight, i.e. the embeddings are tied, and then config.json must say
    tie_word_embeddings), or when the export itself fails.

Usage
    scripts/check_dequant.py [--models DIR] [--quantize BIN] [--keep-export DIR]
                             [--existing DIR] [--only NAME ...]

      --models DIR       directory holding gguf/<name>.gguf (default: <repo>/models)
      --quantize BIN     the quantize binary (default: <repo>/target/release/quantize)
      --keep-export DIR  export into DIR/<name> and keep it (default: a temporary directory,
                         removed afterwards)
      --existing DIR     do not run quantize: check the directories DIR/<name> as they are
                         (e.g. ones transformers wrote, to test this script itself)
      --only NAME        check only these models (default: all three)

Output
    One line per failing tensor, then per model: tensors checked, how many are bit-exact, the
    largest relative difference, and the same per ggml type. Memory stays low: tensors are
    handled one at a time, and large ones in row slices.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    import gguf
    from gguf.quants import dequantize
    from safetensors import safe_open
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"check_dequant: missing Python package ({e}); pip install gguf safetensors numpy")

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"]
REL_TOL = 1e-6
CHUNK_ELEMS = 1 << 24  # elements per slice when comparing large tensors

# GGUF tensor stem -> HF module path, per architecture (the ".weight"/".bias" suffix is kept).
_LAYER_COMMON = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
}
LAYER_MAP = {
    "llama": {**_LAYER_COMMON, "ffn_norm": "post_attention_layernorm"},
    "qwen2": {**_LAYER_COMMON, "ffn_norm": "post_attention_layernorm"},
    "gemma3": {
        **_LAYER_COMMON,
        "ffn_norm": "pre_feedforward_layernorm",
        "post_attention_norm": "post_attention_layernorm",
        "post_ffw_norm": "post_feedforward_layernorm",
        "attn_q_norm": "self_attn.q_norm",
        "attn_k_norm": "self_attn.k_norm",
    },
}
GLOBAL_MAP = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}


def hf_name(arch: str, gguf_name: str) -> str | None:
    """HF tensor name for a GGUF tensor name, or None when there is no mapping."""
    m = re.fullmatch(r"blk\.(\d+)\.(\w+)\.(weight|bias)", gguf_name)
    if m:
        stem = LAYER_MAP[arch].get(m.group(2))
        return f"model.layers.{m.group(1)}.{stem}.{m.group(3)}" if stem else None
    m = re.fullmatch(r"(\w+)\.(weight|bias)", gguf_name)
    if m and m.group(1) in GLOBAL_MAP:
        return f"{GLOBAL_MAP[m.group(1)]}.{m.group(2)}"
    return None


def reverse_permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """transformers' LlamaTensorProcessor._reverse_permute_weights, verbatim in effect."""
    dim = weights.shape[0] // n_head // 2
    w = weights.reshape(n_head, dim, 2, *weights.shape[1:])
    return w.swapaxes(2, 1).reshape(weights.shape)


def field_value(reader: gguf.GGUFReader, key: str):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


@dataclass
class TypeStats:
    count: int = 0
    exact: int = 0
    max_rel: float = 0.0


@dataclass
class ModelResult:
    name: str
    checked: int = 0
    exact: int = 0
    max_rel: float = 0.0
    failures: list[str] = field(default_factory=list)
    per_type: dict[str, TypeStats] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def fail(self, msg: str) -> None:
        self.failures.append(msg)
        print(f"  FAIL {msg}", flush=True)


def reference_rows(t, numpy_shape: tuple[int, ...], r0: int, r1: int) -> np.ndarray:
    """gguf-py's dequantization of rows [r0, r1) of the leading numpy axis, as float32."""
    data = t.data
    if len(numpy_shape) == 1:
        out = dequantize(data, t.tensor_type).reshape(numpy_shape)
    else:
        out = dequantize(data[r0:r1], t.tensor_type).reshape((r1 - r0, *numpy_shape[1:]))
    return np.asarray(out, dtype=np.float32)


def compare(ref: np.ndarray, got: np.ndarray) -> tuple[float, float, bool, str | None]:
    """(max abs diff, max |ref|, bit-exact, problem) over one slice."""
    if got.dtype != np.float32:
        return 0.0, 0.0, False, f"stored as {got.dtype}, expected float32 (--dtype f32)"
    finite = np.isfinite(ref)
    if not finite.all() or not np.isfinite(got).all():
        if not np.array_equal(np.isfinite(got), finite) or not np.array_equal(
            ref[~finite], got[~finite], equal_nan=True
        ):
            return 0.0, 0.0, False, "non-finite values differ"
        ref, got = ref[finite], got[finite]
    if ref.size == 0:
        return 0.0, 0.0, True, None
    diff = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64))))
    return diff, float(np.max(np.abs(ref))), diff == 0.0, None


def check_model(name: str, gguf_path: Path, export_dir: Path, res: ModelResult) -> None:
    t0 = time.time()
    reader = gguf.GGUFReader(str(gguf_path))
    arch = field_value(reader, "general.architecture")
    if arch not in LAYER_MAP:
        res.fail(f"architecture {arch!r} not supported by this check")
        return
    n_head = field_value(reader, f"{arch}.attention.head_count")
    n_head_kv = field_value(reader, f"{arch}.attention.head_count_kv") or n_head
    gguf_names = {t.name for t in reader.tensors}
    tied = "output.weight" not in gguf_names

    st_path = export_dir / "model.safetensors"
    if not st_path.is_file():
        res.fail(f"{st_path} missing")
        return
    seen: set[str] = set()
    with safe_open(str(st_path), framework="np") as st:
        exported = set(st.keys())
        for t in reader.tensors:
            hname = hf_name(arch, t.name)
            if hname is None:
                res.fail(f"{t.name}: no HF name known for this GGUF tensor ({arch})")
                continue
            if hname not in exported:
                res.fail(f"{t.name} -> {hname}: missing from the export")
                continue
            seen.add(hname)
            numpy_shape = tuple(int(x) for x in reversed(t.shape.tolist()))
            sl = st.get_slice(hname)
            got_shape = tuple(sl.get_shape())
            if got_shape != numpy_shape:
                res.fail(f"{hname}: shape {got_shape}, reference {numpy_shape}")
                continue
            permute_heads = None
            if arch == "llama" and (".attn_q." in t.name or ".attn_k." in t.name):
                permute_heads = n_head if ".attn_q." in t.name else n_head_kv
            norm_offset = arch == "gemma3" and "norm.weight" in t.name

            if permute_heads is not None or len(numpy_shape) == 1:
                slices = [(0, numpy_shape[0])]
            else:
                per_row = max(1, int(np.prod(numpy_shape[1:])))
                step = max(1, CHUNK_ELEMS // per_row)
                slices = [(r, min(r + step, numpy_shape[0])) for r in range(0, numpy_shape[0], step)]

            diff = ref_max = 0.0
            exact = True
            problem = None
            for r0, r1 in slices:
                ref = reference_rows(t, numpy_shape, r0, r1)
                if permute_heads is not None:
                    ref = reverse_permute(ref, permute_heads)
                if norm_offset:
                    ref = ref - np.float32(1.0)
                got = st.get_tensor(hname) if len(slices) == 1 else sl[r0:r1]
                d, m, e, problem = compare(ref, got)
                del ref, got
                if problem:
                    break
                diff, ref_max, exact = max(diff, d), max(ref_max, m), exact and e

            ttype = t.tensor_type.name
            stats = res.per_type.setdefault(ttype, TypeStats())
            stats.count += 1
            res.checked += 1
            if problem:
                res.fail(f"{hname} ({t.name}, {ttype}): {problem}")
                continue
            rel = diff / ref_max if ref_max > 0 else (0.0 if diff == 0 else float("inf"))
            stats.max_rel = max(stats.max_rel, rel)
            res.max_rel = max(res.max_rel, rel)
            if exact:
                stats.exact += 1
                res.exact += 1
            if diff > REL_TOL * ref_max or (ref_max == 0 and diff != 0):
                res.fail(
                    f"{hname} ({t.name}, {ttype}): max|diff| {diff:.3e} > {REL_TOL:g} * max|ref| "
                    f"{ref_max:.3e} (rel {rel:.3e})"
                )

        for extra in sorted(exported - seen):
            res.fail(f"{extra}: in the export but has no GGUF counterpart")

    if tied:
        cfg_path = export_dir / "config.json"
        tie = None
        if cfg_path.is_file():
            tie = json.loads(cfg_path.read_text()).get("tie_word_embeddings")
            if tie is None:  # not written: the model type's default applies
                try:
                    from transformers import AutoConfig

                    tie = AutoConfig.from_pretrained(str(export_dir)).tie_word_embeddings
                except Exception as e:  # noqa: BLE001
                    res.fail(f"config.json: cannot resolve tie_word_embeddings ({e})")
                    tie = True
        else:
            res.fail("config.json missing")
            tie = True
        if tie is not True:
            res.fail("GGUF has no output.weight (tied embeddings) but config.json does not tie them")
    res.seconds["compare"] = time.time() - t0


def run_export(quantize: Path, gguf_path: Path, out_dir: Path, res: ModelResult) -> bool:
    cmd = [str(quantize), "export", str(gguf_path), str(out_dir), "--dtype", "f32"]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    res.seconds["export"] = time.time() - t0
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        res.fail(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{tail}")
        return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--quantize", type=Path, default=ROOT / "target" / "release" / "quantize")
    ap.add_argument("--keep-export", type=Path, help="export into DIR/<name> and keep it")
    ap.add_argument("--existing", type=Path, help="check DIR/<name> as is, without running quantize")
    ap.add_argument("--only", nargs="+", choices=MODELS, help="models to check")
    args = ap.parse_args()
    if args.existing and args.keep_export:
        ap.error("--existing and --keep-export exclude each other")
    if not args.existing and not args.quantize.is_file():
        ap.error(f"quantize binary not found: {args.quantize} (build it, or pass --quantize)")

    results: list[ModelResult] = []
    for name in args.only or MODELS:
        res = ModelResult(name)
        results.append(res)
        gguf_path = args.models / "gguf" / f"{name}.gguf"
        print(f"== {name}", flush=True)
        if not gguf_path.is_file():
            res.fail(f"{gguf_path} missing")
            continue
        tmp = None
        try:
            if args.existing:
                export_dir = args.existing / name
            else:
                if args.keep_export:
                    export_dir = args.keep_export / name
                    export_dir.parent.mkdir(parents=True, exist_ok=True)
                else:
                    tmp = Path(tempfile.mkdtemp(prefix=f"check_dequant_{name}_"))
                    export_dir = tmp / "export"
                if not run_export(args.quantize, gguf_path, export_dir, res):
                    continue
            check_model(name, gguf_path, export_dir, res)
        except Exception as e:  # noqa: BLE001 - report and carry on with the next model
            res.fail(f"unexpected error: {type(e).__name__}: {e}")
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

        timing = ", ".join(f"{k} {v:.1f}s" for k, v in res.seconds.items())
        print(
            f"  {res.name}: {res.checked} tensors checked, {res.exact} bit-exact, "
            f"max rel diff {res.max_rel:.3e}, {len(res.failures)} failure(s) [{timing}]"
        )
        for ttype, s in sorted(res.per_type.items()):
            print(f"    {ttype:6s} {s.count:4d} tensors, {s.exact:4d} exact, max rel {s.max_rel:.3e}")

    failed = [r.name for r in results if r.failures]
    print(f"check_dequant: {'FAIL' if failed else 'OK'}" + (f" ({', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
