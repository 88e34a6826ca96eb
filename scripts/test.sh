#!/usr/bin/env bash
# Runs every test of sinkquant on a fresh machine:
#   1. installs the reference clients (gguf-py, transformers, llama.cpp tools),
#   2. fetches the three real models and text samples and exports them (scripts/fetch-models.sh),
#   3. cross-checks against the independent clients:
#        scripts/check_dequant.py     every tensor of the 3 GGUFs vs gguf-py's dequantization
#        scripts/check_hf_export.py   transformers loads each export; its tokenizer matches
#                                     llama-tokenize; its perplexity matches llama-perplexity
#        scripts/check_eval.py        quantize ppl / compare vs llama-perplexity (PPL, KLD);
#                                     llama-quantize loads the imatrix of quantize scan
#        scripts/check_quantize.py    llama.cpp loads and runs sinkquant's Q8_0/Q4_0/Q4_K_M
#                                     GGUFs of the three models; same token ids as the source
#        scripts/check_compressed_tensors.py  the compressed-tensors package reads the int4
#                                     and int8 safetensors outputs; weights match ours
#        scripts/check_batch.py       quantize batch: resume after SIGKILL gives byte-identical
#                                     outputs, merged shards equal the whole run, bad inputs
#        scripts/make_tiny_models.py + scripts/check_arch.py   seven architectures (qwen3,
#                                     llama3, mistral, phi3, gemma2, gpt_neox, gpt2) as tiny
#                                     random models transformers saves: quantize ppl vs
#                                     transformers and llama-perplexity (llama.cpp's converter),
#                                     Q8_0/Q4_K_M KLD vs llama-quantize's, export round trip
#        scripts/check_arch_outputs.py  the same tiny models: scan finds nothing in random weights,
#                                     transformers loads the int8/int4 compressed-tensors outputs
#                                     (quantize ppl agrees), tokenizer.model-only copies, a batch
#        scripts/check_resave.py      SmolLM2 re-saved by transformers in f16/bf16, 3+ shards:
#                                     the same Q4_K_M tensors as from the export, the same PPL
#   4. checks the source layout (scripts/check_layout.py: file and function lengths, typed
#      errors, the CLI going through the pipeline, no import cycles),
#   5. runs the Rust tests (unit, hostile files, synthetic models, real models, the doc-tested
#      library example), optimised.
# Usage: scripts/test.sh [--quick]   (--quick: Rust tests only, still on the real models)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
export SINKQUANT_MODELS="${SINKQUANT_MODELS:-$root/models}"
# Each step's wall time, printed as it ends and as a table at the end (CI has a time limit).
timings=()
step_name=""; step_start=$SECONDS
end_step() {
  [ -n "$step_name" ] || return 0
  local took=$((SECONDS - step_start))
  timings+=("$(printf '%5ds  %s' "$took" "$step_name")")
  echo "<== ${took}s: $step_name"
}
step() { end_step; step_name="$*"; step_start=$SECONDS; echo; echo "==> $*"; }
report() { end_step; step_name=""; echo; echo "step times (total ${SECONDS}s):"; printf '%s\n' "${timings[@]}"; }
trap report EXIT

step "build"
cargo build --release --bin quantize
step "fetch real models and text ($SINKQUANT_MODELS)"
scripts/fetch-models.sh "$SINKQUANT_MODELS"
if [ "$quick" = 0 ]; then
  step "reference clients"
  llama_bin=$(scripts/setup-reference.sh | tail -n 1)
  step "dequantization vs gguf-py (all tensors of the three GGUFs)"
  python3 scripts/check_dequant.py --models "$SINKQUANT_MODELS"
  step "exports vs transformers and llama.cpp (tokenizer ids, perplexity 4 x 512)"
  python3 scripts/check_hf_export.py --models "$SINKQUANT_MODELS" --llama-bin "$llama_bin" --chunks 4 --f32-ref --tol 0.01 --json target/check_hf_export.json
  step "quantize ppl / compare / scan vs llama.cpp (PPL 4 x 512, KLD of Q8_0 and Q4_K_M 10 x 512, imatrix)"
  python3 scripts/check_eval.py --models "$SINKQUANT_MODELS" --llama-bin "$llama_bin" --chunks 4 --kld-chunks 10 --json target/check_eval.json
  step "quantized GGUFs in llama.cpp (5 model/type pairs covering 3 models and Q8_0, Q4_0, Q4_K_M, IQ4_XS; PPL 4 x 512, token ids)"
  python3 scripts/check_quantize.py --models "$SINKQUANT_MODELS" --llama-bin "$llama_bin" --json target/check_quantize.json
  step "compressed-tensors outputs (SmolLM2 int4 keep with GPTQ, Qwen2.5 int8 rtn) vs the compressed-tensors package"
  ct=target/ct-check; mkdir -p "$ct"
  target/release/quantize --calib "$SINKQUANT_MODELS/text/c4.utf8" --calib-chunks 4 --type int4 --outliers keep \
    "$SINKQUANT_MODELS/hf/smollm2-135m" "$ct/smollm2-int4" --force
  target/release/quantize --calib "$SINKQUANT_MODELS/text/c4.utf8" --calib-chunks 2 --method rtn --type int8 \
    "$SINKQUANT_MODELS/hf/qwen2.5-coder-0.5b" "$ct/qwen-int8" --force
  python3 scripts/check_compressed_tensors.py "$ct/smollm2-int4"
  python3 scripts/check_compressed_tensors.py "$ct/qwen-int8"
  step "seven architectures as tiny random models (transformers, llama.cpp's converter and tools)"
  python3 scripts/make_tiny_models.py "$SINKQUANT_MODELS/tiny" --tokenizer-dir "$SINKQUANT_MODELS/hf/smollm2-135m" --text "$SINKQUANT_MODELS/text/wiki.utf8"
  python3 scripts/check_arch.py "$SINKQUANT_MODELS/tiny" --quantize target/release/quantize --llama-bin "$llama_bin" --text "$SINKQUANT_MODELS/text/wiki.utf8" --calib "$SINKQUANT_MODELS/text/c4.utf8" --json target/check_arch.json
  step "the tiny models' other outputs: scan without false positives, compressed-tensors int8/int4 in transformers, tokenizer.model only, one batch over all"
  python3 scripts/check_arch_outputs.py "$SINKQUANT_MODELS/tiny" --quantize target/release/quantize --llama-bin "$llama_bin" --text "$SINKQUANT_MODELS/text/wiki.utf8" --calib "$SINKQUANT_MODELS/text/c4.utf8" --json target/check_arch_outputs.json
  step "real models re-saved by transformers (f16 and bf16, >= 3 shards): same Q4_K_M tensors, same PPL"
  python3 scripts/check_resave.py --models "$SINKQUANT_MODELS" --llama-bin "$llama_bin" --only smollm2-135m --json target/check_resave.json
  step "quantize batch on SmolLM2 (3 recipes, --jobs 2): SIGKILL twice + --resume, shards merged, bad inputs"
  python3 scripts/check_batch.py --quick --models "$SINKQUANT_MODELS" --work target/batch-check --json target/check_batch.json
fi
step "source layout"
python3 scripts/check_layout.py
step "Rust tests"
cargo test --release --lib --bins --tests
step "library example (doc test on SmolLM2)"
cargo test --release --doc
