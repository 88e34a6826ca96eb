#!/usr/bin/env python3
"""sinkquant's quantizer against llama.cpp's on one model: size, bits per weight, perplexity,
KL divergence and top-1 agreement with the F16 model, all measured by llama-perplexity.

Protocol
  F16 base      llama-quantize --allow-requantize models/gguf/<m>.gguf WORK/f16.gguf F16
  evaluation    llama-perplexity -c 512 --chunks N -t T of models/text/wiki.utf8: once on the F16
                with --kl-divergence-base WORK/base.kld (saves its logits), then on every candidate
                with --kl-divergence-base WORK/base.kld --kl-divergence
  calibration   models/text/c4.utf8 only (never the evaluation text), C chunks of 512 tokens:
                llama-imatrix -m f16.gguf -f c4.utf8 -c 512 --chunks C -t T -o WORK/imatrix.gguf
                (llama-imatrix takes the first C chunks; sinkquant gets --seed 0, which also takes
                the first chunks in order)
  llama.cpp     llama-quantize [--imatrix WORK/imatrix.gguf] f16.gguf OUT TYPE T, for each --llama
                type, with and without the imatrix
  sinkquant     quantize --calib c4.utf8 --calib-chunks C --calib-ctx 512 --seed 0 --type T
                --outliers P [--no-imatrix] --threads T --json J models/hf/<m> OUT, for each --sq
                entry T:P[:noimat][:gptq|:auto] (--method rtn unless :gptq or :auto; T:auto:auto is the
                default flags)
  bpw           file bytes * 8 / parameters, parameters = the sum of the element counts of the
                F16 GGUF's tensors (read from the GGUF header, the figure gguf-py's GGUFReader
                gives), the same for every row; each file's own count is also recorded
                (file_params) and a difference is reported

Outputs: docs/quality/<model>.json (every row) and docs/quality/<model>.md (table sorted by size,
with this command line at the top). The table holds the candidates named on this command line;
results already in WORK are reused, so candidates can be added by re-running with a longer list.

Re-use: every step (F16, base logits, imatrix, each candidate's GGUF and its evaluation) keeps a
sidecar WORK/<file>.step.json with the command and the size and mtime of its inputs; a step is
skipped when its output and sidecar exist and both still match (the thread count aside) (a change of --chunks, of
--calib-chunks or a regenerated input redoes what depends on it). --fresh redoes everything.

Usage:
  benches/quality_vs_llama.py [--model smollm2-135m] [--chunks 40] [--calib-chunks 32]
      [--threads 2] [--llama Q8_0,Q4_0,Q4_K_M,Q3_K_M] [--sq q8_0:none,q4_0:fold,...]
      [--work /tmp/sq-quality/<model>] [--fresh] [--out-dir docs/quality]
      [--models models] [--llama-bin ~/.cache/llama-cpp-ref/bin] [--quantize target/release/quantize]
  --llama '' or --sq '' runs none of that tool's candidates.
Progress goes to stderr. Exit status 1 if any candidate failed (the others are still written).
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"]
LLAMA_TYPES = "Q8_0,Q4_0,Q4_K_M,Q3_K_M"
SQ_DEFAULT = "q8_0:none,q4_0:fold,q4_0:keep,q4_0:none,q4_0:none:noimat"
POLICIES = ("auto", "keep", "fold", "both", "none")
MIB = 1024 * 1024


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class StepFailed(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Running commands, with re-use of finished steps

def run(cmd, log_path, env=None, timed=False):
    """Runs cmd with stdout+stderr to log_path. Returns (output text, seconds, peak RSS bytes or
    None). Raises StepFailed with the log's tail on a non-zero exit."""
    cmd = [str(c) for c in cmd]
    rss_file = Path(str(log_path) + ".time")
    full = cmd
    if timed and Path("/usr/bin/time").exists():
        full = ["/usr/bin/time", "-v", "-o", str(rss_file)] + cmd
    t0 = time.monotonic()
    with open(log_path, "w") as out:
        out.write("$ " + shlex.join(cmd) + "\n")
        out.flush()
        p = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    secs = time.monotonic() - t0
    text = Path(log_path).read_text(errors="replace")
    if p.returncode != 0:
        tail = "\n".join(text.splitlines()[-15:])
        raise StepFailed(f"{shlex.join(cmd)} exited with {p.returncode} (log {log_path}):\n{tail}")
    rss = None
    if timed:
        if rss_file.exists():
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", rss_file.read_text())
            rss = int(m.group(1)) * 1024 if m else None
        else:  # no /usr/bin/time: the child's own rusage (Linux: ru_maxrss in KiB)
            rss = ru.ru_maxrss * 1024
    return text, secs, rss


