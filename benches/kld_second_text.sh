#!/usr/bin/env bash
# KLD of finished quality_vs_llama.py files on a second text: the F16's logits on TEXT as the
# base, then each file against them (llama-perplexity -c 512 --chunks CHUNKS).
# Usage: benches/kld_second_text.sh WORK TEXT CHUNKS STEM...   WORK: a quality_vs_llama.py work
#        directory (/tmp/sq-quality/<model>); STEM: a file there without .gguf
#        (sq-q4_0-auto-auto, llama-Q4_0-imat, ...). Prints "STEM KLD +/- ERR top-1 %".
set -euo pipefail
work=$1; text=$2; chunks=$3; shift 3
bin=${LLAMA_BIN:-$HOME/.cache/llama-cpp-ref/bin}
export LD_LIBRARY_PATH=$bin
base=$work/$(basename "$text").kld
"$bin/llama-perplexity" -m "$work/f16.gguf" -f "$text" -c 512 --chunks "$chunks" -t 2 \
  --kl-divergence-base "$base" > "$base.log" 2>&1
for stem in "$@"; do
  log=$work/$stem.$(basename "$text").log
  "$bin/llama-perplexity" -m "$work/$stem.gguf" -c 512 --chunks "$chunks" -t 2 \
    --kl-divergence-base "$base" --kl-divergence > "$log" 2>&1
  kld=$(grep -E 'Mean +KLD' "$log" | awk '{print $3, $4, $5}')
  top=$(grep -E 'Same top p' "$log" | awk '{print $4}')
  echo "$stem KLD $kld top-1 $top %"
done
