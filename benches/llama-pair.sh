# Sourced by the benches that time sinkquant against a llama.cpp tool on the same inputs:
# arguments [CHUNKS] [THREADS...] (CHUNKS defaults to $default_chunks, threads to 1 2), the
# llama.cpp binaries ($LLAMA_BIN), the models folder ($SINKQUANT_MODELS), a fresh build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
chunks=${1:-$default_chunks}
shift || true
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
L=${LLAMA_BIN:-$HOME/.cache/llama-cpp-ref/bin}
export LD_LIBRARY_PATH=$L
M=${SINKQUANT_MODELS:-models}
cargo build --release --quiet --bin quantize
mkdir -p "$M/derived"