def fingerprint(paths):
    fp = {}
    for p in paths:
        st = Path(p).stat()
        fp[str(p)] = [st.st_size, st.st_mtime_ns]
    return fp


def identity(cmd):
    """The part of a command that decides its output: without the thread count (-t N, --threads N,
    llama-quantize's trailing nthreads), so another --threads re-uses finished steps."""
    cmd, out, skip = [str(c) for c in cmd], [], False
    for c in cmd:
        if skip:
            skip = False
        elif c in ("-t", "--threads"):
            skip = True
        else:
            out.append(c)
    if Path(cmd[0]).name == "llama-quantize" and out[-1].isdigit():
        out.pop()
    return out


class Steps:
    """A step makes `output` from `inputs` with `cmd`; its sidecar remembers both (the command
    without its thread count, see identity())."""

    def __init__(self, fresh):
        self.fresh = fresh

    @staticmethod
    def sidecar(output):
        return Path(str(output) + ".step.json")

    def done(self, output, cmd, inputs):
        sc = self.sidecar(output)
        if self.fresh or not Path(output).exists() or not sc.exists():
            return None
        try:
            s = json.loads(sc.read_text())
        except ValueError:
            return None
        if s.get("identity") != identity(cmd) or s.get("inputs") != fingerprint(inputs):
            return None
        return s

    def record(self, output, cmd, inputs, **extra):
        s = dict(cmd=[str(c) for c in cmd], identity=identity(cmd), inputs=fingerprint(inputs), **extra)
        self.sidecar(output).write_text(json.dumps(s, indent=1))
        return s

    def invalidate(self, output):
        for p in (Path(output), self.sidecar(output)):
            if p.exists():
                p.unlink()


# ---------------------------------------------------------------------------------------------
# llama-perplexity output

NUM = r"([-+0-9.eE]+|nan|inf)"
PM = r"\s*(?:±|\+/-)\s*"


def parse_final_ppl(text):
    """`Final estimate: PPL = 11.5081 +/- 1.46284` (plain run / --kl-divergence-base run)."""
    m = re.search(r"Final estimate: PPL = " + NUM + PM + NUM, text)
    if not m:
        raise StepFailed("no 'Final estimate: PPL = X +/- Y' line in llama-perplexity's output")
    return float(m.group(1)), float(m.group(2))


def parse_kld(text):
    """The statistics llama-perplexity --kl-divergence prints at the end:
         Mean PPL(Q)                   :  11.490976 ±   1.454928
         Mean ln(PPL(Q)/PPL(base))     :  -0.001485 ±   0.004131
         Mean    KLD:   0.003775 ±   0.000336
         99.0%   KLD:   0.017437
         Median  KLD:   0.002546
         RMS Δp    :  1.808 ± 0.387 %
         Same top p: 96.863 ± 0.773 %
    """
    def get(pattern, with_err=True, required=True):
        m = re.search(pattern + r"\s*" + NUM + ((PM + NUM) if with_err else ""), text)
        if not m:
            if required:
                raise StepFailed(f"no /{pattern}/ in llama-perplexity's output")
            return (None, None) if with_err else None
        return (float(m.group(1)), float(m.group(2))) if with_err else float(m.group(1))

    r = {}
    r["ppl"], r["ppl_err"] = get(r"Mean PPL\(Q\)\s*:")
    r["ppl_base"], _ = get(r"Mean PPL\(base\)\s*:", required=False)
    r["ln_ppl_ratio"], r["ln_ppl_ratio_err"] = get(r"Mean ln\(PPL\(Q\)/PPL\(base\)\)\s*:", required=False)
    r["kld"], r["kld_err"] = get(r"Mean\s+KLD:")
    r["kld_median"] = get(r"Median\s+KLD:", with_err=False, required=False)
    r["kld_p99"] = get(r"99\.0%\s+KLD:", with_err=False, required=False)
    r["rms_dp"], r["rms_dp_err"] = get(r"RMS Δp\s*:", required=False)
    r["top1"], r["top1_err"] = get(r"Same top p:")
    return r


