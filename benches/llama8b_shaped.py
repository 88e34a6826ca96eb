#!/usr/bin/env python3
"""An 8B model on this machine: sinkquant against llama.cpp on a model with Llama-3.1-8B's shapes.

`make` writes DIR: Llama-3.1-8B's config (32 layers, d_model 4096, d_ff 14336, 32 query / 8 KV
heads, vocab 128256, llama3 RoPE scaling) with random BF16 weights (normal, std 0.02; norms 1),
in four safetensors shards with an index, as transformers lays them out, and SmolLM2's
tokenizer (its 49152 tokens; the rest of the 128256 rows are never looked up). About 16 GB.
The values are drawn once into a pool and each tensor takes a slice at its own offset, so
writing is disk-bound.

`run` measures, each under benches/peak_memory.py (peak anonymous and file-backed resident
memory separately, wall time), with the same text, chunks and threads:
  - sinkquant: quantize --type q4_k_m --calib TEXT --calib-chunks 4 DIR OUT.gguf
  - llama.cpp: convert_hf_to_gguf.py --outtype f16, llama-imatrix --chunks 4 -c 512,
    llama-quantize --imatrix Q4_K_M
  - sinkquant: quantize ppl DIR and quantize compare DIR OUT.gguf (--chunks N)
and prints a Markdown table (also --json).

Usage
    benches/llama8b_shaped.py make DIR [--layers 32]
    benches/llama8b_shaped.py run DIR --work WORK [--text T] [--threads 2] [--eval-chunks 1]
        [--llama-bin ~/.cache/llama-cpp-ref/bin] [--quantize BIN] [--calib-cache D] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LLAMA_REF = Path.home() / ".cache" / "llama-cpp-ref"

CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 128256, "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": False, "hidden_act": "silu",
    "attention_bias": False, "mlp_bias": False, "initializer_range": 0.02, "torch_dtype": "bfloat16",
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
}


def tensors(cfg: dict) -> list[tuple[str, tuple[int, ...]]]:
    d, ff, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    q, kv = cfg["num_attention_heads"] * cfg["head_dim"], cfg["num_key_value_heads"] * cfg["head_dim"]
    out = [("model.embed_tokens.weight", (v, d))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (d,)), (p + "self_attn.q_proj.weight", (q, d)),
                (p + "self_attn.k_proj.weight", (kv, d)), (p + "self_attn.v_proj.weight", (kv, d)),
                (p + "self_attn.o_proj.weight", (d, q)), (p + "post_attention_layernorm.weight", (d,)),
                (p + "mlp.gate_proj.weight", (ff, d)), (p + "mlp.up_proj.weight", (ff, d)),
                (p + "mlp.down_proj.weight", (d, ff))]
    return out + [("model.norm.weight", (d,)), ("lm_head.weight", (v, d))]


def write_shard(path: Path, items: list[tuple[str, tuple[int, ...]]], pool: np.ndarray, rng) -> None:
    """A safetensors file written tensor by tensor (header, then each tensor's BF16 bytes)."""
    header, offset = {}, 0
    for name, shape in items:
        n = int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + 2 * n]}
        offset += 2 * n
    header["__metadata__"] = {"format": "pt"}
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    one = np.array(0x3F80, dtype=np.uint16)  # 1.0 in bf16
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little"))
        f.write(head)
        for name, shape in items:
            n = int(np.prod(shape))
            if len(shape) == 1:
                f.write(np.full(n, one).tobytes())
                continue
            start = int(rng.integers(0, len(pool)))
            while n > 0:
                take = min(n, len(pool) - start)
                f.write(pool[start:start + take].tobytes())
                n -= take
                start = 0


