#!/usr/bin/env python3
"""sinkquant's compressed-tensors int4 against llm-compressor's GPTQ W4A16 (issue 14, deliverable 4).

Purpose
    llm-compressor's `GPTQModifier` with the W4A16 scheme (int4 weights, symmetric, one scale
    per group, activations unquantized) is how compressed-tensors models for vLLM are usually
    made. This script makes that directory from the same Hugging Face directory and the same
    calibration chunks sinkquant uses (the first N chunks of --ctx tokens of --calib), makes
    sinkquant's int4 directory at default flags (and with --method rtn), and scores all of them
    with `quantize compare` against the source on --eval text, and again, as a check that
    does not go through sinkquant's reader, by transformers (the compressed-tensors package
    decompressing) on the first --hf-chunks chunks (KL divergence over each chunk's second
    half, scripts/check_arch_outputs.py's `hf_kld`). The group size is sinkquant's
    own (the largest of 128, 64, 32 dividing every layer's input width: SmolLM2's 576 needs
    64), passed to llm-compressor through a custom scheme so both files have the same layout.

Usage
    /tmp/llmc-venv/bin/python benches/llmcompressor_w4a16.py --model models/hf/smollm2-135m
        [--calib models/text/c4.utf8] [--calib-chunks 32] [--ctx 512] [--eval models/text/wiki.utf8]
        [--eval-chunks 20] [--work DIR] [--quantize target/release/quantize] [--json OUT]
    (llm-compressor in its own venv: python3 -m venv --system-site-packages /tmp/llmc-venv &&
     /tmp/llmc-venv/bin/pip install llmcompressor==0.14.0.1; it pins older torch/transformers)
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def llmcompressor_gptq(model_dir: Path, out: Path, calib: Path, chunks: int, ctx: int, group: int) -> float:
    import torch
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme
    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import GPTQModifier
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    ids = tok(calib.read_text(encoding="utf-8"))["input_ids"]
    if len(ids) < chunks * ctx:
        sys.exit(f"{calib}: {len(ids)} tokens, fewer than {chunks} x {ctx}")
    rows = [ids[i * ctx:(i + 1) * ctx] for i in range(chunks)]
    ds = Dataset.from_dict({"input_ids": rows, "attention_mask": [[1] * ctx for _ in rows]})
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    scheme = QuantizationScheme(
        targets=["Linear"],
        weights=QuantizationArgs(num_bits=4, type="int", symmetric=True, strategy="group", group_size=group),
    )
    recipe = GPTQModifier(config_groups={"group_0": scheme}, ignore=["lm_head"])
    t0 = time.time()
    oneshot(model=model, dataset=ds, recipe=recipe, max_seq_length=ctx, num_calibration_samples=chunks,
            shuffle_calibration_samples=False)
    seconds = time.time() - t0
    model.save_pretrained(str(out), save_compressed=True)
    tok.save_pretrained(str(out))
    return seconds


def sinkquant(q: Path, model_dir: Path, out: Path, args, extra: list[str]) -> tuple[dict, float]:
    js = out.with_suffix(".json")
    t0 = time.time()
    subprocess.run([q, model_dir, out, "--type", "int4", "--calib", args.calib, "--calib-chunks",
                    str(args.calib_chunks), "--calib-ctx", str(args.ctx), "--force", "--json", js, *extra],
                   check=True, stdout=subprocess.DEVNULL)
    return json.loads(js.read_text()), time.time() - t0


def compare(q: Path, src: Path, files: list[Path], args) -> dict[str, dict]:
    js = Path(args.work) / "compare.json"
    subprocess.run([q, "compare", src, *files, "--text", args.eval, "--chunks", str(args.eval_chunks),
                    "--ctx", str(args.ctx), "--json", js], check=True, stdout=subprocess.DEVNULL)
    r = json.loads(js.read_text())
    rows = {Path(c["path"]).name: c for c in r["candidates"]}
    rows["source"] = {"ppl": r["ppl_base"]}
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--calib", type=Path, default=ROOT / "models" / "text" / "c4.utf8")
    ap.add_argument("--calib-chunks", type=int, default=32)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--eval", type=Path, default=ROOT / "models" / "text" / "wiki.utf8")
    ap.add_argument("--eval-chunks", type=int, default=20)
    ap.add_argument("--hf-chunks", type=int, default=4, help="chunks for the transformers check (0: none)")
    ap.add_argument("--quantize", type=Path, default=ROOT / "target" / "release" / "quantize")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    name = args.model.name
    args.work = args.work or Path("/tmp/sq-llmc") / name
    args.work.mkdir(parents=True, exist_ok=True)
    rows = {}
    sq, secs = sinkquant(args.quantize, args.model, args.work / "sq-int4", args, [])
    rows["sq-int4"] = {"method": sq["method"], "outliers": sq["outliers"], "seconds": secs}
    group = sq["group_size"]
    _, secs = sinkquant(args.quantize, args.model, args.work / "sq-int4-rtn", args, ["--method", "rtn"])
    rows["sq-int4-rtn"] = {"method": "rtn", "outliers": "fold", "seconds": secs}
    llmc = args.work / "llmc-w4a16"
    if not (llmc / "config.json").is_file():
        t = llmcompressor_gptq(args.model, llmc, args.calib, args.calib_chunks, args.ctx, group)
    else:
        t = float("nan")
    rows["llmc-w4a16"] = {"method": "llm-compressor GPTQ", "outliers": "-", "seconds": t}
    cmp = compare(args.quantize, args.model, [args.work / k for k in rows], args)
    if args.hf_chunks:
        from check_arch_outputs import hf_kld
        hf_args = argparse.Namespace(ctx=args.ctx, chunks=args.hf_chunks)
        text = args.eval.read_text(encoding="utf-8")
        for k, r in rows.items():
            r["hf_kld"] = hf_kld(args.model, args.work / k, hf_args, text)
    print(f"{name}: int4, groups of {group}; calibration {args.calib_chunks} x {args.ctx} of {args.calib.name}; "
          f"KLD on {args.eval_chunks} x {args.ctx} of {args.eval.name}")
    print(f"{'file':<14} {'method':<20} {'MiB':>8} {'KLD':>10} {'+/-':>9} {'top-1':>7} {'PPL':>9} {'s':>6} {'hf KLD':>8}")
    for k, r in rows.items():
        c = cmp[k]
        r.update(bytes=c["size_bytes"], bpw=c["bpw"], kld=c["kld_mean"], kld_stderr=c["kld_stderr"], top1=c["top1_agreement"],
                 ppl=c["ppl"])
        print(f"{k:<14} {r['method'] + ', ' + r['outliers']:<20} {c['size_bytes'] / 2**20:8.2f} {c['kld_mean']:10.5f} "
              f"{c['kld_stderr']:9.5f} {100 * c['top1_agreement']:6.2f}% {c['ppl']:9.4f} {r['seconds']:6.0f} {r.get('hf_kld', float('nan')):8.5f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), "model": name, "source_ppl": cmp["source"]["ppl"],
                                         "group_size": group, "calib_chunks": args.calib_chunks,
                                         "ctx": args.ctx, "eval_chunks": args.eval_chunks, "rows": rows},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