# ---------------------------------------------------------------------------------------------
# Parameters of a GGUF: the sum of its tensors' element counts, read from the header (the same
# figure as gguf-py's sum(t.n_elements for t in GGUFReader(f).tensors), without its dependency)

_params_cache = {}
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF value type -> bytes


def gguf_params(path):
    key = (str(path), Path(path).stat().st_mtime_ns)
    if key in _params_cache:
        return _params_cache[key]
    import mmap
    import struct
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if m[:4] != b"GGUF":
            raise StepFailed(f"{path}: not a GGUF file")
        version, n_tensors, n_kv = struct.unpack_from("<IQQ", m, 4)
        if version < 2:
            raise StepFailed(f"{path}: GGUF version {version} is not supported")
        pos = 24

        def u32():
            nonlocal pos
            pos += 4
            return struct.unpack_from("<I", m, pos - 4)[0]

        def u64():
            nonlocal pos
            pos += 8
            return struct.unpack_from("<Q", m, pos - 8)[0]

        def skip_value(t):
            nonlocal pos
            if t in _FIXED:
                pos += _FIXED[t]
            elif t == 8:  # string
                n = u64()
                pos += n
            elif t == 9:  # array: element type, count, elements
                et, n = u32(), u64()
                if et in _FIXED:
                    pos += n * _FIXED[et]
                else:
                    for _ in range(n):
                        skip_value(et)
            else:
                raise StepFailed(f"{path}: unknown GGUF value type {t}")

        for _ in range(n_kv):
            n = u64()  # key
            pos += n
            skip_value(u32())
        total = 0
        for _ in range(n_tensors):
            n = u64()  # name
            pos += n
            n = 1
            for _ in range(u32()):
                n *= u64()
            pos += 4 + 8  # ggml type, data offset
            total += n
    _params_cache[key] = total
    return total


# ---------------------------------------------------------------------------------------------
# Setup shared with benches/quantize_speed.py

class Ctx:
    def __init__(self, a):
        self.a = a
        self.model = a.model
        self.L = a.llama_bin
        self.env = dict(os.environ, LD_LIBRARY_PATH=str(a.llama_bin))
        self.src = (a.models / "gguf" / f"{a.model}.gguf").resolve()
        self.hf = (a.models / "hf" / a.model).resolve()
        self.wiki = (a.models / "text" / "wiki.utf8").resolve()
        self.c4 = (a.models / "text" / "c4.utf8").resolve()
        self.work = a.work.resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.f16 = self.work / "f16.gguf"
        self.steps = Steps(getattr(a, "fresh", False))
        for p in (self.src, self.wiki, self.c4):
            if not p.exists():
                sys.exit(f"quality_vs_llama: {p}: missing (run scripts/fetch-models.sh)")
        for tool in ("llama-quantize", "llama-perplexity", "llama-imatrix"):
            if not (self.L / tool).exists():
                sys.exit(f"quality_vs_llama: {self.L / tool}: missing (run scripts/setup-reference.sh)")

    def bin(self, name):
        return self.L / name

    def ensure_f16(self):
        cmd = [self.bin("llama-quantize"), "--allow-requantize", self.src, self.f16, "F16", self.a.threads]
        if self.steps.done(self.f16, cmd, [self.src]):
            return
        log(f"F16: {self.src.name} -> {self.f16}")
        self.steps.invalidate(self.f16)
        _, secs, _ = run(cmd, self.work / "f16.log", self.env)
        self.steps.record(self.f16, cmd, [self.src], seconds=secs)

    def imatrix_cmd(self, out, chunks):
        return [self.bin("llama-imatrix"), "-m", self.f16, "-f", self.c4, "-c", self.a.ctx,
                "--chunks", chunks, "-t", self.a.threads, "-o", out]

    def sq_available(self):
        q = self.a.quantize
        if not q.exists():
            return f"{q} does not exist"
        p = subprocess.run([str(q), "--help"], capture_output=True, text=True)
        if "--outliers" not in p.stdout:
            return f"{q} has no quantize command yet (no --outliers in its --help)"
        return None

    def sq_cmd(self, ty, policy, imatrix, out, js, calib_chunks, method="rtn", effort=None):
        """sinkquant's command; with `effort`, that level's own policy and method (no --outliers, --method)."""
        cmd = [self.a.quantize, "--calib", self.c4, "--calib-chunks", calib_chunks, "--calib-ctx", self.a.ctx,
               "--seed", 0, "--type", ty]
        cmd += ["--effort", effort] if effort else ["--outliers", policy, "--method", method]
        if not imatrix:
            cmd.append("--no-imatrix")
        return cmd + ["--threads", self.a.threads, "--json", js, self.hf, out]


