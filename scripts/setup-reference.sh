#!/usr/bin/env bash
# Installs the independent reference clients sinkquant is checked against:
#   - Python: gguf (llama.cpp's gguf-py), torch + transformers (Hugging Face), numpy, safetensors,
#     compressed-tensors (the vLLM checkpoint format), sentencepiece and protobuf (tokenizer.model)
#   - llama.cpp's tools (llama-tokenize, llama-perplexity, llama-quantize, ...), built from the
#     source in the llama-cpp-python sdist by scripts/build-llama-cpp.sh (about 4 minutes once).
# Idempotent: installed packages and an existing build are kept. Prints the llama.cpp bin dir.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# sentencepiece and protobuf: llama.cpp's converter and transformers' tokenizer.model converter.
PY_PKGS=(gguf==0.19.0 transformers==5.23.0 torch==2.15.0 safetensors==0.8.0 numpy compressed-tensors==0.20.0
  sentencepiece==0.2.3 protobuf==7.36.2)
if ! python3 -c "import gguf, torch, transformers, safetensors, numpy, compressed_tensors, sentencepiece, google.protobuf" 2>/dev/null; then
  echo "setup-reference: pip install ${PY_PKGS[*]}" >&2
  python3 -m pip install -q --disable-pip-version-check "${PY_PKGS[@]}" >&2
fi
bash "$root/scripts/build-llama-cpp.sh" "${LLAMA_CPP_DIR:-$HOME/.cache/llama-cpp-ref}"