def make(a) -> int:
    out: Path = a.dir
    out.mkdir(parents=True, exist_ok=True)
    cfg = dict(CONFIG, num_hidden_layers=a.layers)
    tok = a.models / "hf" / "smollm2-135m"
    src_cfg = json.loads((tok / "config.json").read_text())
    cfg.update(bos_token_id=src_cfg["bos_token_id"], eos_token_id=src_cfg["eos_token_id"])
    rng = np.random.default_rng(0)
    # 64M values: bf16 = the high half of f32, rounded to nearest even.
    f = (rng.standard_normal(1 << 26, dtype=np.float32) * 0.02).view(np.uint32)
    pool = ((f + 0x7FFF + ((f >> 16) & 1)) >> 16).astype(np.uint16)
    items = tensors(cfg)
    total = sum(2 * int(np.prod(s)) for _, s in items)
    shards, cur, size = [], [], 0
    limit = total / 4 + 1
    for it in items:
        nbytes = 2 * int(np.prod(it[1]))
        if cur and size + nbytes > limit:
            shards.append(cur)
            cur, size = [], 0
        cur.append(it)
        size += nbytes
    shards.append(cur)
    weight_map = {}
    for k, sh in enumerate(shards):
        name = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        print(f"writing {out / name} ({len(sh)} tensors)", file=sys.stderr)
        write_shard(out / name, sh, pool, rng)
        weight_map.update({n: name for n, _ in sh})
    (out / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        if (tok / f).is_file():
            shutil.copy(tok / f, out / f)
    print(f"{out}: {a.layers} layers, {total / 2**30:.2f} GiB of BF16 in {len(shards)} shards")
    return 0


def measured(cmd: list[str], tmp: Path, env=None) -> dict:
    js = tmp / "mem.json"
    full = [sys.executable, str(ROOT / "benches" / "peak_memory.py"), "--json", str(js), "--", *cmd]
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(full, check=True, env=env, stdout=sys.stderr)
    return json.loads(js.read_text())


def run(a) -> int:
    work: Path = a.work
    work.mkdir(parents=True, exist_ok=True)
    text = str(a.text)
    q = [str(a.quantize)]
    env = dict(os.environ, LD_LIBRARY_PATH=str(a.llama_bin))
    rows = {}
    out_sq = work / "sinkquant-q4_k_m.gguf"
    cache = ["--calib-cache", str(a.calib_cache)] if a.calib_cache else []
    rows["sinkquant quantize (q4_k_m, calib 4)"] = measured(
        q + ["--type", "q4_k_m", "--calib", text, "--calib-chunks", "4", "--calib-ctx", "512", "--threads",
             str(a.threads), "--force", *cache, str(a.dir), str(out_sq)], work)
    f16 = work / "llama-f16.gguf"
    if not a.skip_llama:
        rows["llama.cpp convert_hf_to_gguf (f16)"] = measured(
            [sys.executable, str(LLAMA_REF / "convert_hf_to_gguf.py"), str(a.dir), "--outtype", "f16", "--outfile",
             str(f16)], work, env)
        imat = work / "imatrix.dat"
        rows["llama-imatrix (4 chunks)"] = measured(
            [str(a.llama_bin / "llama-imatrix"), "-m", str(f16), "-f", text, "--chunks", "4", "-c", "512", "-t",
             str(a.threads), "-o", str(imat), "--no-ppl"], work, env)
        rows["llama-quantize (Q4_K_M, imatrix)"] = measured(
            [str(a.llama_bin / "llama-quantize"), "--imatrix", str(imat), str(f16), str(work / "llama-q4_k_m.gguf"),
             "Q4_K_M", str(a.threads)], work, env)
        f16.unlink(missing_ok=True)
    n = str(a.eval_chunks)
    rows[f"sinkquant ppl (BF16 dir, {n} chunk)"] = measured(
        q + ["ppl", str(a.dir), "--text", text, "--chunks", n, "--threads", str(a.threads)], work)
    rows[f"sinkquant compare (BF16 dir vs Q4_K_M, {n} chunk)"] = measured(
        q + ["compare", str(a.dir), str(out_sq), "--text", text, "--chunks", n, "--threads", str(a.threads)], work)
    print("| step | wall s | peak anon GiB | peak file-backed GiB |")
    print("|---|---|---|---|")
    for k, r in rows.items():
        print(f"| {k} | {r['seconds']:.0f} | {r['peak_anon_mib'] / 1024:.2f} | {r['peak_file_mib'] / 1024:.2f} |")
    if not a.skip_llama:
        sq = rows["sinkquant quantize (q4_k_m, calib 4)"]["seconds"]
        ll = sum(r["seconds"] for k, r in rows.items() if k.startswith("llama"))
        print(f"\nsinkquant quantize / llama.cpp convert+imatrix+quantize wall time: {sq / ll:.2f}x")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("dir", type=Path)
    m.add_argument("--layers", type=int, default=32)
    m.add_argument("--models", type=Path, default=ROOT / "models")
    r = sub.add_parser("run")
    r.add_argument("dir", type=Path)
    r.add_argument("--work", type=Path, required=True)
    r.add_argument("--text", type=Path, default=ROOT / "models" / "text" / "wiki.utf8")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--eval-chunks", type=int, default=1)
    r.add_argument("--llama-bin", type=Path, default=LLAMA_REF / "bin")
    r.add_argument("--quantize", type=Path, default=ROOT / "target" / "release" / "quantize")
    r.add_argument("--calib-cache", type=Path)
    r.add_argument("--skip-llama", action="store_true")
    r.add_argument("--json", type=Path)
    a = ap.parse_args()
    return make(a) if a.cmd == "make" else run(a)


if __name__ == "__main__":
    sys.exit(main())
