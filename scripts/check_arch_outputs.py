#!/usr/bin/env python3
"""Check sinkquant's other outputs on the tiny models of each architecture (issue 12, part 2).

Purpose
    scripts/check_arch.py checks the forward pass, the GGUF outputs and the export of each tiny
    model (scripts/make_tiny_models.py) against transformers and llama.cpp. This script checks
    the rest of what a user does with such a model, with the same perplexity protocol (--ctx
    tokens per chunk, second half scored, --chunks chunks of --text):

    f) scan      `quantize scan DIR` on --calib: random weights have no massive activations, so
                 the report must name no massive dimension, super weight or origin (a false
                 positive fails), and give one sink share per layer.
    g) ct_int8, ct_int4
                 `quantize DIR OUT --type int8|int4` writes a compressed-tensors directory;
                 transformers loads it (float32, the compressed-tensors package decompressing)
                 with no missing or unexpected weight. Its KLD against the original, both run by
                 transformers, must be at most --tol-ct-int8 / -int4 (0.05, 1.0 nats: a sanity
                 bound; random weights are fragile, measured up to 0.021 and 0.60 on gemma2, while
                 a broken file scores several nats). For int4 the default method's KLD must not
                 exceed `--method rtn`'s by more than --tol-ct-rtn (2%; GPTQ measured 1-10% below).
                 Random models' PPL moves both ways (gemma2 int4 -12.8%), so PPL against the
                 original is printed, not judged. `quantize ppl OUT` must agree with transformers'
                 PPL of OUT within --tol-ct (0.5%). Both read the same file but not the same numbers: sinkquant rounds
                 (q - zp) * scale to the scale's dtype (bf16), as compressed-tensors' own
                 decompression does (scripts/check_compressed_tensors.py: bit-identical), while
                 transformers loaded in float32 upcasts the scale first; measured 0.00-0.3%.
    h) spm_only  for each model with a tokenizer.model (gemma2, phi3): a copy without
                 tokenizer.json gives the same `quantize ppl` as the original, and the Q8_0
                 GGUF sinkquant writes from the copy tokenizes the whole --text in llama-tokenize
                 to the ids transformers' tokenizer of the original gives.
    i) batch     one `quantize batch` over all models x {q4_k_m GGUF, int8 safetensors} with
                 --eval: every job finishes, the report has a KLD for each, and llama-perplexity
                 runs every GGUF it wrote with a PPL within 10% of transformers' original.

Usage
    scripts/check_arch_outputs.py MODELS_DIR --quantize BIN --llama-bin DIR [--only NAME,...]
        [--steps f,g,h,i] [--text FILE] [--calib FILE] [--ctx 256] [--chunks 4] [--threads 2]
        [--work DIR] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # compressed-tensors' per-module progress bars

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_arch import hf_adds_bos, hf_ppl, load_hf, model_dirs, rel, run_sq, sq_ppl  # noqa: E402
from check_hf_export import CheckError, first_difference, llama_perplexity, llama_tokenize_file  # noqa: E402


def step_scan(d: Path, args, w: Path) -> dict:
    out = w / "scan.json"
    run_sq(args.quantize, ["scan", d, "--calib", args.calib, "--calib-chunks", args.chunks,
                           "--calib-ctx", args.ctx, "--json", out], f"quantize scan {d.name}")
    r = json.loads(out.read_text())
    found = {k: len(r[k]) for k in ("massive_dims", "super_weights", "origins", "massive")}
    layers = len(r["layers"])
    ok = not any(found.values()) and len(r["sink_share"]) == layers > 0
    return {"status": "ok" if ok else "fail", "found": found, "layers": layers,
            "summary": f"{layers} layers, " + ", ".join(f"{k} {v}" for k, v in found.items())}


def hf_kld(orig: Path, quant: Path, args, text: str) -> float:
    """Mean KL(original || quantized) in nats over the PPL protocol's scored positions, both
    models run by transformers in float32."""
    import torch

    tok, a = load_hf(orig)
    _, b = load_hf(quant)
    add_bos = hf_adds_bos(tok)
    ids = tok(text, split_special_tokens=True)["input_ids"]
    ctx, first = args.ctx, args.ctx // 2
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(min(args.chunks, len(ids) // ctx)):
            x = torch.tensor(ids[i * ctx:(i + 1) * ctx], dtype=torch.long)
            if add_bos:
                x[0] = tok.bos_token_id
            lp = [torch.log_softmax(m(input_ids=x[None], use_cache=False).logits[0, first:-1].double(), -1)
                  for m in (a, b)]
            total += float((lp[0].exp() * (lp[0] - lp[1])).sum())
            count += lp[0].shape[0]
    if not count:
        raise CheckError(f"{text[:40]!r}...: too short for one chunk of {ctx} tokens")
    return total / count


def step_ct(d: Path, args, w: Path, text: str, hf: float, ty: str) -> dict:
    out = w / f"{d.name}-{ty}"
    run_sq(args.quantize, [d, out, "--type", ty, "--calib", args.calib, "--calib-chunks", args.chunks,
                           "--calib-ctx", args.ctx, "--force"], f"quantize --type {ty} {d.name}")
    h = hf_ppl(out, args, text)
    sq = sq_ppl(args.quantize, out, args, w, f"ct-{ty}")
    tol_kld = args.tol_ct_int8 if ty == "int8" else args.tol_ct_int4
    r = {"hf_ppl": h["ppl"], "sq_ppl": sq["ppl"], "vs_original": rel(h["ppl"], hf),
         "sq_vs_hf": rel(sq["ppl"], h["ppl"]), "hf_kld": hf_kld(d, out, args, text)}
    ok = r["hf_kld"] <= tol_kld and abs(r["sq_vs_hf"]) <= args.tol_ct
    rtn_note = ""
    if ty == "int4":  # the default method (GPTQ here) must not lose to rounding, as transformers sees it
        rtn = w / f"{d.name}-{ty}-rtn"
        run_sq(args.quantize, [d, rtn, "--type", ty, "--method", "rtn", "--calib", args.calib, "--calib-chunks",
                               args.chunks, "--calib-ctx", args.ctx, "--force"], f"quantize --method rtn {d.name}")
        r["hf_kld_rtn"] = hf_kld(d, rtn, args, text)
        ok = ok and r["hf_kld"] <= r["hf_kld_rtn"] * (1 + args.tol_ct_rtn)
        rtn_note = f", --method rtn {r['hf_kld_rtn']:.5f}"
    r["status"] = "ok" if ok else "fail"
    r["summary"] = (f"transformers KLD vs original {r['hf_kld']:.5f} (limit {tol_kld:g}{rtn_note}; PPL "
                    f"{h['ppl']:.2f}, {100 * r['vs_original']:+.2f}%); quantize ppl "
                    f"{100 * r['sq_vs_hf']:+.4f}% vs transformers (tol {100 * args.tol_ct:g}%)")
    return r


def step_spm(d: Path, args, w: Path, full_text: str) -> dict:
    if not (d / "tokenizer.model").is_file():
        return {"status": "skipped", "summary": "no tokenizer.model"}
    copy = w / f"{d.name}-spm-only"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    for f in d.iterdir():
        if f.name != "tokenizer.json":
            (copy / f.name).symlink_to(f.resolve())
    a = sq_ppl(args.quantize, d, args, w, "orig")["ppl"]
    b = sq_ppl(args.quantize, copy, args, w, "spm")["ppl"]
    gguf = w / f"{d.name}-spm-q8_0.gguf"
    run_sq(args.quantize, [copy, gguf, "--type", "q8_0", "--calib", args.calib, "--calib-chunks", "2",
                           "--calib-ctx", args.ctx, "--force"], f"quantize --type q8_0 {copy.name}")
    from transformers import AutoTokenizer
    hf_ids = AutoTokenizer.from_pretrained(str(d))(full_text)["input_ids"]
    ll_ids = llama_tokenize_file(args.llama_bin, gguf, args.text)
    diff = first_difference(hf_ids, ll_ids)
    ok = a == b and diff is None
    return {"status": "ok" if ok else "fail", "ppl": a, "ppl_spm_only": b, "ids": len(hf_ids),
            "first_difference": diff,
            "summary": f"PPL {a:.4f} with tokenizer.json, {b:.4f} without; "
                       + (f"{len(hf_ids)} ids equal to transformers'" if diff is None else f"ids differ at {diff}")}


def step_batch(dirs: list[Path], args, w: Path, hf: dict) -> dict:
    out = w / "batch-out"
    shutil.rmtree(out, ignore_errors=True)
    manifest = w / "batch.toml"
    lines = [f'out_dir = "{out}"', f'calib = "{args.calib}"', f'eval = "{args.text}"',
             f"calib_chunks = {args.chunks}", f"eval_chunks = {args.chunks}", f"ctx = {args.ctx}", ""]
    for d in dirs:
        lines += ["[[models]]", f'path = "{d.resolve()}"', ""]
    lines += ['[[recipes]]', 'name = "q4km"', 'type = "q4_k_m"', "",
              '[[recipes]]', 'name = "int8"', 'type = "int8"', 'format = "safetensors"', ""]
    manifest.write_text("\n".join(lines))
    run_sq(args.quantize, ["batch", manifest, "--jobs", "1"], "quantize batch")
    report = json.loads((out / "report" / "report.json").read_text())
    rows, bad = [], []
    for j in report["jobs"]:
        name, recipe, kld = j["model"], j["recipe"], j.get("kld")
        row = {"model": name, "recipe": recipe, "ok": j["ok"], "kld": kld, "bpw": j.get("bpw"),
               "massive_dims": j.get("massive_dims")}
        if not j["ok"] or kld is None:
            bad.append(f"{name}/{recipe}: {j.get('error') or 'no KLD'}")
        elif recipe == "q4km" and name in hf:
            p = llama_perplexity(args.llama_bin, out / j["output"], args.text, args.ctx, args.chunks,
                                 args.threads)["ppl"]
            row["llama_ppl"] = p
            if abs(rel(p, hf[name])) > 0.10:
                bad.append(f"{name}/q4km: llama-perplexity {p:.2f} vs transformers {hf[name]:.2f}")
        rows.append(row)
    if len(rows) != 2 * len(dirs):
        bad.append(f"{len(rows)} jobs in the report, expected {2 * len(dirs)}")
    return {"status": "fail" if bad else "ok", "jobs": rows, "problems": bad,
            "summary": f"{len(rows)} jobs" + ("; " + "; ".join(bad) if bad else ", all finished, KLD reported, "
                                                "every q4_k_m GGUF runs in llama-perplexity")}


# ------------------------------------------------------------------------------------ main


def report(key: str, fn, results: dict) -> None:
    t0 = time.time()
    try:
        res = fn()
    except CheckError as e:
        res = {"status": "error", "message": str(e)}
    res["seconds"] = round(time.time() - t0, 1)
    results[key] = res
    msg = res.get("summary") or res.get("message", "")
    lines = msg.splitlines() or [""]
    print(f"  {key:<10} {res['status']:<8} {lines[0]}", flush=True)
    for extra in lines[1:] if res["status"] == "error" else []:
        print(f"  {'':<19} {extra}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models_dir", type=Path)
    ap.add_argument("--quantize", type=Path, default=ROOT / "target" / "release" / "quantize")
    ap.add_argument("--llama-bin", type=Path, default=Path.home() / ".cache" / "llama-cpp-ref" / "bin")
    ap.add_argument("--only", help="comma-separated model directory names")
    ap.add_argument("--steps", default="f,g,h,i", help="subset of f,g,h,i")
    ap.add_argument("--text", type=Path, default=ROOT / "models" / "text" / "wiki.utf8")
    ap.add_argument("--calib", type=Path, default=ROOT / "models" / "text" / "c4.utf8")
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sq-threads", type=int, help="pass --threads N to quantize ppl")
    ap.add_argument("--tol-ct", type=float, default=0.005, help="quantize ppl vs transformers, same directory")
    ap.add_argument("--tol-ct-int8", type=float, default=0.05, help="largest KLD of the int8 directory vs the original (transformers)")
    ap.add_argument("--tol-ct-int4", type=float, default=1.0, help="largest KLD of the int4 directory vs the original (transformers)")
    ap.add_argument("--tol-ct-rtn", type=float, default=0.02,
                    help="the default int4's KLD may exceed --method rtn's by this fraction")
    ap.add_argument("--work", type=Path, help="keep intermediate files here")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    steps = {s.strip() for s in args.steps.split(",") if s.strip()}
    if not steps <= set("fghi"):
        ap.error("--steps takes letters among f,g,h,i")
    import torch
    import transformers
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)

    dirs = model_dirs(ap, args.models_dir, args.only)
    with open(args.text, encoding="utf-8", newline="") as f:
        full_text = f.read()
    text = full_text[:-1] if full_text.endswith("\n") else full_text  # llama.cpp's -f drops one newline
    work = args.work or Path(tempfile.mkdtemp(prefix="check_arch_outputs_"))
    t_all = time.time()
    results: dict = {}
    hf: dict = {}
    try:
        for d in dirs:
            print(f"== {d.name}", flush=True)
            w = work / d.name
            w.mkdir(parents=True, exist_ok=True)
            r = results.setdefault(d.name, {})
            hf[d.name] = hf_ppl(d, args, text)["ppl"]
            if "f" in steps:
                report("scan", lambda: step_scan(d, args, w), r)
            for ty in ("int8", "int4") if "g" in steps else ():
                report(f"ct_{ty}", lambda ty=ty: step_ct(d, args, w, text, hf[d.name], ty), r)
            if "h" in steps:
                report("spm_only", lambda: step_spm(d, args, w, full_text), r)
        if "i" in steps:
            print("== all models", flush=True)
            report("batch", lambda: step_batch(dirs, args, work, hf), results.setdefault("batch", {}))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    ok = all(s["status"] in ("ok", "skipped") for r in results.values() for s in r.values())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"ok": ok, "seconds": round(time.time() - t_all, 1),
                                         "ctx": args.ctx, "chunks": args.chunks, "results": results},
                                        indent=2) + "\n")
    print(f"check_arch_outputs: {'OK' if ok else 'FAIL'} ({time.time() - t_all:.0f}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
