#!/usr/bin/env python3
"""Peak memory of `quantize` on the three real models in BF16, as transformers saves them.

For each model, MODELS/bf16/NAME is made once (transformers loads the export MODELS/hf/NAME and
saves it in bfloat16). Then, under benches/peak_memory.py:

    quantize --type q4_k_m --calib C4 --calib-chunks 8 --threads T DIR OUT.gguf [--eval WIKI --eval-chunks 8]

Prints one Markdown row per model and run: peak anonymous and file-backed resident memory, as
multiples of the BF16 weights' size, and the wall time. Compare two builds by running it with
each (--quantize), e.g. the commit before a memory change and after.

Usage
    benches/memory_real_models.py [--quantize BIN] [--models MODELS] [--threads 2] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"]


def bf16_dir(models: Path, name: str) -> Path:
    out = models / "bf16" / name
    if (out / "config.json").is_file():
        return out
    code = ("import sys, torch; from transformers import AutoModelForCausalLM, AutoTokenizer; "
            "m = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.bfloat16); m.save_pretrained(sys.argv[2]); "
            "AutoTokenizer.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(models / "hf" / name), str(out)], check=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quantize", type=Path, default=ROOT / "target" / "release" / "quantize")
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    rows = []
    print("| model | BF16 MiB | run | peak anon MiB (x BF16) | peak file-backed MiB (x BF16) | seconds |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in NAMES:
            d = bf16_dir(a.models, name)
            size = sum(p.stat().st_size for p in d.glob("*.safetensors")) / 2**20
            for run, extra in (("quantize", []), ("quantize --eval", ["--eval", str(a.models / "text" / "wiki.utf8"),
                                                                       "--eval-chunks", "8"])):
                js = Path(tmp) / "mem.json"
                cmd = [sys.executable, str(ROOT / "benches" / "peak_memory.py"), "--json", str(js), "--",
                       str(a.quantize), "--type", "q4_k_m", "--calib", str(a.models / "text" / "c4.utf8"),
                       "--calib-chunks", "8", "--threads", str(a.threads), str(d), str(Path(tmp) / "out.gguf"),
                       "--force", *extra]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                m = json.loads(js.read_text())
                rows.append({"model": name, "bf16_mib": size, "run": run, **m})
                print(f"| {name} | {size:.0f} | {run} | {m['peak_anon_mib']:.0f} ({m['peak_anon_mib'] / size:.2f}x) | "
                      f"{m['peak_file_mib']:.0f} ({m['peak_file_mib'] / size:.2f}x) | {m['seconds']:.1f} |", flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
