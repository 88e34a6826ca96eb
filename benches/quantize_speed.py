#!/usr/bin/env python3
"""Speed and peak memory of sinkquant's quantizer against llama.cpp's on one model, type and
thread count.

  llama.cpp   llama-imatrix -m WORK/f16.gguf -f c4.utf8 -c 512 --chunks C -t T -o imatrix.gguf
              llama-quantize --imatrix imatrix.gguf WORK/f16.gguf OUT TYPE T
  sinkquant   quantize --calib c4.utf8 --calib-chunks C --calib-ctx 512 --seed 0 --type type
              --outliers P --threads T --json J models/hf/<m> OUT
              (one process: its --json splits calibration_seconds and quantization_seconds)

WORK/f16.gguf is the F16 GGUF benches/quality_vs_llama.py makes (made here if missing, same
command); both tools read the same F16 weights (sinkquant from the exported HF directory).
Measured per run: wall time of each command (whole process, model loading included) and its peak
RSS (/usr/bin/time -v "Maximum resident set size"; without /usr/bin/time, the child's rusage
from os.wait4). Reported ratios (sinkquant / llama.cpp, < 1: sinkquant faster or smaller):
  quantization   sinkquant quantization_seconds  /  llama-quantize wall time
  calibration    sinkquant calibration_seconds   /  llama-imatrix wall time
  end to end     sinkquant process wall time     /  (llama-imatrix + llama-quantize) wall time
  peak RSS       sinkquant process peak          /  llama-quantize peak, and / max(imatrix, quantize)
With --repeat N every command runs N times: the minimum time and the largest peak are kept.
Output: docs/quality/speed-<model>.json (or --out-dir) and a table on stdout; progress on stderr.

Usage:
  benches/quantize_speed.py [--model smollm2-135m] [--type Q4_K_M] [--outliers fold | --effort default]
      [--calib-chunks 32] [--threads 2] [--repeat 1] [--work /tmp/sq-quality/<model>]
      [--out-dir docs/quality] [--models models] [--llama-bin DIR] [--quantize BIN]
"""
import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_vs_llama import (MIB, POLICIES, Ctx, StepFailed, command_line, common_args,  # noqa: E402
                              gguf_params, log, run)


