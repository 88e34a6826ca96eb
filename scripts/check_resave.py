#!/usr/bin/env python3
"""Real models in the form users have them: re-saved by transformers, sharded (issue 12).

Purpose
    sinkquant's Hugging Face exports of the real models (MODELS/hf/NAME, F16, one file) are
    loaded by transformers and saved again with `save_pretrained(max_shard_size=...)`, so that
    the weights come in at least --min-shards files with `model.safetensors.index.json`, tied
    embeddings absent from the files, and the tokenizer files as transformers writes them:

    f16   re-saved in float16 (the same numbers): `quantize --type q4_k_m` of the re-save must
          write the same tensors as of the export, byte for byte (gguf-py reads both files;
          names, types, shapes and data compared), and the same tokenizer metadata (except an
          unknown-token id the re-saved tokenizer_config.json declares and the export's did not:
          transformers' Qwen2Tokenizer adds unk_token "<|endoftext|>" when it saves).
    bf16  re-saved in bfloat16 (each weight rounded): `quantize ppl` of the re-save must agree with
          transformers' float32 PPL of it within --tol (0.1%), and its Q4_K_M must load in
          llama-perplexity with a PPL within --tol-q (2%: bf16 rounding moves the K-quant
          choices; measured -0.5% on SmolLM2) of the export's Q4_K_M.

Usage
    scripts/check_resave.py --models MODELS --llama-bin DIR [--only smollm2-135m,...]
        [--quantize BIN] [--min-shards 3] [--chunks 4] [--threads 2] [--work DIR] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_arch import run_sq  # noqa: E402
from check_hf_export import CheckError, hf_adds_bos, hf_perplexity, llama_perplexity  # noqa: E402


def resave(src: Path, out: Path, dtype: str, min_shards: int) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=getattr(torch, dtype))
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(str(out), max_shard_size=max(1, total // (min_shards + 1)))
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(str(out))
    shards = sorted(out.glob("model-*-of-*.safetensors"))
    if len(shards) < min_shards or not (out / "model.safetensors.index.json").is_file():
        raise CheckError(f"{out}: {len(shards)} shards, expected at least {min_shards} with an index")
    return len(shards)


def quantize(bin_path: Path, src: Path, out: Path, calib: Path) -> None:
    # --effort fast: the check is that the same weights give the same file; the default effort's
    # measured choices (check_quantize covers them) took three times as long.
    run_sq(bin_path, [src, out, "--type", "q4_k_m", "--effort", "fast", "--calib", calib, "--calib-chunks", "4",
                      "--seed", "0", "--force"], f"quantize --type q4_k_m {src.name}")


def gguf_contents(path: Path) -> tuple[dict, dict]:
    from gguf import GGUFReader

    r = GGUFReader(str(path))
    tensors = {t.name: (int(t.tensor_type), tuple(int(x) for x in t.shape), bytes(t.data.tobytes())) for t in r.tensors}
    meta = {}
    for k, f in r.fields.items():
        if k.startswith("tokenizer."):
            meta[k] = [bytes(f.parts[i].tobytes()) for i in f.data]
    return tensors, meta


def ppl_pair(args, d: Path, text_path: Path, w: Path) -> tuple[float, float]:
    """transformers' float32 PPL of directory d and `quantize ppl`'s, 512-token chunks."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    text = text_path.read_text(encoding="utf-8")
    text = text[:-1] if text.endswith("\n") else text
    tok = AutoTokenizer.from_pretrained(str(d))
    model = AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32).eval()
    hf = hf_perplexity(model, tok, text, 512, args.chunks, hf_adds_bos(tok))["ppl"]
    out = w / "sq-ppl.json"
    run_sq(args.quantize, ["ppl", d, "--text", text_path, "--ctx", "512", "--chunks", args.chunks, "--json", out],
           f"quantize ppl {d.name}")
    return hf, float(json.loads(out.read_text())["ppl"])


def declares_unk(d: Path) -> bool:
    cfg = d / "tokenizer_config.json"
    return cfg.is_file() and bool(json.loads(cfg.read_text()).get("unk_token"))


