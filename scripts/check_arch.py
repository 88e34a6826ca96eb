#!/usr/bin/env python3
"""Check sinkquant on tiny models of each architecture against transformers and llama.cpp (issue 12).

Purpose
    For each model directory under MODELS_DIR (made by scripts/make_tiny_models.py: real
    configuration classes, random weights, saved by transformers), with llama.cpp's perplexity
    protocol (--ctx tokens per chunk from an empty cache, second half scored; --chunks chunks of
    --text):

    a) hf        transformers loads the directory (float32, CPU; eager attention where the config
                 soft-caps) with no missing, unexpected or mis-shaped weight, and gives PPL_hf
                 (scripts/check_hf_export.py's hf_perplexity: the same protocol as llama-perplexity).
    b) sq_dir    `quantize ppl DIR` agrees with PPL_hf within --tol-hf (0.1%).
    c) convert   llama.cpp's own converter (LLAMA_CPP/convert_hf_to_gguf.py with its conversion/
                 package) writes an F32 GGUF. `llama-tokenize` on it gives the same ids as the
                 transformers tokenizer on the whole text; `llama-perplexity` on it (PPL_ll) is
                 compared with PPL_hf (reference chain sanity, --tol-ref 0.5%; expected ~0.01%,
                 gemma2 ~0.2%) and `quantize ppl` on the GGUF must agree with PPL_ll within
                 --tol-llama (0.5%).
    d) quant     `quantize --type q8_0` and `--type q4_k_m` (--calib, default the C4 sample) of the
                 directory load and run in llama-perplexity; their KL divergence from the F32
                 conversion (`llama-perplexity --kl-divergence-base` then `--kl-divergence`) must
                 be no worse than that of llama.cpp's own `llama-quantize` Q8_0 / Q4_K_M of the
                 F32 conversion, within noise: KLD_sq <= KLD_ll * (1 + --kld-slack, default 0)
                 + 2 * sqrt(se_sq^2 + se_ll^2), the standard errors llama-perplexity prints.
    e) export    `quantize export` of the F32 conversion gives a directory that transformers loads
                 and whose PPL equals PPL_hf within --tol-export (0.1%).

    A sinkquant step that fails because sinkquant does not support the architecture (its error
    says "unsupported" or "not supported") is reported as `unsupported`; other failures as
    `error`. Either fails the check (exit 1) unless --allow-unsupported lets `unsupported` pass.
    A reference step that fails (converter, llama.cpp tools) is an `error`; the steps that need
    its output are then `skipped`. Prints a table; --json writes every figure, command and
    timing.

    llama.cpp's converter is run through a small wrapper (see CONVERT_RUNNER) that changes no file
    in LLAMA_CPP: with transformers 5, `AutoConfig(...).to_dict()`, which the converter reads,
    drops config.json keys the converter needs (`rotary_pct` for gpt_neox, folded into
    rope_parameters); the wrapper adds back every config.json key missing from that dict.

Usage
    scripts/check_arch.py MODELS_DIR --quantize BIN --llama-bin DIR [--only NAME,...] [--json OUT]
                          [--llama-cpp DIR] [--text FILE] [--calib FILE] [--ctx 256] [--chunks 4]
                          [--threads 2] [--steps a,b,c,d,e] [--work DIR] [--allow-unsupported]
                          [--tol-hf 0.001] [--tol-ref 0.005] [--tol-llama 0.005] [--tol-export 0.001]
                          [--kld-slack 0] [--sq-threads N]

      --llama-bin DIR  llama.cpp tools, run with LD_LIBRARY_PATH=DIR (~/.cache/llama-cpp-ref/bin)
      --llama-cpp DIR  holds convert_hf_to_gguf.py, conversion/ and gguf-py/ (default: --llama-bin/..)
      --work DIR       keep the GGUFs, KLD bases and exports here (default: a temporary directory)
      --threads N      threads for transformers and the llama.cpp tools; quantize uses its default
                       unless --sq-threads N
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_hf_export import (  # noqa: E402
    CheckError, first_difference, hf_adds_bos, hf_perplexity, llama_perplexity, llama_run,
    llama_tokenize_file,
)

ORDER = ["qwen3", "llama3", "mistral", "phi3", "gemma2", "gpt_neox", "gpt2"]
QUANT_TYPES = [("q8_0", "Q8_0"), ("q4_k_m", "Q4_K_M")]
UNSUPPORTED = re.compile(r"unsupported|not supported|not yet supported", re.I)

# Runs llama.cpp's convert_hf_to_gguf.py unchanged, after making ModelBase.load_hparams add the
# config.json keys that transformers 5's AutoConfig(...).to_dict() drops (argv: LLAMA_CPP args...).
CONVERT_RUNNER = r"""
import json, os, runpy, sys
from pathlib import Path
d = Path(sys.argv[1])
script = d / "convert_hf_to_gguf.py"
sys.argv = [str(script)] + sys.argv[2:]
sys.path.insert(0, str(d))
if "NO_LOCAL_GGUF" not in os.environ:
    sys.path.insert(1, str(d / "gguf-py"))
