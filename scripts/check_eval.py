#!/usr/bin/env python3
"""Check `quantize ppl` and `quantize compare` against llama.cpp on the real models.

1. Perplexity: for each model, `llama-perplexity -c CTX --chunks N` on the source GGUF, and
   `quantize ppl` on the same GGUF and on its exported Hugging Face directory (MODELS/hf/NAME).
   The GGUF figure must agree within --tol (0.5%). The exported directory runs in f32 like
   transformers (no 8-bit activation rounding), so it is held to --hf-tol (1%); see
   docs/measurements.md for why the gap is llama.cpp's and not the export's.
2. KL divergence: llama.cpp's own F16, Q8_0 and Q4_K_M of SmolLM2 (llama-quantize, made under
   MODELS/derived if missing); `llama-perplexity --kl-divergence` against the F16's saved
   logits, and `quantize compare F16 Q8_0 Q4_K_M` on the same text and chunks. Mean KLD and
   top-1 agreement ("same top p") must agree within 5% (relative).

3. `quantize scan --imatrix` on the F16 (4 chunks of C4): `llama-quantize --imatrix` must load it.

Usage: scripts/check_eval.py [--models DIR] [--llama-bin DIR] [--quantize BIN]
                             [--chunks 8] [--kld-chunks 20] [--threads 2] [--json OUT]
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


def run(cmd, env=None):
    t = time.time()
    p = run_llama_tool(cmd, env, text=True)
    if p.returncode != 0:
        sys.exit(f"check_eval: {' '.join(map(str, cmd))} failed:\n{p.stderr[-2000:]}")
    return p.stdout + p.stderr, time.time() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--llama-bin", type=Path, default=Path.home() / ".cache" / "llama-cpp-ref" / "bin")
    ap.add_argument("--quantize", type=Path, default=ROOT / "target" / "release" / "quantize")
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--kld-chunks", type=int, default=20)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tol", type=float, default=0.005)
    ap.add_argument("--hf-tol", type=float, default=0.01)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    L = a.llama_bin
    env = dict(os.environ, LD_LIBRARY_PATH=str(L))
    text = a.models / "text" / "wiki.utf8"
    q = a.quantize
    results = {"ppl": [], "kld": []}
    failed = False

    def llama_ppl(gguf, extra=()):
        out, secs = run([L / "llama-perplexity", "-m", gguf, "-f", text, "-c", a.ctx, "--chunks", a.chunks, "-t", a.threads, *extra], env)
        return float(re.search(r"Final estimate: PPL = ([0-9.]+)", out).group(1)), secs

    def sq_ppl(model):
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            _, secs = run([q, "ppl", model, "--text", text, "--ctx", a.ctx, "--chunks", a.chunks, "--threads", a.threads, "--json", f.name])
            return json.load(open(f.name))["ppl"], secs

    print(f"{'model':<20} {'llama.cpp':>10} {'sq GGUF':>10} {'diff':>8} {'sq HF dir':>10} {'diff':>8}")
    for name in MODELS:
        gguf = a.models / "gguf" / f"{name}.gguf"
        lp, lsec = llama_ppl(gguf)
        gp, gsec = sq_ppl(gguf)
        hp, hsec = sq_ppl(a.models / "hf" / name)
        dg, dh = gp / lp - 1, hp / lp - 1
        ok = abs(dg) <= a.tol and abs(dh) <= a.hf_tol
        failed |= not ok
        print(f"{name:<20} {lp:>10.4f} {gp:>10.4f} {100*dg:>+7.3f}% {hp:>10.4f} {100*dh:>+7.3f}%  {'ok' if ok else 'FAIL'}")
        results["ppl"].append(dict(model=name, llama_ppl=lp, sq_gguf_ppl=gp, sq_hf_ppl=hp, gguf_rel_diff=dg, hf_rel_diff=dh,
                                   llama_seconds=lsec, sq_gguf_seconds=gsec, sq_hf_seconds=hsec))

    d = a.models / "derived"
    d.mkdir(exist_ok=True)
    f16 = d / "smollm2-135m-f16.gguf"
    if not f16.exists():
        run([L / "llama-quantize", "--allow-requantize", a.models / "gguf" / "smollm2-135m.gguf", f16, "F16", a.threads], env)
    cands = []
    for t in ["Q8_0", "Q4_K_M"]:
        p = d / f"smollm2-135m-{t}.gguf"
        if not p.exists():
            run([L / "llama-quantize", f16, p, t, a.threads], env)
        cands.append((t, p))
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "f16.kld"
        run([L / "llama-perplexity", "-m", f16, "-f", text, "-c", a.ctx, "--chunks", a.kld_chunks, "-t", a.threads, "--kl-divergence-base", base], env)
        llama = {}
        for t, p in cands:
            out, _ = run([L / "llama-perplexity", "-m", p, "--kl-divergence-base", base, "--kl-divergence", "-t", a.threads], env)
            llama[t] = dict(kld=float(re.search(r"Mean\s+KLD:\s+([0-9.]+)", out).group(1)),
                            top1=float(re.search(r"Same top p:\s+([0-9.]+)", out).group(1)) / 100)
        js = Path(tmp) / "cmp.json"
        run([q, "compare", f16, *[p for _, p in cands], "--text", text, "--ctx", a.ctx, "--chunks", a.kld_chunks, "--threads", a.threads, "--json", js])
        ours = json.load(open(js))["candidates"]
    print(f"\n{'SmolLM2 vs F16':<14} {'llama KLD':>10} {'sq KLD':>10} {'diff':>8} {'llama top1':>11} {'sq top1':>9} {'diff':>8}")
    for (t, _), o in zip(cands, ours):
        lk, lt = llama[t]["kld"], llama[t]["top1"]
        dk, dt = o["kld_mean"] / lk - 1, o["top1_agreement"] / lt - 1
        ok = abs(dk) <= 0.05 and abs(dt) <= 0.05
        failed |= not ok
        print(f"{t:<14} {lk:>10.5f} {o['kld_mean']:>10.5f} {100*dk:>+7.2f}% {100*lt:>10.2f}% {100*o['top1_agreement']:>8.2f}% {100*dt:>+7.2f}%  {'ok' if ok else 'FAIL'}")
        results["kld"].append(dict(type=t, llama_kld=lk, sq_kld=o["kld_mean"], llama_top1=lt, sq_top1=o["top1_agreement"]))
    # 3. llama-quantize accepts sinkquant's importance matrix.
    with tempfile.TemporaryDirectory() as tmp:
        im = Path(tmp) / "sq.imatrix.gguf"
        run([q, "scan", f16, "--calib", a.models / "text" / "c4.utf8", "--calib-chunks", 4, "--seed", 0, "--threads", a.threads, "--imatrix", im])
        out, _ = run([L / "llama-quantize", "--imatrix", im, f16, Path(tmp) / "q4km.gguf", "Q4_K_M", a.threads], env)
        m = re.search(r"loaded (\d+) importance matrix entries", out)
        ok = m is not None and int(m.group(1)) > 0
        failed |= not ok
        print(f"\nllama-quantize --imatrix (sinkquant scan, 4 chunks of C4): {m.group(0) if m else 'NOT LOADED'}  {'ok' if ok else 'FAIL'}")
        results["imatrix_entries_loaded"] = int(m.group(1)) if m else 0
    if a.json:
        a.json.write_text(json.dumps(results, indent=2))
    print("check_eval:", "FAIL" if failed else "OK")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
