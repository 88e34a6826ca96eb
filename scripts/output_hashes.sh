#!/usr/bin/env bash
# Quantizes the three real models with a fixed set of flags and prints the sha256 of every
# output file: run it with two builds of sinkquant to show that a change leaves outputs
# byte-identical (the refactoring check of issue 11).
# Usage: scripts/output_hashes.sh QUANTIZE_BINARY OUT_DIR   (models from $SINKQUANT_MODELS or models/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$1
out=$2
models=${SINKQUANT_MODELS:-$root/models}
mkdir -p "$out"
calib="$models/text/c4.utf8"
q() { "$bin" --calib "$calib" --calib-chunks 4 --threads 2 "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; }
for m in smollm2-135m gemma3-270m qwen2.5-coder-0.5b; do
  q --type q4_k_m --outliers fold "$models/hf/$m" "$out/$m-q4_k_m-fold.gguf"
  q --type q4_0 --outliers keep "$models/hf/$m" "$out/$m-q4_0-keep.gguf"
  q --type q8_0 "$models/hf/$m" "$out/$m-q8_0.gguf"
done
for m in smollm2-135m qwen2.5-coder-0.5b; do
  q --type int4 --force "$models/hf/$m" "$out/$m-int4"
  q --type int8 --force "$models/hf/$m" "$out/$m-int8"
done
cd "$out"
find . -type f | LC_ALL=C sort | xargs sha256sum
