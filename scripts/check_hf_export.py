#!/usr/bin/env python3
"""Check exported Hugging Face directories against llama.cpp running the source GGUF.

Purpose
    For each model, MODELS/hf/<name> (written by `quantize export`) must behave like
    MODELS/gguf/<name>.gguf does in llama.cpp. This script checks, per model:

    a) loading: transformers loads the directory with AutoTokenizer and
       AutoModelForCausalLM (float32, CPU), with no missing, unexpected or mis-shaped weight
       (a missing lm_head would otherwise be silently initialised at random); the five files
       the export writes (model.safetensors, config.json, tokenizer.json,
       tokenizer_config.json, generation_config.json) must be there.
    b) tokenizer: the ids of the whole text from the HF tokenizer (default
       add_special_tokens, which parses special tokens) equal those of
       `llama-tokenize -m GGUF -f TEXT --ids --log-disable --no-escape` (whose defaults are to
       add BOS when the vocab asks for it and to parse special tokens; --no-escape makes it
       read the file verbatim, as the HF tokenizer does, instead of turning "\\n" into a
       newline). Reports both counts and, on a mismatch, the first differing index with the
       tokens around it.
    c) perplexity in transformers, following llama.cpp's tools/perplexity/perplexity.cpp
       (llama-cpp-python 0.3.36, vendor/llama.cpp) exactly:
         * the text is read like `-f` does (one trailing newline dropped) and tokenized whole
           with add_special=true, parse_special=false (HF: split_special_tokens=True);
         * add_bos = llama_vocab_get_add_bos(); here the HF tokenizer's own answer (whether
           it puts bos_token_id first), and it is reported next to llama.cpp's;
         * chunk i is tokens[i*ctx:(i+1)*ctx], the first --chunks of len(tokens)//ctx, each
           evaluated independently; with add_bos its first token is replaced by BOS;
         * only the second half is scored: for j in [ctx//2, ctx-1), the NLL of token j+1
           from the logits at j (log-softmax in float64); PPL = exp(mean NLL), and the
           "+/-" is llama.cpp's: sqrt((mean(NLL^2) - mean(NLL)^2)/(count-1)) * PPL.
       Also checks that these first chunks*ctx tokens equal llama-tokenize's (same input).
    d) `llama-perplexity -m GGUF -f TEXT -c CTX --chunks N -t THREADS`, parsing
       "Final estimate: PPL = X +/- Y" and the per-chunk running values.
    e) prints a table; exits 1 when the tokens differ, |HF/llama.cpp - 1| > --tol (0.5%),
       or any step fails. --json writes every figure, including per-step timings.

    The two PPLs are not expected to be identical: llama.cpp multiplies quantized weights
    with activations it quantizes itself (Q8_0/Q8_K), while transformers multiplies the
    dequantized float32 weights; on these models that alone moves PPL by 0.3-0.6%.
    --f32-ref removes that noise: it also has llama-quantize rewrite the GGUF as F32
    (`--allow-requantize IN OUT F32`, which stores exactly the dequantized values) and runs
    llama-perplexity on that; HF must then agree within --f32-tol (0.1%; a correct export
    agrees to ~0.01%). The F32 file is written to a temporary directory and deleted.

Usage
    scripts/check_hf_export.py [--models DIR] [--hf DIR] [--llama-bin DIR] [--text FILE]
                               [--chunks 8] [--ctx 512] [--threads 2] [--tol 0.005]
                               [--f32-ref] [--f32-tol 0.001] [--only NAME ...] [--json OUT]

      --models DIR     holds gguf/<name>.gguf and text/wiki.utf8 (default <repo>/models)
      --hf DIR         holds the HF directories <name>/ (default MODELS/hf)
      --llama-bin DIR  llama.cpp tools, run with LD_LIBRARY_PATH=DIR
                       (default ~/.cache/llama-cpp-ref/bin, see scripts/build-llama-cpp.sh)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"]
EXPORT_FILES = [
    "model.safetensors",
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "generation_config.json",
]


class CheckError(Exception):
    """A failed step: reported for the model, then the next model is checked."""


# ----------------------------------------------------------------------------- llama.cpp side


def llama_run(bin_dir: Path, tool: str, args: list[str]) -> subprocess.CompletedProcess:
    exe = bin_dir / tool
    if not exe.is_file():
        raise CheckError(f"{exe} not found (scripts/build-llama-cpp.sh builds it)")
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (str(bin_dir), env.get("LD_LIBRARY_PATH", "")) if p
    )
    proc = run_llama_tool([exe, *args], env)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.decode(errors="replace").strip().splitlines()[-15:])
        raise CheckError(f"{tool} {' '.join(args)} exited {proc.returncode}:\n{tail}")
    return proc


# llama.cpp's logger writes from a thread that is not joined at exit, so the last lines of a
# run (its summary) are now and then lost although the tool exited 0 (llama.cpp common/log.cpp,
# common_log_main: "this design may cause logs to be lost"). A run without its summary is rerun.
LOST_LOG_RETRIES = 3
LLAMA_SUMMARY = re.compile(r"Final estimate: PPL =|Mean\s+KLD:")


def run_llama_tool(cmd: list, env=None, text: bool = False) -> subprocess.CompletedProcess:
    """Runs a llama.cpp tool's command line; a llama-perplexity run that exited 0 without its
    summary is rerun (see LOST_LOG_RETRIES)."""
    perplexity = Path(str(cmd[0])).name == "llama-perplexity"
    for _ in range(LOST_LOG_RETRIES):
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=text, env=env)
        out = proc.stdout + proc.stderr
        if not perplexity or proc.returncode != 0 or LLAMA_SUMMARY.search(out if text else out.decode(errors="replace")):
            break
    return proc


def parse_id_list(stdout: bytes, what: str) -> list[int]:
    """llama-tokenize --ids prints one Python-style list: [1, 2, 3]."""
    for line in reversed(stdout.decode(errors="replace").splitlines()):
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            return json.loads(line)
    raise CheckError(f"no id list in llama-tokenize output ({what})")


def llama_tokenize_file(bin_dir: Path, gguf: Path, text_path: Path) -> list[int]:
    proc = llama_run(
        bin_dir,
        "llama-tokenize",
        ["-m", str(gguf), "-f", str(text_path), "--ids", "--log-disable", "--no-escape"],
    )
    return parse_id_list(proc.stdout, str(text_path))


def llama_adds_bos(bin_dir: Path, gguf: Path) -> bool:
    """llama_vocab_get_add_bos(), observed: a short prompt with and without --no-bos."""
    base = ["-m", str(gguf), "-p", "Hello world", "--ids", "--log-disable"]
    with_bos = parse_id_list(llama_run(bin_dir, "llama-tokenize", base).stdout, "probe")
    without = parse_id_list(llama_run(bin_dir, "llama-tokenize", base + ["--no-bos"]).stdout, "probe")
    return len(with_bos) == len(without) + 1 and with_bos[1:] == without


def llama_perplexity(bin_dir: Path, gguf: Path, text_path: Path, ctx: int, chunks: int, threads: int) -> dict:
    args = ["-m", str(gguf), "-f", str(text_path), "-c", str(ctx), "--chunks", str(chunks), "-t", str(threads)]
    proc = llama_run(bin_dir, "llama-perplexity", args)
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", out)
    if not m:
        tail = "\n".join(out.strip().splitlines()[-15:])
        raise CheckError(f"llama-perplexity printed no final estimate:\n{tail}")
    n = re.search(r"calculating perplexity over (\d+) chunks", out)
    running = [float(v) for _, v in re.findall(r"\[(\d+)\]([0-9.]+),", out)]
    return {
        "ppl": float(m.group(1)),
        "err": float(m.group(2)),
        "chunks": int(n.group(1)) if n else None,
        "running": running,
    }


def llama_f32_perplexity(bin_dir: Path, gguf: Path, text_path: Path, ctx: int, chunks: int,
                         threads: int) -> dict:
    """llama-perplexity on the GGUF rewritten as F32 by llama-quantize (no weight quantization)."""
    tmp = Path(tempfile.mkdtemp(prefix="check_hf_export_"))
    try:
        f32 = tmp / f"{gguf.stem}-f32.gguf"
        llama_run(bin_dir, "llama-quantize", ["--allow-requantize", str(gguf), str(f32), "F32", str(threads)])
        return llama_perplexity(bin_dir, f32, text_path, ctx, chunks, threads)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------- HF side


def load_hf(hf_dir: Path):
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()
    missing_files = [f for f in EXPORT_FILES if not (hf_dir / f).is_file()]
    if missing_files:
        raise CheckError(f"{hf_dir}: missing {', '.join(missing_files)}")
    tok = AutoTokenizer.from_pretrained(str(hf_dir))
    major = int(transformers.__version__.split(".")[0])
    dtype_kw = "dtype" if major >= 5 else "torch_dtype"
    model, info = AutoModelForCausalLM.from_pretrained(
        str(hf_dir), **{dtype_kw: torch.float32}, output_loading_info=True
    )
    problems = {k: sorted(map(str, v)) for k, v in info.items() if k in
                ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs") and v}
    if problems:
        raise CheckError(f"transformers loaded {hf_dir} with problems: {problems}")
    model.eval()
    return tok, model


def hf_adds_bos(tok) -> bool:
    with_sp = tok("Hello world")["input_ids"]
    without = tok("Hello world", add_special_tokens=False)["input_ids"]
    if tok.eos_token_id is not None and with_sp[-1] == tok.eos_token_id and without[-1:] != with_sp[-1:]:
        raise CheckError("the HF tokenizer appends EOS; llama-perplexity asserts the vocab does not")
    return tok.bos_token_id is not None and with_sp == [tok.bos_token_id] + without


def hf_perplexity(model, tok, text: str, ctx: int, chunks: int, add_bos: bool) -> dict:
    import torch

    ids = tok(text, split_special_tokens=True)["input_ids"]
    if len(ids) < 2 * ctx:
        raise CheckError(f"text gives {len(ids)} tokens; perplexity needs at least {2 * ctx}")
    n_chunk = min(chunks, len(ids) // ctx) if chunks > 0 else len(ids) // ctx
    first = ctx // 2
    keep = ctx - first  # logits for positions [first, ctx)
    nll = nll2 = 0.0
    count = 0
    running = []
    with torch.no_grad():
        for i in range(n_chunk):
            x = torch.tensor(ids[i * ctx:(i + 1) * ctx], dtype=torch.long)
            if add_bos:
                x[0] = tok.bos_token_id
            logits = model(input_ids=x[None], use_cache=False, logits_to_keep=keep).logits[0]
            logits = logits[-keep:]  # in case the model ignored logits_to_keep
            logp = torch.log_softmax(logits[:-1].double(), dim=-1)  # positions first .. ctx-2
            target = torch.tensor(ids[i * ctx + first + 1:(i + 1) * ctx], dtype=torch.long)
            v = -logp.gather(1, target[:, None])[:, 0]
            nll += float(v.sum())
            nll2 += float((v * v).sum())
            count += ctx - first - 1
            running.append(math.exp(nll / count))
    mean = nll / count
    var = nll2 / count - mean * mean
    ppl = math.exp(mean)
    return {
        "ppl": ppl,
        "err": math.sqrt(var / (count - 1)) * ppl if var > 0 else float("nan"),
        "chunks": n_chunk,
        "scored_tokens": count,
        "text_tokens": len(ids),
        "running": running,
        "ids_prefix": ids[: n_chunk * ctx],
    }


def first_difference(a: list[int], b: list[int]) -> int | None:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return None if len(a) == len(b) else n


def context_tokens(tok, ids: list[int], i: int, width: int = 4) -> list[str]:
    lo, hi = max(0, i - width), min(len(ids), i + width + 1)
    toks = tok.convert_ids_to_tokens(ids[lo:hi])
    return [f"{'>' if lo + k == i else ''}{ids[lo + k]}:{t!r}" for k, t in enumerate(toks)]


# ------------------------------------------------------------------------------------ main


def check_model(name: str, args, text_path: Path, text: str, ppl_text: str) -> dict:
    import torch

    r: dict = {"model": name, "errors": [], "seconds": {}}
    gguf = args.models / "gguf" / f"{name}.gguf"
    hf_dir = args.hf / name
    r.update(gguf=str(gguf), hf_dir=str(hf_dir))

    def step(label, fn, *a):
        t0 = time.time()
        try:
            return fn(*a)
        finally:
            r["seconds"][label] = round(time.time() - t0, 2)
            print(f"  {label}: {r['seconds'][label]:.1f}s", flush=True)

    try:
        if not gguf.is_file():
            raise CheckError(f"{gguf} missing")
        tok, model = step("hf_load", load_hf, hf_dir)
        r["attn_implementation"] = getattr(model.config, "_attn_implementation", None)
        torch.set_num_threads(args.threads)

        # b) tokenizer agreement on the whole text
        hf_ids = step("hf_tokenize", lambda: tok(text)["input_ids"])
        ll_ids = step("llama_tokenize", llama_tokenize_file, args.llama_bin, gguf, text_path)
        diff_at = first_difference(hf_ids, ll_ids)
        r["tokens"] = {"hf_count": len(hf_ids), "llama_count": len(ll_ids), "equal": diff_at is None}
        if diff_at is not None:
            r["tokens"]["first_difference"] = {
                "index": diff_at,
                "hf": context_tokens(tok, hf_ids, diff_at),
                "llama": context_tokens(tok, ll_ids, diff_at),
            }
        print(f"  tokens: HF {len(hf_ids)}, llama-tokenize {len(ll_ids)}, "
              + ("equal" if diff_at is None else f"first difference at {diff_at}:\n"
                 f"    HF    {' '.join(r['tokens']['first_difference']['hf'])}\n"
                 f"    llama {' '.join(r['tokens']['first_difference']['llama'])}"), flush=True)

        # c) HF perplexity, llama.cpp protocol
        add_bos_hf = hf_adds_bos(tok)
        add_bos_ll = step("llama_add_bos", llama_adds_bos, args.llama_bin, gguf)
        r["add_bos"] = {"hf": add_bos_hf, "llama": add_bos_ll}
        if add_bos_hf != add_bos_ll:
            r["errors"].append(f"add_bos differs: HF {add_bos_hf}, llama.cpp {add_bos_ll}")
        hf = step("hf_perplexity", hf_perplexity, model, tok, ppl_text, args.ctx, args.chunks, add_bos_hf)
        prefix = hf.pop("ids_prefix")
        r["ppl_input_equal"] = prefix == ll_ids[: len(prefix)]
        if not r["ppl_input_equal"]:
            r["errors"].append("the tokens scored by HF differ from llama-tokenize's")
        r["hf"] = hf
        print(f"  HF PPL {hf['ppl']:.4f} +/- {hf['err']:.5f} over {hf['chunks']} chunks "
              f"(add_bos {add_bos_hf}, {r['attn_implementation']})", flush=True)
        del model

        # d) llama.cpp perplexity
        ll = step("llama_perplexity", llama_perplexity, args.llama_bin, gguf, text_path,
                  args.ctx, args.chunks, args.threads)
        r["llama"] = ll
        print(f"  llama.cpp PPL {ll['ppl']:.4f} +/- {ll['err']:.5f} over {ll['chunks']} chunks", flush=True)
        if ll["chunks"] is not None and ll["chunks"] != hf["chunks"]:
            r["errors"].append(f"chunk counts differ: HF {hf['chunks']}, llama.cpp {ll['chunks']}")

        if args.f32_ref:
            f32 = step("llama_f32_perplexity", llama_f32_perplexity, args.llama_bin, gguf, text_path,
                       args.ctx, args.chunks, args.threads)
            r["llama_f32"] = f32
            r["rel_diff_f32"] = hf["ppl"] / f32["ppl"] - 1.0
            print(f"  llama.cpp F32 PPL {f32['ppl']:.4f} +/- {f32['err']:.5f} "
                  f"(HF {100 * r['rel_diff_f32']:+.3f}%)", flush=True)
            if abs(r["rel_diff_f32"]) > args.f32_tol:
                r["errors"].append(f"PPL differs from llama.cpp on the F32 GGUF by "
                                   f"{100 * r['rel_diff_f32']:+.3f}% (> {100 * args.f32_tol:g}%)")

        r["rel_diff"] = hf["ppl"] / ll["ppl"] - 1.0
        if not r["tokens"]["equal"]:
            r["errors"].append("tokenizer ids differ")
        if abs(r["rel_diff"]) > args.tol:
            r["errors"].append(f"PPL differs by {100 * r['rel_diff']:+.3f}% (> {100 * args.tol:g}%)")
    except CheckError as e:
        r["errors"].append(str(e))
    except Exception as e:  # noqa: BLE001 - report and carry on with the next model
        r["errors"].append(f"unexpected {type(e).__name__}: {e}")
        traceback.print_exc()
    for e in r["errors"]:
        print(f"  FAIL {e}", flush=True)
    r["ok"] = not r["errors"]
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--hf", type=Path, help="directory of exported HF dirs (default MODELS/hf)")
    ap.add_argument("--llama-bin", type=Path, default=Path.home() / ".cache" / "llama-cpp-ref" / "bin")
    ap.add_argument("--text", type=Path, help="text sample (default MODELS/text/wiki.utf8)")
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tol", type=float, default=0.005, help="max |HF/llama.cpp PPL - 1|")
    ap.add_argument("--f32-ref", action="store_true",
                    help="also compare with llama.cpp on the GGUF rewritten as F32")
    ap.add_argument("--f32-tol", type=float, default=0.001, help="max |HF/llama.cpp F32 PPL - 1|")
    ap.add_argument("--only", nargs="+", choices=MODELS)
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args()
    args.hf = args.hf or args.models / "hf"
    text_path = args.text or args.models / "text" / "wiki.utf8"
    if args.ctx < 2:
        ap.error("--ctx must be at least 2")

    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        sys.exit(f"check_hf_export: missing Python package ({e}); pip install torch transformers")

    # newline="" keeps the bytes' line endings, as llama.cpp and the tokenizers see them
    with open(text_path, encoding="utf-8", newline="") as f:
        text = f.read()
    ppl_text = text[:-1] if text.endswith("\n") else text  # llama.cpp's -f drops one newline

    results = []
    t_all = time.time()
    for name in args.only or MODELS:
        print(f"== {name}", flush=True)
        results.append(check_model(name, args, text_path, text, ppl_text))

    def fmt(v, spec):
        return format(v, spec) if isinstance(v, (int, float)) else "-"

    def pct(v):
        return f"{100 * v:+.3f}%" if isinstance(v, float) else "-"

    head = f"\n{'model':<20} {'tokens equal':>12} {'HF PPL':>10} {'llama.cpp PPL':>14} {'rel diff':>9}"
    if args.f32_ref:
        head += f" {'llama.cpp F32':>14} {'rel diff':>9}"
    print(head + "  status")
    for r in results:
        tokens = r.get("tokens", {}).get("equal")
        line = (f"{r['model']:<20} {({True: 'yes', False: 'no'}).get(tokens, '-'):>12} "
                f"{fmt(r.get('hf', {}).get('ppl'), '.4f'):>10} {fmt(r.get('llama', {}).get('ppl'), '.4f'):>14} "
                f"{pct(r.get('rel_diff')):>9}")
        if args.f32_ref:
            line += f" {fmt(r.get('llama_f32', {}).get('ppl'), '.4f'):>14} {pct(r.get('rel_diff_f32')):>9}"
        print(line + f"  {'ok' if r['ok'] else 'FAIL'}")
    summary = {
        "text": str(text_path),
        "ctx": args.ctx,
        "chunks": args.chunks,
        "threads": args.threads,
        "tol": args.tol,
        "f32_tol": args.f32_tol if args.f32_ref else None,
        "seconds": round(time.time() - t_all, 1),
        "models": results,
        "ok": all(r["ok"] for r in results),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"check_hf_export: {'OK' if summary['ok'] else 'FAIL'} ({summary['seconds']:.0f}s)")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
