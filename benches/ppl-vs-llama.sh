#!/usr/bin/env bash
# Throughput of `quantize ppl` against `llama-perplexity` on the same GGUF, text, context,
# chunks and threads, printed as tokens/s and a ratio (>1: sinkquant is faster), one line per
# file and thread count, plus a markdown table in $OUT (default target/ppl-vs-llama.md).
# Usage: benches/ppl-vs-llama.sh [CHUNKS] [THREADS...]
#   env MODELS (default: smollm2-135m gemma3-270m qwen2.5-coder-0.5b), TYPES (default: F16
#   BF16 Q8_0 Q4_0 Q4_K_M Q6_K HF): the GGUFs are made by llama-quantize from an F16
#   requantization of each shipped GGUF (made if missing, in models/derived); HF is the BF16
#   Hugging Face directory, which llama-perplexity reads as the BF16 GGUF of the same weights. Needs scripts/fetch-models.sh and
#   scripts/setup-reference.sh.
default_chunks=4
source "$(dirname "$0")/llama-pair.sh"
out=${OUT:-target/ppl-vs-llama.md}
text=$M/text/wiki.utf8
mkdir -p "$(dirname "$out")"
tokens=$((chunks * 512))
echo "| GGUF | threads | llama-perplexity tok/s | quantize ppl tok/s | ratio | llama PPL | sinkquant PPL |" > "$out"
echo "|---|---|---|---|---|---|---|" >> "$out"
printf "%-44s %3s %12s %12s %7s %10s %10s\n" "GGUF ($chunks x 512)" "thr" "llama tok/s" "sq tok/s" "ratio" "llama PPL" "sq PPL"
for m in ${MODELS:-smollm2-135m gemma3-270m qwen2.5-coder-0.5b}; do
  f16=$M/derived/$m-F16.gguf
  [ -f "$f16" ] || "$L/llama-quantize" --allow-requantize "$M/gguf/$m.gguf" "$f16" F16 2 >/dev/null 2>&1
  for t in ${TYPES:-F16 BF16 Q8_0 Q4_0 Q4_K_M Q6_K HF}; do
    if [ "$t" = HF ]; then
      f=$M/derived/$m-BF16.gguf
      sq_in=$M/hf/$m
    else
      f=$M/derived/$m-$t.gguf
      sq_in=$f
    fi
    [ -f "$f" ] || "$L/llama-quantize" "$f16" "$f" "${t/HF/BF16}" 2 >/dev/null 2>&1
    for th in "${threads[@]}"; do
      s=$(date +%s.%N)
      lp=$("$L/llama-perplexity" -m "$f" -f "$text" -c 512 --chunks "$chunks" -t "$th" 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
      e=$(date +%s.%N)
      sp=$(target/release/quantize ppl "$sq_in" --text "$text" --chunks "$chunks" --threads "$th" 2>/dev/null | sed -n 's/^PPL = \([0-9.]*\).*/\1/p')
      e2=$(date +%s.%N)
      python3 - "$m-$t" "$th" "$s" "$e" "$e2" "$tokens" "$lp" "$sp" "$out" <<'PY'
import sys
f, th, s, e, e2, n, lp, sp, out = sys.argv[1:]
lt, st = float(e) - float(s), float(e2) - float(e)
print(f"{f:<44} {th:>3} {int(n)/lt:12.1f} {int(n)/st:12.1f} {lt/st:7.2f} {lp:>10} {sp:>10}")
with open(out, "a") as o:
    o.write(f"| {f} | {th} | {int(n)/lt:.1f} | {int(n)/st:.1f} | {lt/st:.2f} | {lp} | {sp} |\n")
PY
    done
  done
done
