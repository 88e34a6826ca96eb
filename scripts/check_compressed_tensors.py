#!/usr/bin/env python3
"""Check sinkquant's reading of a compressed-tensors `pack-quantized` directory against the
compressed-tensors package itself.

Purpose
    DIR is a Hugging Face directory whose config.json has a compressed-tensors
    `quantization_config` (format pack-quantized: `<module>.weight_packed`, `.weight_scale`,
    `.weight_shape`, `.weight_zero_point`), as llm-compressor writes and vLLM loads, or as
    sinkquant writes. The script checks:

    a) reference: every tensor of DIR decompressed by compressed-tensors'
       CompressedTensorsDequantizer (the package's own state-dict decompression:
       PackedQuantizationCompressor.decompress, i.e. unpack_from_int32 then
       (q - zp) * scale in the scale's dtype), converted to float32;
    b) sinkquant: the float32 weights sinkquant reads from DIR (Model::open + read_canonical).
       First `quantize export DIR OUT --dtype f32`; when that command does not accept DIR
       (today it converts GGUF files only), the ignored unit test
       `io::compressed_tensors::tests::dump_f32` writes the same reading (cargo, in --repo);
    c) every sinkquant tensor equals the reference tensor of the same name:
       max|a - b| <= --tol * max|b| (default 1e-6; exact equality is expected), and every
       reference weight sinkquant knows a role for is present;
    d) transformers: whether AutoModelForCausalLM.from_pretrained(DIR) loads the directory
       (through compressed-tensors), runs a forward pass, and then holds the same weights.
       A failure to load is reported, not fatal (--require-transformers makes it fatal); a
       loaded model whose weights differ is a mismatch.
    Exits 1 on any mismatch or failed step.

    --make-fixture OUT writes a tiny random llama directory (2 layers, hidden 64, vocab 256)
    instead of checking: --writer compressed-tensors quantizes it with the package itself
    (apply_quantization_config, min-max scales from calculate_qparams, ModelCompressor
    compress_model / save_pretrained / update_config), which checks sinkquant's reader against
    their writer; --writer sinkquant runs the ignored unit test
    `io::compressed_tensors::tests::write_fixture_dir`, which checks their reader against ours.
    --scheme BITS:GROUP:SYM, e.g. 4:32:sym, 8:channel:sym, 4:128:asym. lm_head is ignored.
    --from HF_DIR (compressed-tensors writer only) quantizes a real model directory instead
    (loaded in bfloat16; tokenizer files are copied).

Usage
    scripts/check_compressed_tensors.py DIR [--quantize BIN] [--repo DIR] [--via auto|export|dump]
                                        [--tol 1e-6] [--no-transformers]
                                        [--require-transformers] [--json OUT]
    scripts/check_compressed_tensors.py --make-fixture OUT [--writer compressed-tensors|sinkquant]
                                        [--scheme 4:32:sym] [--from HF_DIR]

Requires: torch, safetensors, transformers, compressed-tensors (pip install compressed-tensors).
Verified with compressed-tensors 0.20.0, torch 2.15.0, transformers 5.23.0.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_scheme(spec: str) -> tuple[int, int | None, bool]:
    parts = spec.split(":")
    if len(parts) != 3 or parts[0] not in ("4", "8") or parts[2] not in ("sym", "asym"):
        raise SystemExit(f"--scheme {spec!r}: expected BITS:GROUP:SYM, e.g. 4:32:sym or 8:channel:asym")
    group = None if parts[1] == "channel" else int(parts[1])
    return int(parts[0]), group, parts[2] == "sym"


def cargo_test(repo: Path, name: str, env: dict[str, str]) -> None:
    cmd = ["cargo", "test", "--release", "--lib", name, "--", "--ignored", "--exact"]
    r = subprocess.run(cmd, cwd=repo, env={**os.environ, **env}, capture_output=True, text=True)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(cmd)} failed in {repo}:\n{tail}")


def make_fixture_ct(out: Path, bits: int, group: int | None, sym: bool, source: Path | None) -> None:
    import torch
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import (
        QuantizationArgs,
        QuantizationConfig,
        QuantizationScheme,
        apply_quantization_config,
    )
    from compressed_tensors.quantization.utils import calculate_qparams
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if source is None:
        cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.bfloat16)
    args = QuantizationArgs(num_bits=bits, type="int", symmetric=sym,
                            strategy="channel" if group is None else "group", group_size=group)
    qc = QuantizationConfig(config_groups={"group_0": QuantizationScheme(targets=["Linear"], weights=args)},
                            ignore=["lm_head"])
    apply_quantization_config(model, qc)
    for _, m in model.named_modules():
        if not hasattr(m, "weight_scale"):
            continue
        w = m.weight.data
        if group is None:
            mn, mx = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
        else:
            wg = w.unflatten(-1, (w.shape[-1] // group, group))
            mn, mx = wg.amin(-1), wg.amax(-1)
        scale, zp = calculate_qparams(mn, mx, m.quantization_scheme.weights)
        m.weight_scale.data.copy_(scale)
        if hasattr(m, "weight_zero_point"):
            m.weight_zero_point.data.copy_(zp)
    comp = ModelCompressor.from_pretrained_model(model, "pack-quantized")
    comp.compress_model(model)
    model.save_pretrained(out)
    comp.update_config(str(out))
    if source is not None:
        for f in source.iterdir():
            if f.name.startswith("tokenizer") or f.name in ("special_tokens_map.json", "generation_config.json"):
                shutil.copy(f, out / f.name)


def reference(d: Path) -> dict:
    """DIR decompressed by compressed-tensors, float32."""
    import torch
    from compressed_tensors.entrypoints.convert.converters.ct_dequantizer import CompressedTensorsDequantizer
    from safetensors.torch import load_file

    tensors = {}
    for f in sorted(d.glob("*.safetensors")):
        tensors.update(load_file(f))
    deq = CompressedTensorsDequantizer(str(d), dtype=torch.float32)
    out = deq.process(tensors)
    return {k: v.float() for k, v in out.items()}


def sinkquant(d: Path, tmp: Path, binary: Path, repo: Path, via: str) -> tuple[dict, str]:
    """sinkquant's float32 reading of DIR, and how it was obtained."""
    from safetensors.torch import load_file

    notes = []
    if via in ("auto", "export"):
        out = tmp / "export"
        r = subprocess.run([str(binary), "export", str(d), str(out), "--dtype", "f32"], capture_output=True, text=True)
        if r.returncode == 0:
            return load_file(out / "model.safetensors"), f"{binary} export --dtype f32"
        msg = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        if via == "export":
            raise RuntimeError(f"quantize export failed: {msg}")
        notes.append(f"quantize export declined ({msg})")
    out = tmp / "dump.safetensors"
    cargo_test(repo, "io::compressed_tensors::tests::dump_f32",
               {"SINKQUANT_DUMP_IN": str(d), "SINKQUANT_DUMP_OUT": str(out)})
    notes.append("read through the dump_f32 unit test (Model::open + read_canonical)")
    return load_file(out), "; ".join(notes)


