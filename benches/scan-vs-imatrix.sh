#!/usr/bin/env bash
# Calibration throughput: `quantize scan --imatrix` against `llama-imatrix` on the same model
# weights, calibration text, chunks and threads; tokens/s and a ratio (>1: sinkquant is faster),
# one line per input and thread count, plus a markdown table in $OUT (default
# target/scan-vs-imatrix.md). Inputs per model: the F16 GGUF that llama-quantize makes from the
# shipped GGUF and the BF16 one it makes from that (made if missing, in models/derived) and the BF16 Hugging Face directory
# (llama-imatrix reads the BF16 GGUF of the same weights instead).
# Usage: benches/scan-vs-imatrix.sh [CHUNKS] [THREADS...]
#   env MODELS (default: smollm2-135m gemma3-270m qwen2.5-coder-0.5b). Needs
#   scripts/fetch-models.sh and scripts/setup-reference.sh.
default_chunks=8
source "$(dirname "$0")/llama-pair.sh"
out=${OUT:-target/scan-vs-imatrix.md}
calib=$M/text/c4.utf8
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$out")"
tokens=$((chunks * 512))
echo "| input | threads | llama-imatrix tok/s | quantize scan tok/s | ratio |" > "$out"
echo "|---|---|---|---|---|" >> "$out"
printf "%-44s %3s %14s %14s %7s\n" "input ($chunks x 512)" "thr" "imatrix tok/s" "scan tok/s" "ratio"
for m in ${MODELS:-smollm2-135m gemma3-270m qwen2.5-coder-0.5b}; do
  f16=$M/derived/$m-F16.gguf
  [ -f "$f16" ] || "$L/llama-quantize" --allow-requantize "$M/gguf/$m.gguf" "$f16" F16 2 >/dev/null 2>&1
  [ -f "$M/derived/$m-BF16.gguf" ] || "$L/llama-quantize" "$f16" "$M/derived/$m-BF16.gguf" BF16 2 >/dev/null 2>&1
  for input in "$M/derived/$m-F16.gguf" "$M/derived/$m-BF16.gguf" "$M/hf/$m"; do
    ref=$input
    [ -d "$input" ] && ref=$M/derived/$m-BF16.gguf
    for th in "${threads[@]}"; do
      s=$(date +%s.%N)
      "$L/llama-imatrix" -m "$ref" -f "$calib" -c 512 --chunks "$chunks" -t "$th" -o "$work/ll.gguf" >/dev/null 2>&1
      e=$(date +%s.%N)
      target/release/quantize scan "$input" --calib "$calib" --calib-chunks "$chunks" --seed 0 --threads "$th" \
        --imatrix "$work/sq.gguf" >/dev/null 2>&1
      e2=$(date +%s.%N)
      name=$(basename "$input")
      [ -d "$input" ] && name="$m (hf, bf16)"
      python3 - "$name" "$th" "$s" "$e" "$e2" "$tokens" "$out" <<'PY'
import sys
f, th, s, e, e2, n, out = sys.argv[1:]
lt, st = float(e) - float(s), float(e2) - float(e)
print(f"{f:<44} {th:>3} {int(n)/lt:14.1f} {int(n)/st:14.1f} {lt/st:7.2f}")
with open(out, "a") as o:
    o.write(f"| {f} | {th} | {int(n)/lt:.1f} | {int(n)/st:.1f} | {lt/st:.2f} |\n")
PY
    done
  done
done
echo "table: $out"
