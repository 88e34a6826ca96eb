#!/usr/bin/env python3
"""Acceptance check of `quantize batch` on the real models.

1. whole:  the manifest (models x recipes) runs uninterrupted with --jobs N; the report is kept.
2. resume: the same manifest in a fresh out_dir, the batch killed with SIGKILL twice at
           different moments and restarted with --resume; its jobs must stop with it, only
           unfinished jobs may be redone, and every output must be byte-identical to run 1's.
3. shards: --shard 0/2 and --shard 1/2 run separately; `quantize batch-report` merges them; the
           merged report must equal run 1's (except times and memory) and cover each job once.
4. bad:    a manifest with a truncated file, a missing file and an unsupported architecture
           beside a good model: the good jobs finish, each bad job has a one-line error naming
           its file, and the exit status is non-zero.

Usage: scripts/check_batch.py [--models DIR] [--work DIR] [--quick] [--json OUT]
  --quick: SmolLM2 only (int8, int4 keep, int4 compressed-tensors), small calibration; for CI.
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_FIELDS = {"seconds", "calibration_seconds", "calibration_cached", "quantization_seconds", "peak_rss_bytes",
              "peak_anon_bytes", "estimate_bytes"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def manifest(path, out_dir, models, recipes, calib, eval_text, calib_chunks, eval_chunks, allocation=None):
    lines = [f'out_dir = "{out_dir}"', f'calib = "{calib}"']
    if eval_text:
        lines += [f'eval = "{eval_text}"', f"eval_chunks = {eval_chunks}"]
    lines.append(f"calib_chunks = {calib_chunks}")
    for m in models:
        lines += ["[[models]]", f'path = "{m}"']
    for name, ty, outliers, fmt in recipes:
        lines += ["[[recipes]]", f'name = "{name}"', f'type = "{ty}"', f'outliers = "{outliers}"', f'format = "{fmt}"']
        if allocation:
            lines.append(f'allocation = "{allocation}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def batch(exe, args, check=None):
    t0 = time.time()
    p = subprocess.run([exe, "batch", *args], capture_output=True, text=True)
    if check is not None and (p.returncode == 0) != check:
        sys.exit(f"quantize batch {' '.join(args)}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p, time.time() - t0


def outputs(out_dir):
    """sha256 of every file under out_dir except the batch's own folders."""
    h = {}
    for p in sorted(Path(out_dir).rglob("*")):
        rel = p.relative_to(out_dir)
        if p.is_file() and rel.parts[0] not in (".sinkquant-batch",) and not rel.parts[0].startswith("report"):
            h[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return h


def outcomes(report_dir):
    r = json.loads((Path(report_dir) / "report.json").read_text())
    return [{k: v for k, v in j.items() if k not in RUN_FIELDS} for j in r["jobs"]]


def jobs_of(batch_pid):
    """Processes started by the batch `batch_pid` (their environment names it)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                env = (d / "environ").read_bytes()
            except OSError:
                continue
            if f"SINKQUANT_BATCH_PARENT={batch_pid}".encode() in env.split(b"\0"):
                found.append(int(d.name))
    return found


def counts(stdout):
    """(to run, finished earlier) from the batch's first line."""
    head = stdout.splitlines()[0]
    to_run = int(head.split(" to run")[0].rsplit(" ", 1)[1])
    earlier = int(head.split(" finished earlier")[0].rsplit(" ", 1)[1])
    return to_run, earlier


def finished(out_dir):
    done = Path(out_dir) / ".sinkquant-batch/done"
    return sorted(str(p.relative_to(done)) for p in done.rglob("*.json")) if done.exists() else []


def kill_after(exe, args, out_dir, records, extra, strict):
    """Starts the batch, kills it with SIGKILL `extra` seconds after `records` jobs are finished;
    returns its first line, the jobs running at the kill and those still alive after it."""
    p = subprocess.Popen([exe, "batch", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = p.stdout.readline()
    while len(finished(out_dir)) < records and p.poll() is None:
        time.sleep(0.2)
    time.sleep(extra)
    if p.poll() is not None:
        if strict:
            sys.exit("the batch ended before it could be killed; use a larger manifest")
        log("   (the batch ended before the kill: the machine is faster than this small manifest)")
        return first, [], []
    children = jobs_of(p.pid)
    p.send_signal(signal.SIGKILL)
    p.wait()
    time.sleep(1.5)
    return first, children, [c for c in children if alive(c)]


def alive(pid):
    try:
        return b"zombie" not in Path(f"/proc/{pid}/status").read_bytes().lower()
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=os.environ.get("SINKQUANT_MODELS", ROOT / "models"))
    ap.add_argument("--work", default="/tmp/sq-batch")
    ap.add_argument("--quantize", default=str(ROOT / "target/release/quantize"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--calib-chunks", type=int, default=8)
    ap.add_argument("--eval-chunks", type=int, default=4)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    models, work, exe = Path(a.models).resolve(), Path(a.work).resolve(), a.quantize
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    text = models / "text"
    if a.quick:
        names = ["smollm2-135m"]
        recipes = [("int8", "int8", "fold", "gguf"), ("int4-keep", "int4", "keep", "gguf"),
                   ("int4-ct", "int4", "fold", "safetensors")]
        calib_chunks, eval_chunks = 2, 2
        # The allocation fixed: measuring it (quantize's default) took 35 of a job's 57 s.
        allocation = "mixture"
    else:
        names = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"]
        recipes = [("int8", "int8", "fold", "gguf"), ("int4-keep", "int4", "keep", "gguf"),
                   ("int4-fold", "int4", "fold", "gguf")]
        calib_chunks, eval_chunks = a.calib_chunks, a.eval_chunks
        allocation = None
    hf = [models / "hf" / n for n in names]
    result = {"models": names, "recipes": [r[0] for r in recipes], "jobs": a.jobs}

    def zoo(name, out):
        return str(manifest(work / f"{name}.toml", out, hf, recipes, text / "c4.utf8", text / "wiki.utf8",
                            calib_chunks, eval_chunks, allocation))

    log(f"1. uninterrupted: {len(names)} models x {len(recipes)} recipes, --jobs {a.jobs}")
    m1 = zoo("whole", "whole")
    p, t_whole = batch(exe, ["--jobs", str(a.jobs), m1], check=True)
    print(p.stdout)
    reference = outputs(work / "whole")
    result["whole"] = {"seconds": round(t_whole, 1), "outputs": len(reference),
                       "report": json.loads((work / "whole/report/report.json").read_text())}
    print((work / "whole/report/report.md").read_text())

    log("2. SIGKILL twice, --resume")
    m2 = zoo("resume", "resume")
    kills = []
    n = len(names) * len(recipes)
    k1 = max(1, n // 4)
    for records, extra in ((k1, 5.0), (max(k1 + 1, n // 2), 2.0)):
        first, children, left = kill_after(exe, ["--jobs", str(a.jobs), "--resume", m2], work / "resume", records, extra,
                                           strict=not a.quick)
        done = finished(work / "resume")
        kills.append({"when": f"{extra:.0f} s after job {records} finished", "first_line": first.strip(),
                      "jobs_running": len(children), "jobs_left_running": len(left), "finished": done})
        log(f"   killed {extra:.0f} s after job {records} finished: {first.strip()}")
        log(f"   at the kill: {len(done)} finished, {len(children)} jobs running, {len(left)} still alive 1.5 s later")
        if left:
            sys.exit(f"jobs {left} survived their batch")
    p, _ = batch(exe, ["--jobs", str(a.jobs), "--resume", m2], check=True)
    to_run, earlier = counts(p.stdout)
    log(f"   resumed: {earlier} finished earlier, {to_run} redone")
    if earlier != len(kills[-1]["finished"]):
        sys.exit(f"resume skipped {earlier} jobs, but {len(kills[-1]['finished'])} had finished")
    resumed = outputs(work / "resume")
    if resumed != reference:
        diff = [k for k in set(resumed) | set(reference) if resumed.get(k) != reference.get(k)]
        sys.exit(f"outputs after kill + resume differ from the uninterrupted run: {diff}")
    if outcomes(work / "resume/report") != outcomes(work / "whole/report"):
        sys.exit("the resumed report differs from the uninterrupted run's")
    temps = [str(p) for p in (work / "resume").rglob(".*.tmp-*")]
    if temps:
        sys.exit(f"partial files left: {temps}")
    result["resume"] = {"kills": kills, "finished_earlier": earlier, "redone": to_run,
                        "identical_outputs": len(resumed)}
    log(f"   {len(resumed)} output files byte-identical to the uninterrupted run's")

    log("3. shards 0/2 and 1/2, merged")
    m3 = zoo("shards", "shards")
    shard_jobs = []
    for s in ("0/2", "1/2"):
        p, t = batch(exe, ["--jobs", str(a.jobs), "--shard", s, m3], check=True)
        shard_jobs.append([f"{j['model']}/{j['recipe']}" for j in
                           json.loads((work / f"shards/report-shard-{s[0]}-of-2/report.json").read_text())["jobs"]])
        log(f"   shard {s}: {len(shard_jobs[-1])} jobs in {t:.0f} s")
    merged = work / "merged"
    subprocess.run([exe, "batch-report", str(work / "shards/report-shard-0-of-2"), str(work / "shards/report-shard-1-of-2"),
                    "--out", str(merged)], check=True, capture_output=True)
    every = [f"{j['model']}/{j['recipe']}" for j in result["whole"]["report"]["jobs"]]
    if sorted(shard_jobs[0] + shard_jobs[1]) != sorted(every) or set(shard_jobs[0]) & set(shard_jobs[1]):
        sys.exit(f"shards do not cover each job exactly once: {shard_jobs}")
    if outcomes(merged) != outcomes(work / "whole/report"):
        sys.exit("the merged report differs from the unsharded run's")
    if outputs(work / "shards") != reference:
        sys.exit("the shards' outputs differ from the unsharded run's")
    result["shards"] = {"jobs": shard_jobs, "merged_equals_unsharded": True}
    log("   merged report equals the unsharded run's (times and memory aside); outputs identical")

    log("4. bad inputs")
    bad = work / "bad"
    bad.mkdir()
    shutil.copytree(hf[0], bad / "truncated")
    st = bad / "truncated/model.safetensors"
    os.truncate(st, st.stat().st_size // 3)
    shutil.copytree(hf[0], bad / "mamba")
    cfg = json.loads((bad / "mamba/config.json").read_text())
    cfg["architectures"], cfg["model_type"] = ["MambaForCausalLM"], "mamba"
    (bad / "mamba/config.json").write_text(json.dumps(cfg))
    m4 = manifest(work / "bad.toml", "bad-out", [hf[0], bad / "truncated", bad / "missing", bad / "mamba"],
                  [("int8", "int8", "fold", "gguf")], text / "c4.utf8", None, 2, 0, "mixture")
    p, _ = batch(exe, ["--jobs", str(a.jobs), str(m4)], check=False)
    if p.returncode == 0:
        sys.exit("a manifest with bad models exited 0")
    failed = [l for l in p.stdout.splitlines() if l.startswith("FAILED")]
    print("\n".join(failed))
    rep = json.loads((work / "bad-out/report/report.json").read_text())
    ok = [j["model"] for j in rep["jobs"] if j["ok"]]
    if ok != [names[0]] or len(failed) != 3:
        sys.exit(f"expected {names[0]} to succeed and 3 one-line failures, got ok={ok}, failed={failed}")
    for want in ("truncated", "missing", "mamba"):
        if not any(want in l for l in failed):
            sys.exit(f"no failure line names {want}")
    left = [str(p.relative_to(work / "bad-out")) for p in (work / "bad-out").iterdir()
            if p.name not in (".sinkquant-batch", "report", names[0])]
    if left:
        sys.exit(f"bad jobs left files where outputs belong: {left}")
    result["bad"] = {"exit": p.returncode, "errors": failed, "ok": ok, "stderr": p.stderr.strip()}
    log(f"   exit {p.returncode}; {p.stderr.strip()}")

    sizes = {n: sum(f.stat().st_size for f in (models / "hf" / n).iterdir() if f.is_file()) for n in names}
    result["source_bytes"] = sizes
    log("memory: batch peak (sum of running jobs) "
        f"{result['whole']['report']['peak_rss_bytes'] / 2**20:.0f} MiB; sources "
        + ", ".join(f"{n} {b / 2**20:.0f} MiB" for n, b in sizes.items()))
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
    log("all batch checks passed")


if __name__ == "__main__":
    main()