def compare(ours: dict, ref: dict, tol: float) -> tuple[list, list]:
    rows, bad = [], []
    for name, a in ours.items():
        b = ref.get(name)
        if b is None:
            bad.append(f"{name}: not in compressed-tensors' decompression")
            continue
        if tuple(a.shape) != tuple(b.shape):
            bad.append(f"{name}: shape {tuple(a.shape)} vs {tuple(b.shape)}")
            continue
        diff = (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
        scale = b.double().abs().max().item() if b.numel() else 0.0
        rows.append((name, diff, scale))
        if diff > tol * scale:
            bad.append(f"{name}: max |diff| {diff:.3g} > {tol:g} * max |ref| {scale:.3g}")
    return rows, bad


def transformers_check(d: Path, ours: dict, tol: float) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    res = {"loads": False}
    try:
        model = AutoModelForCausalLM.from_pretrained(str(d))
    except Exception as e:  # noqa: BLE001 - reported, not raised
        res["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return res
    res["loads"] = True
    with torch.no_grad():
        ids = torch.arange(8).unsqueeze(0) % model.config.vocab_size
        logits = model(ids).logits
    res["forward_finite"] = bool(torch.isfinite(logits).all())
    state = model.state_dict()
    worst, missing, mism = 0.0, [], []
    for name, a in ours.items():
        b = state.get(name)
        if b is None:
            missing.append(name)
            continue
        diff = (a.double() - b.double()).abs().max().item()
        worst = max(worst, diff)
        if diff > tol * b.double().abs().max().item():
            mism.append(f"{name}: {diff:.3g}")
    res.update(max_abs_diff=worst, missing=missing, mismatched=mism, dtype=str(next(model.parameters()).dtype))
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", type=Path)
    ap.add_argument("--quantize", type=Path, default=REPO / "target/release/quantize")
    ap.add_argument("--repo", type=Path, default=REPO, help="sinkquant checkout for the cargo test fallback")
    ap.add_argument("--via", choices=["auto", "export", "dump"], default="auto")
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--no-transformers", action="store_true")
    ap.add_argument("--require-transformers", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--make-fixture", type=Path, metavar="OUT")
    ap.add_argument("--writer", choices=["compressed-tensors", "sinkquant"], default="compressed-tensors")
    ap.add_argument("--scheme", default="4:32:sym")
    ap.add_argument("--from", dest="source", type=Path, help="quantize this HF directory instead of a tiny random llama")
    a = ap.parse_args()

    import compressed_tensors
    import torch

    versions = f"compressed-tensors {compressed_tensors.__version__}, torch {torch.__version__}"
    if a.make_fixture:
        bits, group, sym = parse_scheme(a.scheme)
        if a.writer == "sinkquant":
            a.make_fixture.mkdir(parents=True, exist_ok=True)
            cargo_test(a.repo, "io::compressed_tensors::tests::write_fixture_dir",
                       {"SINKQUANT_FIXTURE_OUT": str(a.make_fixture.resolve()), "SINKQUANT_FIXTURE_SCHEME": a.scheme})
        else:
            make_fixture_ct(a.make_fixture, bits, group, sym, a.source)
        print(f"wrote {a.make_fixture} ({a.writer}, {a.scheme}; {versions})")
        return 0
    if a.dir is None:
        ap.error("DIR is required (or --make-fixture OUT)")
    d = a.dir.resolve()
    qc = json.loads((d / "config.json").read_text()).get("quantization_config", {})
    groups = {k: (g.get("format") or qc.get("format"), g.get("weights")) for k, g in qc.get("config_groups", {}).items()}
    print(f"{d}: {versions}")
    print(f"  quantization_config: method {qc.get('quant_method')}, format {qc.get('format')}, "
          f"status {qc.get('quantization_status')}, version {qc.get('version')}, ignore {qc.get('ignore')}")
    for k, (fmt, w) in groups.items():
        w = w or {}
        print(f"  {k}: {fmt}, {w.get('num_bits')} bits, {w.get('strategy')}, group_size {w.get('group_size')}, "
              f"symmetric {w.get('symmetric')}")

    report: dict = {"dir": str(d), "versions": versions}
    failures = []
    ref = reference(d)
    packed = sorted({k.rsplit(".", 1)[0] for k in ref} & {
        k.rsplit(".", 1)[0] for f in d.glob("*.safetensors") for k in __import__("safetensors").safe_open(f, "pt").keys()
        if k.endswith(".weight_packed")})
    print(f"  compressed-tensors decompressed {len(ref)} tensors ({len(packed)} packed layers)")
    with tempfile.TemporaryDirectory(prefix="ct-check-") as tmp:
        try:
            ours, how = sinkquant(d, Path(tmp), a.quantize, a.repo, a.via)
        except Exception as e:  # noqa: BLE001
            print(f"FAIL sinkquant could not read {d}: {e}")
            return 1
    print(f"  sinkquant: {len(ours)} tensors; {how}")
    rows, bad = compare(ours, ref, a.tol)
    worst = max(rows, key=lambda r: r[1], default=("-", 0.0, 0.0))
    n_exact = sum(1 for r in rows if r[1] == 0.0)
    print(f"  compared {len(rows)} tensors: {n_exact} bit-identical, worst {worst[0]} max |diff| {worst[1]:.3g}")
    roles_missing = [k for k in ref if k.endswith(".weight") and k not in ours and "rotary" not in k]
    if roles_missing:
        print(f"  note: {len(roles_missing)} reference tensors sinkquant has no role for: {roles_missing[:5]}")
    failures += bad
    report.update(compared=len(rows), bit_identical=n_exact, worst=list(worst), mismatches=bad, how=how)

    if not a.no_transformers:
        t = transformers_check(d, ours, a.tol)
        report["transformers"] = t
        if not t["loads"]:
            print(f"  transformers: does not load the directory: {t.get('error')}")
            if a.require_transformers:
                failures.append("transformers cannot load the directory")
        else:
            print(f"  transformers: loads ({t['dtype']}), forward pass finite: {t['forward_finite']}, "
                  f"weights after decompression max |diff| vs sinkquant {t['max_abs_diff']:.3g}"
                  + (f", {len(t['missing'])} not in its state dict" if t["missing"] else ""))
            failures += [f"transformers {m}" for m in t["mismatched"]]
            if not t["forward_finite"]:
                failures.append("transformers forward pass is not finite")
    if a.json:
        a.json.write_text(json.dumps(report, indent=2) + "\n")
    for f in failures:
        print(f"FAIL {f}")
    print("OK" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
