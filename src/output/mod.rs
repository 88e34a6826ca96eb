//! Writers of quantized models: GGUF for llama.cpp, compressed-tensors safetensors for vLLM.

pub mod compressed;
pub mod gguf;
pub mod gguf_meta;

/// What the caller is told as tensors are written (the library does not print).
pub enum Progress<'a> {
    Start { tensors: usize, bytes: u64 },
    Tensor { name: &'a str, bytes: u64 },
}