def check_model(name: str, args, work: Path) -> dict:
    src = args.models / "hf" / name
    if not (src / "config.json").is_file():
        raise CheckError(f"{src}: no exported model (scripts/fetch-models.sh writes it)")
    calib = args.models / "text" / "c4.utf8"
    text = args.models / "text" / "wiki.utf8"
    w = work / name
    w.mkdir(parents=True, exist_ok=True)
    r: dict = {"model": name}
    base = w / "export-q4_k_m.gguf"
    quantize(args.quantize, src, base, calib)
    for dtype in ("float16", "bfloat16"):
        d = w / f"resave-{dtype}"
        r[f"{dtype}_shards"] = resave(src, d, dtype, args.min_shards)
        out = w / f"resave-{dtype}-q4_k_m.gguf"
        quantize(args.quantize, d, out, calib)
        if dtype == "float16":
            (ta, ma), (tb, mb) = gguf_contents(base), gguf_contents(out)
            diff = sorted(k for k in set(ta) | set(tb) if ta.get(k) != tb.get(k))
            mdiff = sorted(k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k))
            # transformers' Qwen2Tokenizer declares unk_token "<|endoftext|>" when it saves a
            # tokenizer whose config had none: the re-save then has an unknown token, and the
            # GGUF rightly says so.
            if declares_unk(d) and not declares_unk(src):
                mdiff = [k for k in mdiff if k != "tokenizer.ggml.unknown_token_id"]
            r["f16"] = {"tensors": len(ta), "differing_tensors": diff, "differing_tokenizer_keys": mdiff,
                        "ok": not diff and not mdiff}
        else:
            hf, sq = ppl_pair(args, d, text, w)
            pa = llama_perplexity(args.llama_bin, base, text, 512, args.chunks, args.threads)["ppl"]
            pb = llama_perplexity(args.llama_bin, out, text, 512, args.chunks, args.threads)["ppl"]
            r["bf16"] = {"hf_ppl": hf, "sq_ppl": sq, "sq_vs_hf": sq / hf - 1, "ppl_export": pa, "ppl_resave": pb,
                         "rel": pb / pa - 1, "ok": abs(sq / hf - 1) <= args.tol and abs(pb / pa - 1) <= args.tol_q}
    r["ok"] = r["f16"]["ok"] and r["bf16"]["ok"]
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--llama-bin", type=Path, default=Path.home() / ".cache" / "llama-cpp-ref" / "bin")
    ap.add_argument("--quantize", type=Path, default=ROOT / "target" / "release" / "quantize")
    ap.add_argument("--only", default="smollm2-135m,gemma3-270m,qwen2.5-coder-0.5b")
    ap.add_argument("--min-shards", type=int, default=3)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tol", type=float, default=0.001, help="quantize ppl vs transformers on the bf16 re-save")
    ap.add_argument("--tol-q", type=float, default=0.02, help="Q4_K_M PPL, bf16 re-save vs export")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import torch
    import transformers
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="check_resave_"))
    t0 = time.time()
    results, ok = [], True
    try:
        for name in [n.strip() for n in args.only.split(",") if n.strip()]:
            try:
                r = check_model(name, args, work)
            except CheckError as e:
                r = {"model": name, "ok": False, "error": str(e)}
            results.append(r)
            ok &= r["ok"]
            if "error" in r:
                print(f"{name:20} ERROR {r['error']}")
                continue
            f, b = r["f16"], r["bf16"]
            print(f"{name:20} f16 re-save ({r['float16_shards']} shards): "
                  + ("Q4_K_M tensors and tokenizer byte-identical" if f["ok"] else
                     f"{len(f['differing_tensors'])} tensors / {len(f['differing_tokenizer_keys'])} tokenizer keys differ "
                     f"({(f['differing_tensors'] + f['differing_tokenizer_keys'])[:4]})")
                  + f"; bf16 re-save ({r['bfloat16_shards']} shards): quantize ppl {b['sq_ppl']:.4f} vs transformers "
                  f"{b['hf_ppl']:.4f} ({100 * b['sq_vs_hf']:+.4f}%, tol {100 * args.tol:g}%), its Q4_K_M in "
                  f"llama-perplexity {b['ppl_resave']:.4f} vs the export's {b['ppl_export']:.4f} "
                  f"({100 * b['rel']:+.3f}%, tol {100 * args.tol_q:g}%)")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"ok": ok, "seconds": round(time.time() - t0, 1), "models": results},
                                        indent=2) + "\n")
    print(f"check_resave: {'OK' if ok else 'FAIL'} ({time.time() - t0:.0f}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