def best(runs):
    return dict(seconds=min(r["seconds"] for r in runs),
                peak_rss=max((r["peak_rss"] or 0) for r in runs) or None,
                runs=runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    common_args(ap)
    ap.add_argument("--type", default="Q4_K_M", help="llama-quantize type; sinkquant gets it in lower case")
    ap.add_argument("--outliers", default="fold", choices=POLICIES, help="sinkquant's --outliers")
    ap.add_argument("--effort", choices=("fast", "default", "best"),
                    help="sinkquant's --effort, with no --outliers or --method: the default job's cost "
                         "(output docs/quality/speed-<model>-<type>-<effort>.json)")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    a.work = a.work or Path("/tmp/sq-quality") / a.model
    cx = Ctx(a)
    missing = cx.sq_available()
    if missing:
        sys.exit(f"quantize_speed: {missing}")
    d = cx.work / "speed"
    d.mkdir(exist_ok=True)
    cx.ensure_f16()
    n_params = gguf_params(cx.f16)
    sq_type = a.type.lower()
    imatrix = d / "imatrix.gguf"
    llama_out = d / f"llama-{a.type}-imat.gguf"
    tag = f"effort-{a.effort}" if a.effort else a.outliers
    sq_out, sq_json = d / f"sq-{sq_type}-{tag}.gguf", d / f"sq-{sq_type}-{tag}.json"
    im_cmd = cx.imatrix_cmd(imatrix, a.calib_chunks)
    q_cmd = [cx.bin("llama-quantize"), "--imatrix", imatrix, cx.f16, llama_out, a.type, a.threads]
    sq_cmd = cx.sq_cmd(sq_type, a.outliers, True, sq_out, sq_json, a.calib_chunks, effort=a.effort)

    im_runs, q_runs, sq_runs = [], [], []
    try:
        for i in range(1, a.repeat + 1):
            rep = f" (run {i}/{a.repeat})" if a.repeat > 1 else ""
            for f in (imatrix, llama_out, sq_out, sq_json):  # every run writes from scratch
                f.unlink(missing_ok=True)
            log(f"llama-imatrix: {a.calib_chunks} chunks{rep}")
            _, secs, rss = run(im_cmd, d / "imatrix.log", cx.env, timed=True)
            im_runs.append(dict(seconds=secs, peak_rss=rss))
            log(f"llama-imatrix: {secs:.1f} s, {rss / MIB if rss else 0:.0f} MiB")
            log(f"llama-quantize {a.type}{rep}")
            text, secs, rss = run(q_cmd, d / "llama-quantize.log", cx.env, timed=True)
            m = re.search(r"llama_quantize: quantize time =\s*([0-9.]+) ms", text)
            q_runs.append(dict(seconds=secs, peak_rss=rss, reported_seconds=float(m.group(1)) / 1000 if m else None))
            log(f"llama-quantize: {secs:.1f} s, {rss / MIB if rss else 0:.0f} MiB")
            log(f"sinkquant {sq_type} {'--effort ' + a.effort if a.effort else '--outliers ' + a.outliers}{rep}")
            _, secs, rss = run(sq_cmd, d / "sinkquant.log", cx.env, timed=True)
            j = json.loads(sq_json.read_text())
            sq_runs.append(dict(seconds=secs, peak_rss=rss, calibration_seconds=j["calibration_seconds"],
                                quantization_seconds=j["quantization_seconds"], outliers=j["outliers"],
                                method=j["method"]))
            log(f"sinkquant: {secs:.1f} s (calibration {j['calibration_seconds']:.1f} s, "
                f"quantization {j['quantization_seconds']:.1f} s), {rss / MIB if rss else 0:.0f} MiB")
    except StepFailed as e:
        sys.exit(f"quantize_speed: {e}")

    im, q, sq = best(im_runs), best(q_runs), best(sq_runs)
    sq["calibration_seconds"] = min(r["calibration_seconds"] for r in sq_runs)
    sq["quantization_seconds"] = min(r["quantization_seconds"] for r in sq_runs)
    rq = [r["reported_seconds"] for r in q_runs if r["reported_seconds"] is not None]
    q["reported_seconds"] = min(rq) if rq else None
    q["bytes"], sq["bytes"] = llama_out.stat().st_size, sq_out.stat().st_size
    q["bpw"], sq["bpw"] = q["bytes"] * 8 / n_params, sq["bytes"] * 8 / n_params

    def ratio(x, y):
        return x / y if x is not None and y else None

    llama_peak = max(filter(None, [im["peak_rss"], q["peak_rss"]]), default=None)
    ratios = dict(
        quantization=ratio(sq["quantization_seconds"], q["seconds"]),
        calibration=ratio(sq["calibration_seconds"], im["seconds"]),
        end_to_end=ratio(sq["seconds"], im["seconds"] + q["seconds"]),
        peak_rss_vs_quantize=ratio(sq["peak_rss"], q["peak_rss"]),
        peak_rss_vs_llama_max=ratio(sq["peak_rss"], llama_peak),
    )
    doc = dict(command=command_line(), date=time.strftime("%Y-%m-%d %H:%M"), model=a.model, type=a.type,
               outliers=a.outliers, effort=a.effort, threads=a.threads, calib_chunks=a.calib_chunks, ctx=a.ctx, repeat=a.repeat,
               rss_source="/usr/bin/time -v" if Path("/usr/bin/time").exists() else "os.wait4 rusage",
               commands=dict(llama_imatrix=[str(c) for c in im_cmd], llama_quantize=[str(c) for c in q_cmd],
                             sinkquant=[str(c) for c in sq_cmd]),
               llama_imatrix=im, llama_quantize=q, sinkquant=sq, ratios=ratios)
    a.out_dir.mkdir(parents=True, exist_ok=True)
    out = a.out_dir / (f"speed-{a.model}-{sq_type}-effort-{a.effort}.json" if a.effort else f"speed-{a.model}.json")
    out.write_text(json.dumps(doc, indent=1) + "\n")

    def mib(x):
        return f"{x / MIB:.0f}" if x else "-"

    def r(x):
        return f"{x:.2f}" if x is not None else "-"

    print(f"{a.model}, {a.type} with imatrix, {a.calib_chunks} x {a.ctx} calibration tokens, {a.threads} threads")
    print(f"{'':<34} {'seconds':>9} {'peak MiB':>9}")
    print(f"{'llama-imatrix':<34} {im['seconds']:>9.2f} {mib(im['peak_rss']):>9}")
    print(f"{'llama-quantize (wall)':<34} {q['seconds']:>9.2f} {mib(q['peak_rss']):>9}")
    if q["reported_seconds"] is not None:
        print(f"{'  (its own quantize time)':<34} {q['reported_seconds']:>9.2f}")
    print(f"{'sinkquant process (wall)':<34} {sq['seconds']:>9.2f} {mib(sq['peak_rss']):>9}")
    print(f"{'  calibration_seconds':<34} {sq['calibration_seconds']:>9.2f}")
    print(f"{'  quantization_seconds':<34} {sq['quantization_seconds']:>9.2f}")
    print(f"ratios sinkquant/llama.cpp: quantization {r(ratios['quantization'])}, calibration "
          f"{r(ratios['calibration'])}, end to end {r(ratios['end_to_end'])}, peak RSS "
          f"{r(ratios['peak_rss_vs_quantize'])} (vs llama-quantize), {r(ratios['peak_rss_vs_llama_max'])} "
          f"(vs the larger of llama-imatrix and llama-quantize)")
    print(f"sizes: llama.cpp {q['bytes'] / MIB:.1f} MiB ({q['bpw']:.2f} bpw), sinkquant {sq['bytes'] / MIB:.1f} MiB "
          f"({sq['bpw']:.2f} bpw)")
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