def common_args(ap):
    ap.add_argument("--model", default="smollm2-135m", choices=MODELS)
    ap.add_argument("--calib-chunks", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--work", type=Path, help="work directory (default /tmp/sq-quality/<model>)")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "quality")
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--llama-bin", type=Path, default=Path.home() / ".cache" / "llama-cpp-ref" / "bin")
    ap.add_argument("--quantize", type=Path, default=ROOT / "target" / "release" / "quantize")


def command_line():
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join([str(script)] + sys.argv[1:])


# ---------------------------------------------------------------------------------------------
# Candidates

def parse_sq(spec):
    out = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        parts = item.split(":")
        flags = parts[2:]
        if len(parts) < 2 or parts[1] not in POLICIES or any(f not in ("noimat", "gptq", "auto") for f in flags):
            sys.exit(f"quality_vs_llama: --sq entry '{item}': expected TYPE:{'|'.join(POLICIES)}[:noimat][:gptq|:auto]")
        method = "gptq" if "gptq" in flags else "auto" if "auto" in flags else "rtn"
        out.append((parts[0].lower(), parts[1], "noimat" not in flags, method))
    return out


def candidates(a):
    c = []
    for t in filter(None, (s.strip() for s in a.llama.split(","))):
        for im in (False, True):
            stem = f"llama-{t}" + ("-imat" if im else "")
            c.append(dict(name=f"llama.cpp {t}" + (" + imatrix" if im else ""), tool="llama.cpp", type=t,
                          outliers=None, imatrix=im, stem=stem))
    for t, p, im, method in parse_sq(a.sq):
        m = "" if method == "rtn" else f"-{method}"
        stem = f"sq-{t}-{p}" + ("" if im else "-noimat") + m
        c.append(dict(name=f"sinkquant {t} {p}" + ("" if im else " no-imatrix") + m.replace("-", " "),
                      tool="sinkquant", type=t, outliers=p, imatrix=im, method=method, stem=stem))
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    common_args(ap)
    ap.add_argument("--chunks", type=int, default=40, help="evaluation chunks of wiki.utf8")
    ap.add_argument("--llama", default=LLAMA_TYPES, help="llama-quantize types, comma-separated")
    ap.add_argument("--sq", default=SQ_DEFAULT, help="sinkquant TYPE:auto|keep|fold|both|none[:noimat][:gptq|:auto], comma-separated")
    ap.add_argument("--fresh", action="store_true", help="redo every step, ignoring finished ones in --work")
    a = ap.parse_args()
    a.work = a.work or Path("/tmp/sq-quality") / a.model
    cands = candidates(a)
    cx = Ctx(a)
    W, st = cx.work, cx.steps
    t_start = time.monotonic()
    log(f"{a.model}: {len(cands)} candidates, {a.chunks} x {a.ctx} tokens of wiki.utf8, "
        f"calibration {a.calib_chunks} x {a.ctx} of c4.utf8, {a.threads} threads, work {W}")

    # 1. F16 and its logits.
    cx.ensure_f16()
    n_params = gguf_params(cx.f16)
    base_kld = W / "base.kld"
    base_cmd = [cx.bin("llama-perplexity"), "-m", cx.f16, "-f", cx.wiki, "-c", a.ctx, "--chunks", a.chunks,
                "-t", a.threads, "--kl-divergence-base", base_kld]
    s = st.done(base_kld, base_cmd, [cx.f16, cx.wiki])
    if s is None:
        log(f"F16: perplexity and logits ({a.chunks} chunks)")
        st.invalidate(base_kld)
        text, secs, _ = run(base_cmd, W / "base.log", cx.env)
        ppl, err = parse_final_ppl(text)
        s = st.record(base_kld, base_cmd, [cx.f16, cx.wiki], ppl=ppl, ppl_err=err, seconds=secs)
        log(f"F16: PPL {ppl:.4f} +/- {err:.4f} ({secs:.0f} s)")
    else:
        log(f"F16: PPL {s['ppl']:.4f} (done before)")
    f16_bytes = cx.f16.stat().st_size
    rows = [dict(name="F16 (base)", tool="llama.cpp", type="F16", outliers=None, imatrix=False,
                 file=str(cx.f16), bytes=f16_bytes, file_params=n_params, bpw=f16_bytes * 8 / n_params,
                 ppl=s["ppl"], ppl_err=s["ppl_err"], kld=0.0, kld_err=0.0, top1=100.0, top1_err=0.0)]

    # 2. llama.cpp's imatrix, if a llama.cpp candidate uses it.
    imatrix = W / "imatrix.gguf"
    im_cmd = cx.imatrix_cmd(imatrix, a.calib_chunks)
    if any(c["tool"] == "llama.cpp" and c["imatrix"] for c in cands):
        s = st.done(imatrix, im_cmd, [cx.f16, cx.c4])
        if s is None:
            log(f"llama-imatrix: {a.calib_chunks} chunks of c4.utf8")
            st.invalidate(imatrix)
            _, secs, _ = run(im_cmd, W / "imatrix.log", cx.env)
            st.record(imatrix, im_cmd, [cx.f16, cx.c4], seconds=secs)
            log(f"llama-imatrix: done ({secs:.0f} s)")

    sq_missing = cx.sq_available() if any(c["tool"] == "sinkquant" for c in cands) else None
    if sq_missing:
        log(f"sinkquant candidates skipped: {sq_missing}")

    # 3. Candidates: make the GGUF, then evaluate it against the base logits.
    failures = []
    for i, c in enumerate(cands, 1):
        tag = f"[{i}/{len(cands)}] {c['name']}"
        gguf = W / f"{c['stem']}.gguf"
        try:
            if c["tool"] == "llama.cpp":
                cmd = [cx.bin("llama-quantize")] + (["--imatrix", imatrix] if c["imatrix"] else []) + \
                      [cx.f16, gguf, c["type"], a.threads]
                inputs = [cx.f16] + ([imatrix] if c["imatrix"] else [])
            else:
                if sq_missing:
                    raise StepFailed(f"skipped: {sq_missing}")
                sq_json = W / f"{c['stem']}.json"
                cmd = cx.sq_cmd(c["type"], c["outliers"], c["imatrix"], gguf, sq_json, a.calib_chunks, c["method"])
                inputs = [cx.hf / "model.safetensors", cx.c4]
            made = st.done(gguf, cmd, inputs)
            if made is None:
                log(f"{tag}: quantizing")
                st.invalidate(gguf)
                _, secs, rss = run(cmd, W / f"{c['stem']}.quantize.log", cx.env, timed=True)
                extra = {}
                if c["tool"] == "sinkquant":
                    j = json.loads(sq_json.read_text())
                    extra = {k: j.get(k) for k in ("calibration_seconds", "quantization_seconds", "output_bytes", "bpw")}
                made = st.record(gguf, cmd, inputs, seconds=secs, peak_rss=rss, **extra)
                log(f"{tag}: {gguf.stat().st_size / MIB:.1f} MiB ({secs:.0f} s)")
            else:
                log(f"{tag}: GGUF done before")
            res = W / f"{c['stem']}.result.json"
            ev_cmd = [cx.bin("llama-perplexity"), "-m", gguf, "-c", a.ctx, "--chunks", a.chunks, "-t", a.threads,
                      "--kl-divergence-base", base_kld, "--kl-divergence"]
            ev = st.done(res, ev_cmd, [gguf, base_kld])
            if ev is None:
                log(f"{tag}: evaluating ({a.chunks} chunks)")
                st.invalidate(res)
                text, secs, _ = run(ev_cmd, W / f"{c['stem']}.ppl.log", cx.env)
                r = parse_kld(text)
                res.write_text(json.dumps(r, indent=1))
                ev = st.record(res, ev_cmd, [gguf, base_kld], seconds=secs)
            r = json.loads(res.read_text())
            b = gguf.stat().st_size
            fp = gguf_params(gguf)
            if fp != n_params:
                log(f"{tag}: note: {fp} parameters in the file, {n_params} in the F16 (bpw uses the F16's)")
            row = dict(name=c["name"], tool=c["tool"], type=c["type"], outliers=c["outliers"], imatrix=c["imatrix"],
                       method=c.get("method"),
                       file=str(gguf), bytes=b, file_params=fp, bpw=b * 8 / n_params, **r,
                       quantize_seconds=made.get("seconds"), quantize_peak_rss=made.get("peak_rss"))
            if c["tool"] == "sinkquant":
                row.update(calibration_seconds=made.get("calibration_seconds"),
                           quantization_seconds=made.get("quantization_seconds"), sq_bpw=made.get("bpw"))
            rows.append(row)
            log(f"{tag}: PPL {r['ppl']:.4f}, KLD {r['kld']:.5f} +/- {r['kld_err']:.5f}, top-1 {r['top1']:.2f}%")
        except StepFailed as e:
            failures.append(dict(name=c["name"], error=str(e)))
            log(f"{tag}: FAILED: {e}")

    # 4. Outputs.
    rows.sort(key=lambda r: (r["bytes"], r["name"]))
    a.out_dir.mkdir(parents=True, exist_ok=True)
    cmdline = command_line()
    doc = dict(command=cmdline, date=time.strftime("%Y-%m-%d %H:%M"), model=a.model, source=str(cx.src),
               eval=dict(text="models/text/wiki.utf8", ctx=a.ctx, chunks=a.chunks, threads=a.threads,
                         base="F16 from llama-quantize --allow-requantize"),
               calibration=dict(text="models/text/c4.utf8", ctx=a.ctx, chunks=a.calib_chunks),
               n_params=n_params, n_params_source="sum of the element counts of the F16 GGUF's tensors (read from its header)",
               top1_unit="percent", rows=rows, failures=failures)
    js = a.out_dir / f"{a.model}.json"
    js.write_text(json.dumps(doc, indent=1) + "\n")
    md = [f"# {a.model}: sinkquant vs llama.cpp quantization", "", "```sh", cmdline, "```", "",
          f"{doc['date']}. Evaluation: `llama-perplexity -c {a.ctx} --chunks {a.chunks} -t {a.threads}` on "
          f"models/text/wiki.utf8, KL divergence and top-1 agreement against the F16 GGUF's logits. "
          f"Calibration: {a.calib_chunks} chunks of {a.ctx} tokens of models/text/c4.utf8 (llama-imatrix; "
          f"sinkquant with --seed 0). bpw: file bytes x 8 / {n_params:,} parameters (the F16's tensors). "
          f"Errors are llama-perplexity's +/-; every row is in {a.model}.json.", "",
          "| candidate | size MiB | bpw | PPL | KLD | top-1 % |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        kld = "0" if r["kld"] == 0 else f"{r['kld']:.5f} ± {r['kld_err']:.5f}"
        top = "100" if r["top1"] == 100.0 else f"{r['top1']:.2f} ± {r['top1_err']:.2f}"
        md.append(f"| {r['name']} | {r['bytes'] / MIB:.1f} | {r['bpw']:.2f} | {r['ppl']:.4f} | {kld} | {top} |")
    if failures:
        md += ["", "Failed or skipped: " + ", ".join(f["name"] for f in failures) + "."]
    (a.out_dir / f"{a.model}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md[md.index("| candidate | size MiB | bpw | PPL | KLD | top-1 % |"):]))
    log(f"wrote {js} and {a.out_dir / (a.model + '.md')} ({time.monotonic() - t_start:.0f} s)")
    if failures:
        log(f"{len(failures)} candidate(s) failed or skipped: " + ", ".join(f["name"] for f in failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