from conversion.base import ModelBase
_load = ModelBase.load_hparams
def load_hparams(dir_model, is_mistral_format):
    cfg = _load(dir_model, is_mistral_format)
    path = Path(dir_model) / "config.json"
    if not is_mistral_format and path.is_file():
        raw = json.loads(path.read_text(encoding="utf-8"))
        added = sorted(k for k in raw if k not in cfg)
        for k in added:
            cfg[k] = raw[k]
        if added:
            print("check_arch: restored config.json keys AutoConfig dropped: " + ", ".join(added), file=sys.stderr)
    return cfg
ModelBase.load_hparams = staticmethod(load_hparams)
runpy.run_path(str(script), run_name="__main__")
"""


class Unsupported(Exception):
    """sinkquant refused the architecture or one of its features."""


# ------------------------------------------------------------------------------ runners


def run_sq(bin_path: Path, args: list[str], what: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(bin_path), *map(str, args)], capture_output=True)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        tail = "\n".join(err.splitlines()[-6:])
        if UNSUPPORTED.search(err):
            raise Unsupported(f"{what}: {tail}")
        raise CheckError(f"{what}: quantize {' '.join(map(str, args))} exited {proc.returncode}:\n{tail}")
    return proc


def sq_ppl(bin_path: Path, model: Path, args, work: Path, tag: str) -> dict:
    out = work / f"sq-ppl-{tag}.json"
    threads = ["--threads", args.sq_threads] if args.sq_threads else []
    run_sq(bin_path, ["ppl", model, "--text", args.text, "--ctx", args.ctx, "--chunks", args.chunks,
                      *threads, "--json", out], f"quantize ppl {model.name}")
    r = json.loads(out.read_text())
    return {"ppl": float(r["ppl"]), "err": r.get("ppl_stderr"), "chunks": r.get("chunks"), "seconds": r.get("seconds")}


def convert(llama_cpp: Path, model_dir: Path, out: Path) -> dict:
    script = llama_cpp / "convert_hf_to_gguf.py"
    if not script.is_file():
        raise CheckError(f"{script} not found (scripts/build-llama-cpp.sh copies it)")
    cmd = [sys.executable, "-c", CONVERT_RUNNER, str(llama_cpp), str(model_dir), "--outtype", "f32",
           "--outfile", str(out)]
    proc = subprocess.run(cmd, capture_output=True)
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0 or not out.is_file():
        tail = "\n".join(err.strip().splitlines()[-12:])
        raise CheckError(f"convert_hf_to_gguf.py {model_dir.name} exited {proc.returncode}:\n{tail}")
    restored = re.findall(r"restored config.json keys AutoConfig dropped: (.*)", err)
    return {"gguf": str(out), "bytes": out.stat().st_size,
            "restored_keys": sorted({k.strip() for line in restored for k in line.split(",")})}


def llama_kld(bin_dir: Path, model: Path, base: Path, args, make_base: bool) -> dict:
    a = ["-m", str(model), "-f", str(args.text), "-c", str(args.ctx), "--chunks", str(args.chunks),
         "-t", str(args.threads), "--kl-divergence-base", str(base)]
    if not make_base:
        a.append("--kl-divergence")
    proc = llama_run(bin_dir, "llama-perplexity", a)
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    if make_base:
        m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", out)
        return {"ppl": float(m.group(1)) if m else None}
    m = re.search(r"Mean\s+KLD:\s+([-0-9.eE+]+)\s+±\s+([-0-9.eE+]+)", out)
    if not m:
        tail = "\n".join(out.strip().splitlines()[-12:])
        raise CheckError(f"llama-perplexity --kl-divergence printed no mean KLD for {model.name}:\n{tail}")
    r = {"kld": float(m.group(1)), "kld_err": float(m.group(2))}
    p = re.search(r"Mean PPL\(Q\)\s+:\s+([0-9.]+)", out)
    top = re.search(r"Same top p:\s+([0-9.]+)", out)
    r["ppl"] = float(p.group(1)) if p else None
    r["same_top_p_pct"] = float(top.group(1)) if top else None
    return r


# ------------------------------------------------------------------------------ HF side


def needs_eager(model_dir: Path) -> bool:
    cfg = json.loads((model_dir / "config.json").read_text())
    return bool(cfg.get("attn_logit_softcapping") or cfg.get("final_logit_softcapping"))


def load_hf(model_dir: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kw = {"attn_implementation": "eager"} if needs_eager(model_dir) else {}
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model, info = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32,
                                                       output_loading_info=True, **kw)
    problems = {k: sorted(map(str, v)) for k, v in info.items() if v and k in
                ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")}
    if problems:
        raise CheckError(f"transformers loaded {model_dir} with problems: {problems}")
    return tok, model.eval()


def hf_ppl(model_dir: Path, args, text: str) -> dict:
    tok, model = load_hf(model_dir)
    add_bos = hf_adds_bos(tok)
    r = hf_perplexity(model, tok, text, args.ctx, args.chunks, add_bos)
    r["add_bos"] = add_bos
    r["attn_implementation"] = model.config._attn_implementation
    r["tokenizer"] = tok
    return r


# ------------------------------------------------------------------------------ one model


def rel(a, b):
    return a / b - 1.0 if isinstance(a, float) and isinstance(b, float) and b else None


def check_model(model_dir: Path, args, text: str, full_text: str, work: Path) -> dict:
    name = model_dir.name
    w = work / name
    w.mkdir(parents=True, exist_ok=True)
    r: dict = {"model": name, "dir": str(model_dir), "steps": {}, "seconds": {}}
    cfg = json.loads((model_dir / "config.json").read_text())
    r["model_type"] = cfg.get("model_type")
    S = r["steps"]

    def guarded(key, fn):
        """Runs one check; records ok/fail/unsupported/error/skipped in S[key]."""
        t0 = time.time()
        try:
            res = fn()
            S[key] = res if isinstance(res, dict) else {"status": "ok"}
            S[key].setdefault("status", "ok")
        except Unsupported as e:
            S[key] = {"status": "unsupported", "message": str(e)}
        except CheckError as e:
            S[key] = {"status": "error", "message": str(e)}
        except Exception as e:  # noqa: BLE001 - report and go on with the next step
            S[key] = {"status": "error", "message": f"unexpected {type(e).__name__}: {e}"}
            traceback.print_exc()
        r["seconds"][key] = round(time.time() - t0, 2)
        st = S[key]
        msg = st.get("summary") or st.get("message", "")
        print(f"  {key:<12} {st['status']:<11} {msg.splitlines()[0] if msg else ''}", flush=True)
        for extra in (msg.splitlines()[1:] if st["status"] in ("error", "unsupported") else []):
            print(f"  {'':<24} {extra}", flush=True)
        return st

    ctx = {}

    # a) transformers
    def a():
        h = hf_ppl(model_dir, args, text)
        ctx["tok"] = h.pop("tokenizer")
        ctx["ids_prefix"] = h.pop("ids_prefix")
        ctx["hf_ppl"] = h["ppl"]
        h["summary"] = f"PPL {h['ppl']:.4f} +/- {h['err']:.3f} (add_bos {h['add_bos']}, {h['attn_implementation']})"
        h.pop("running", None)
        return h
    guarded("hf", a)
    hf = ctx.get("hf_ppl")

    # b) quantize ppl on the directory
    def b():
        if "b" not in args.steps:
            return {"status": "skipped", "summary": "not asked"}
        if hf is None:
            return {"status": "skipped", "summary": "no transformers PPL"}
        s = sq_ppl(args.quantize, model_dir, args, w, "dir")
        s["rel_diff_hf"] = rel(s["ppl"], hf)
        ok = abs(s["rel_diff_hf"]) <= args.tol_hf
        s["status"] = "ok" if ok else "fail"
        s["summary"] = f"PPL {s['ppl']:.4f} ({100 * s['rel_diff_hf']:+.4f}% vs transformers, tol {100 * args.tol_hf:g}%)"
        return s
    guarded("sq_dir", b)

    # c) llama.cpp's converter, tokens, llama-perplexity, quantize ppl on the conversion
    f32 = w / f"{name}-f32.gguf"

    def c1():
        if not any(s in args.steps for s in "cde"):
            return {"status": "skipped", "summary": "not asked"}
        cv = convert(args.llama_cpp, model_dir, f32)
        ctx["f32"] = f32
        cv["summary"] = f"{f32.name} {cv['bytes'] / 1e6:.1f} MB" + (
            f"; restored keys {', '.join(cv['restored_keys'])}" if cv["restored_keys"] else "")
        return cv
    guarded("convert", c1)

    def c2():
        if "f32" not in ctx or "tok" not in ctx:
            return {"status": "skipped", "summary": "no conversion or no tokenizer"}
        hf_ids = ctx["tok"](full_text)["input_ids"]
        ll_ids = llama_tokenize_file(args.llama_bin, f32, args.text)
        d = first_difference(hf_ids, ll_ids)
        res = {"hf_count": len(hf_ids), "llama_count": len(ll_ids), "equal": d is None,
               "ppl_input_equal": ctx["ids_prefix"] == ll_ids[: len(ctx["ids_prefix"])]}
        if d is not None:
            res["first_difference"] = d
        res["status"] = "ok" if d is None and res["ppl_input_equal"] else "fail"
        res["summary"] = (f"{len(hf_ids)} ids, equal" if d is None else
                          f"HF {len(hf_ids)} vs llama-tokenize {len(ll_ids)} ids, first difference at {d}")
        return res
    guarded("tokens", c2)

    def c3():
        if "f32" not in ctx:
            return {"status": "skipped", "summary": "no conversion"}
        ll = llama_perplexity(args.llama_bin, f32, args.text, args.ctx, args.chunks, args.threads)
        ll.pop("running", None)
        ctx["ll_ppl"] = ll["ppl"]
        ll["rel_diff_hf"] = rel(hf, ll["ppl"]) if hf else None
        ok = ll["rel_diff_hf"] is not None and abs(ll["rel_diff_hf"]) <= args.tol_ref
        ll["status"] = "ok" if ok else "fail"
        ll["summary"] = (f"PPL {ll['ppl']:.4f} (transformers {100 * ll['rel_diff_hf']:+.4f}%, tol {100 * args.tol_ref:g}%)"
                         if ll["rel_diff_hf"] is not None else f"PPL {ll['ppl']:.4f}")
        return ll
    guarded("llama_f32", c3)

    def c4():
        if "c" not in args.steps:
            return {"status": "skipped", "summary": "not asked"}
        if "ll_ppl" not in ctx:
            return {"status": "skipped", "summary": "no llama.cpp PPL"}
        s = sq_ppl(args.quantize, f32, args, w, "f32gguf")
        s["rel_diff_llama"] = rel(s["ppl"], ctx["ll_ppl"])
        ok = abs(s["rel_diff_llama"]) <= args.tol_llama
        s["status"] = "ok" if ok else "fail"
        s["summary"] = f"PPL {s['ppl']:.4f} ({100 * s['rel_diff_llama']:+.4f}% vs llama-perplexity, tol {100 * args.tol_llama:g}%)"
        return s
    guarded("sq_gguf", c4)

    # d) Q8_0 and Q4_K_M: sinkquant's from the directory vs llama-quantize's from the conversion
    base = w / f"{name}-f32.kld"

    def d0():
        if "d" not in args.steps:
            return {"status": "skipped", "summary": "not asked"}
        if "f32" not in ctx:
            return {"status": "skipped", "summary": "no conversion"}
        res = llama_kld(args.llama_bin, f32, base, args, make_base=True)
        ctx["kld_base"] = base
        res["summary"] = f"{base.name} written (PPL {res['ppl']})"
        return res
    if "d" in args.steps:
        guarded("kld_base", d0)

    for t, ggml in QUANT_TYPES:
        def d1(t=t, ggml=ggml):
            if "d" not in args.steps:
                return {"status": "skipped", "summary": "not asked"}
            if "kld_base" not in ctx:
                return {"status": "skipped", "summary": "no KLD base"}
            ll_q = w / f"{name}-llama-{t}.gguf"
            llama_run(args.llama_bin, "llama-quantize", [str(f32), str(ll_q), ggml, str(args.threads)])
            ll = llama_kld(args.llama_bin, ll_q, base, args, make_base=False)
            ll["bytes"] = ll_q.stat().st_size
            res = {"llama": ll}
            sq_q = w / f"{name}-sq-{t}.gguf"
            sq_json = w / f"{name}-sq-{t}.json"
            try:
                run_sq(args.quantize, [model_dir, sq_q, "--type", t, "--calib", args.calib,
                                       "--json", sq_json], f"quantize --type {t} {name}")
            except Unsupported as e:
                res.update(status="unsupported", message=str(e),
                           summary=f"llama.cpp KLD {ll['kld']:.6f}; sinkquant unsupported")
                return res
            sq = llama_kld(args.llama_bin, sq_q, base, args, make_base=False)
            sq["bytes"] = sq_q.stat().st_size
            res["sq"] = sq
            noise = 2.0 * math.sqrt(sq["kld_err"] ** 2 + ll["kld_err"] ** 2)
            res["noise"] = noise
            res["limit"] = ll["kld"] * (1.0 + args.kld_slack) + noise
            ok = sq["kld"] <= res["limit"]
            res["status"] = "ok" if ok else "fail"
            res["summary"] = (f"KLD sinkquant {sq['kld']:.6f} +/- {sq['kld_err']:.6f} ({sq['bytes'] / 1e6:.2f} MB) vs "
                              f"llama.cpp {ll['kld']:.6f} +/- {ll['kld_err']:.6f} ({ll['bytes'] / 1e6:.2f} MB); "
                              f"limit {res['limit']:.6f}")
            return res
        if "d" in args.steps:
            guarded(f"kld_{t}", d1)

    # e) export of the conversion, transformers PPL of the result
    def e():
        if "e" not in args.steps:
            return {"status": "skipped", "summary": "not asked"}
        if "f32" not in ctx or hf is None:
            return {"status": "skipped", "summary": "no conversion or no transformers PPL"}
        out = w / f"{name}-export"
        run_sq(args.quantize, ["export", f32, out, "--force"], f"quantize export {name}")
        h = hf_ppl(out, args, text)
        h.pop("tokenizer")
        h.pop("ids_prefix")
        h.pop("running", None)
        h["rel_diff_hf"] = rel(h["ppl"], hf)
        ok = abs(h["rel_diff_hf"]) <= args.tol_export
        h["status"] = "ok" if ok else "fail"
        h["summary"] = f"PPL {h['ppl']:.4f} ({100 * h['rel_diff_hf']:+.4f}% vs original, tol {100 * args.tol_export:g}%)"
        return h
    guarded("export", e)

    statuses = [s["status"] for s in S.values()]
    allowed = {"ok", "skipped"} | ({"unsupported"} if args.allow_unsupported else set())
    r["ok"] = all(s in allowed for s in statuses)
    return r


# ------------------------------------------------------------------------------------ main


def model_dirs(ap: argparse.ArgumentParser, models_dir: Path, only: str | None) -> list[Path]:
    """The model directories under models_dir in ORDER, or those named in --only."""
    dirs = sorted((p for p in models_dir.iterdir() if (p / "config.json").is_file()),
                  key=lambda p: (ORDER.index(p.name) if p.name in ORDER else len(ORDER), p.name))
    if only:
        want = [n.strip() for n in only.split(",") if n.strip()]
        missing = [n for n in want if n not in {p.name for p in dirs}]
        if missing:
            ap.error(f"not under {models_dir}: {', '.join(missing)}")
        dirs = [p for p in dirs if p.name in want]
    if not dirs:
        ap.error(f"{models_dir}: no model directories (scripts/make_tiny_models.py makes them)")
    return dirs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models_dir", type=Path)
    ap.add_argument("--quantize", type=Path, default=ROOT / "target" / "release" / "quantize")
    ap.add_argument("--llama-bin", type=Path, default=Path.home() / ".cache" / "llama-cpp-ref" / "bin")
    ap.add_argument("--llama-cpp", type=Path, help="converter directory (default: --llama-bin/..)")
    ap.add_argument("--only", help="comma-separated model directory names")
    ap.add_argument("--text", type=Path, default=ROOT / "models" / "text" / "wiki.utf8")
    ap.add_argument("--calib", type=Path, default=ROOT / "models" / "text" / "c4.utf8")
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sq-threads", type=int, help="pass --threads N to quantize ppl (default: its own, all cores)")
    ap.add_argument("--steps", default="a,b,c,d,e", help="subset of a,b,c,d,e (a always runs)")
    ap.add_argument("--tol-hf", type=float, default=0.001, help="quantize ppl DIR vs transformers")
    ap.add_argument("--tol-ref", type=float, default=0.005, help="llama.cpp (converter) vs transformers")
    ap.add_argument("--tol-llama", type=float, default=0.005, help="quantize ppl GGUF vs llama-perplexity")
    ap.add_argument("--tol-export", type=float, default=0.001, help="export's transformers PPL vs original")
    ap.add_argument("--kld-slack", type=float, default=0.0,
                    help="allowed relative excess of sinkquant's KLD over llama.cpp's, besides the noise")
    ap.add_argument("--work", type=Path, help="keep intermediate files here")
    ap.add_argument("--allow-unsupported", action="store_true", help="steps sinkquant refuses do not fail the run")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    args.llama_cpp = args.llama_cpp or args.llama_bin.parent
    args.steps = {s.strip() for s in args.steps.split(",") if s.strip()} | {"a"}
    if not args.steps <= set("abcde"):
        ap.error("--steps takes letters among a,b,c,d,e")
    for p, what in [(args.text, "--text"), (args.calib, "--calib")]:
        if not p.is_file():
            ap.error(f"{what} {p}: no such file (scripts/fetch-models.sh fetches the samples)")
    if args.steps & set("bcde") and not args.quantize.is_file():
        ap.error(f"--quantize {args.quantize}: no such file (cargo build --release)")
    try:
        import torch
        import transformers
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        torch.set_num_threads(args.threads)
    except ImportError as e:
        sys.exit(f"check_arch: missing Python package ({e}); pip install torch transformers sentencepiece protobuf")

    dirs = model_dirs(ap, args.models_dir, args.only)

    with open(args.text, encoding="utf-8", newline="") as f:
        full_text = f.read()
    text = full_text[:-1] if full_text.endswith("\n") else full_text  # llama.cpp's -f drops one newline

    work = args.work or Path(tempfile.mkdtemp(prefix="check_arch_"))
    work.mkdir(parents=True, exist_ok=True)
    t_all = time.time()
    results = []
    try:
        for d in dirs:
            print(f"== {d.name}", flush=True)
            results.append(check_model(d, args, text, full_text, work))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    def cell(r, key, fmt):
        st = r["steps"].get(key)
        if not st:
            return "-"
        if st["status"] in ("unsupported", "error", "skipped"):
            return {"unsupported": "unsupported", "error": "ERROR", "skipped": "-"}[st["status"]]
        return fmt(st) + ("" if st["status"] == "ok" else " FAIL")

    def pct(v):
        return f"{100 * v:+.3f}%" if isinstance(v, float) else "?"

    def kld(st):
        return f"{st['sq']['kld']:.3g}/{st['llama']['kld']:.3g}" if "sq" in st else "?"

    cols = [
        ("model", 9, lambda r: r["model"]),
        ("HF PPL", 11, lambda r: cell(r, "hf", lambda s: f"{s['ppl']:.2f}")),
        ("sq dir", 11, lambda r: cell(r, "sq_dir", lambda s: pct(s["rel_diff_hf"]))),
        ("tokens", 10, lambda r: cell(r, "tokens", lambda s: "equal" if s["equal"] else "DIFF")),
        ("llama F32", 11, lambda r: cell(r, "llama_f32", lambda s: f"{s['ppl']:.2f}")),
        ("HF/ll", 9, lambda r: cell(r, "llama_f32", lambda s: pct(s["rel_diff_hf"]))),
        ("sq gguf", 13, lambda r: cell(r, "sq_gguf", lambda s: pct(s["rel_diff_llama"]))),
        ("KLD q8_0 sq/ll", 22, lambda r: cell(r, "kld_q8_0", kld)),
        ("KLD q4_k_m sq/ll", 22, lambda r: cell(r, "kld_q4_k_m", kld)),
        ("export", 13, lambda r: cell(r, "export", lambda s: pct(s["rel_diff_hf"]))),
    ]
    print("\n" + " ".join(f"{h:<{w}}" for h, w, _ in cols) + " status")
    for r in results:
        print(" ".join(f"{str(f(r)):<{w}}" for _, w, f in cols) + f" {'ok' if r['ok'] else 'FAIL'}")
    summary = {"models_dir": str(args.models_dir), "text": str(args.text), "calib": str(args.calib),
               "ctx": args.ctx, "chunks": args.chunks, "threads": args.threads,
               "tolerances": {"hf": args.tol_hf, "ref": args.tol_ref, "llama": args.tol_llama, "export": args.tol_export},
               "quantize": str(args.quantize), "llama_bin": str(args.llama_bin),
               "seconds": round(time.time() - t_all, 1), "models": results,
               "ok": all(r["ok"] for r in results)}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"check_arch: {'OK' if summary['ok'] else 'FAIL'} ({summary['seconds']:.0f}s)")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
