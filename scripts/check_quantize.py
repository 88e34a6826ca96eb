#!/usr/bin/env python3
"""Check sinkquant's quantized GGUFs with stock llama.cpp on the three real models.

For each model, the Hugging Face export (MODELS/hf/NAME, which holds the source GGUF's weights)
is quantized by `quantize` to Q8_0, Q4_0, Q4_K_M and IQ4_XS-class GGUFs: by default the five
model/type pairs of CI_RUNS, which cover every model and type; --all for all twelve. Fold policy,
calibration on CALIB_CHUNKS chunks of the C4 sample; Q4_0 and Q4_K_M of SmolLM2 and Gemma-3 with
--method gptq, the rest with rtn. CI's subset fixes llama.cpp's allocation except on Gemma-3, whose
measured choice (head-to-layers: a Q5_1 head) is the file llama.cpp must load; --all measures it
everywhere, as the default does. Then, with llama.cpp's tools:
1. `llama-perplexity` loads and runs each file (CHUNKS x 512 of the Wikipedia sample). The Q8_0
   must be within 1% of the source GGUF's perplexity (the weights it was made from), the 4-bit
   files within 25% (a load-and-run check; quality is measured in docs/quantize.md).
2. `llama-tokenize` gives the same ids on the output as on the source GGUF (the tokenizer
   metadata written from tokenizer.json is complete).
3. The provenance keys are present (gguf-py reads them).

Usage: scripts/check_quantize.py [--models DIR] [--llama-bin DIR] [--quantize BIN]
                                 [--chunks 4] [--calib-chunks 4] [--all] [--json OUT]
Exit 1 on any failure.
"""
import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from check_hf_export import run_llama_tool

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"]
TYPES = [("q8_0", 0.01), ("q4_0", 0.25), ("q4_k_m", 0.25), ("iq4_xs", 0.25)]
# CI's subset (the full 3 x 4 matrix took 37 of CI's 90 minutes): every type, every model, GPTQ
# on two of them. --all runs the whole matrix.
# Each with its --allocation.
CI_RUNS = {("smollm2-135m", "q8_0"): "mixture", ("smollm2-135m", "q4_k_m"): "mixture",
           ("smollm2-135m", "iq4_xs"): "mixture", ("gemma3-270m", "q4_0"): "auto",
           ("qwen2.5-coder-0.5b", "q4_k_m"): "mixture"}


def run(cmd, env=None):
    p = run_llama_tool(cmd, env, text=True)
    if p.returncode != 0:
        sys.exit(f"check_quantize: {' '.join(map(str, cmd))} failed:\n{p.stderr[-3000:]}")
    return p.stdout + p.stderr


def ppl(env, bin_dir, model, text, chunks, threads):
    out = run([bin_dir / "llama-perplexity", "-m", model, "-f", text, "-c", "512", "--chunks", chunks,
               "-t", threads], env)
    m = re.search(r"Final estimate: PPL = ([0-9.]+)", out)
    if not m:
        sys.exit(f"check_quantize: no PPL in llama-perplexity output for {model}")
    return float(m.group(1))


def tokens(env, bin_dir, model, prompt_file):
    out = run([bin_dir / "llama-tokenize", "-m", model, "-f", prompt_file, "--ids", "--log-disable"], env)
    return out.strip().splitlines()[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--llama-bin", type=Path, default=Path.home() / ".cache" / "llama-cpp-ref" / "bin")
    ap.add_argument("--quantize", type=Path, default=ROOT / "target" / "release" / "quantize")
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--calib-chunks", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--all", action="store_true", help="every model x type, not CI's subset")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    env = dict(os.environ, LD_LIBRARY_PATH=str(a.llama_bin))
    text = a.models / "text" / "wiki.utf8"
    calib = a.models / "text" / "c4.utf8"
    import gguf  # gguf-py, installed by scripts/setup-reference.sh

    results, failed = [], False
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sample = tmp / "sample.txt"
        sample.write_text(text.read_text(encoding="utf-8")[:4000], encoding="utf-8")
        for name in MODELS:
            src = a.models / "gguf" / f"{name}.gguf"
            base = ppl(env, a.llama_bin, src, text, a.chunks, a.threads)
            want_ids = tokens(env, a.llama_bin, src, sample)
            for ty, tol in TYPES:
                if not a.all and (name, ty) not in CI_RUNS:
                    continue
                t0 = time.time()
                out = tmp / f"{name}-{ty}.gguf"
                # GPTQ's blocks for the 4-bit rows of the two smaller models (Qwen2.5's GPTQ run
                # takes minutes); the plain quantizers elsewhere.
                method = "gptq" if ty in ("q4_0", "q4_k_m") and not name.startswith("qwen") else "rtn"
                alloc = "auto" if a.all else CI_RUNS[(name, ty)]
                run([a.quantize, "--calib", calib, "--calib-chunks", a.calib_chunks, "--type", ty, "--outliers", "fold",
                     "--method", method, "--allocation", alloc, "--threads", a.threads, a.models / "hf" / name, out])
                p = ppl(env, a.llama_bin, out, text, a.chunks, a.threads)
                same_ids = tokens(env, a.llama_bin, out, sample) == want_ids
                r = gguf.GGUFReader(str(out))
                prov = all(k in r.fields for k in ["sinkquant.version", "sinkquant.outliers",
                                                    "sinkquant.calibration.sha256", "sinkquant.massive_dims"])
                rel = p / base - 1
                secs = time.time() - t0
                ok = abs(rel) <= tol and same_ids and prov
                failed |= not ok
                results.append({"model": name, "type": ty, "method": method, "ppl_source": base, "ppl": p, "rel": rel,
                                "same_token_ids": same_ids, "provenance": prov, "bytes": out.stat().st_size,
                                "seconds": round(secs, 1), "ok": ok})
                print(f"{name:20} {ty:7} {method:4} llama-perplexity {p:9.4f} vs source {base:9.4f} ({100*rel:+.2f}%, "
                      f"tol {100*tol:.0f}%), same token ids: {same_ids}, provenance keys: {prov}"
                      f" ({secs:.0f}s)  {'OK' if ok else 'FAIL'}")
    if a.json:
        a.json.write_text(json.dumps(results, indent=1) + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
