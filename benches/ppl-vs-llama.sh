#!/usr/bin/env bash
# Throughput of `quantize ppl` against `llama-perplexity` on the same GGUF, text, context,
# chunks and threads, printed as tokens/s and a ratio (>1: sinkquant is faster).
# Usage: benches/ppl-vs-llama.sh [CHUNKS] [THREADS] [GGUF...]
#   default GGUFs: SmolLM2's F16 and Q8_0 and Q4_K_M made by llama-quantize (made if missing),
#   and the three shipped GGUFs. Needs scripts/fetch-models.sh and scripts/setup-reference.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
chunks=${1:-8}
threads=${2:-2}
shift $(( $# > 2 ? 2 : $# )) || true
L=${LLAMA_BIN:-$HOME/.cache/llama-cpp-ref/bin}
export LD_LIBRARY_PATH=$L
text=models/text/wiki.utf8
cargo build --release --quiet --bin quantize
mkdir -p models/derived
if [ ! -f models/derived/smollm2-135m-f16.gguf ]; then
  "$L/llama-quantize" --allow-requantize models/gguf/smollm2-135m.gguf models/derived/smollm2-135m-f16.gguf F16 "$threads" >/dev/null 2>&1
fi
for t in Q8_0 Q4_K_M; do
  [ -f "models/derived/smollm2-135m-$t.gguf" ] || "$L/llama-quantize" models/derived/smollm2-135m-f16.gguf "models/derived/smollm2-135m-$t.gguf" "$t" "$threads" >/dev/null 2>&1
done
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(models/derived/smollm2-135m-f16.gguf models/derived/smollm2-135m-Q8_0.gguf models/derived/smollm2-135m-Q4_K_M.gguf models/gguf/smollm2-135m.gguf models/gguf/gemma3-270m.gguf models/gguf/qwen2.5-coder-0.5b.gguf)
tokens=$((chunks * 512))
printf "%-42s %12s %12s %8s %10s %10s\n" "GGUF ($chunks x 512, $threads threads)" "llama tok/s" "sq tok/s" "ratio" "llama PPL" "sq PPL"
for f in "${files[@]}"; do
  s=$(date +%s.%N)
  lp=$("$L/llama-perplexity" -m "$f" -f "$text" -c 512 --chunks "$chunks" -t "$threads" 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
  e=$(date +%s.%N)
  sp=$(target/release/quantize ppl "$f" --text "$text" --chunks "$chunks" --threads "$threads" 2>/dev/null | sed -n 's/^PPL = \([0-9.]*\).*/\1/p')
  e2=$(date +%s.%N)
  python3 - "$f" "$s" "$e" "$e2" "$tokens" "$lp" "$sp" <<'PY'
import sys
f, s, e, e2, n, lp, sp = sys.argv[1:]
lt, st = float(e) - float(s), float(e2) - float(e)
print(f"{f:<42} {int(n)/lt:12.1f} {int(n)/st:12.1f} {lt/st:8.2f} {lp:>10} {sp:>10}")
PY
done
