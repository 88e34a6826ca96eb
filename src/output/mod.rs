//! Writers of quantized models: GGUF for llama.cpp, compressed-tensors safetensors for vLLM.
//! The file formats themselves are in `crate::io` (GGUF metadata keys in
//! `crate::io::gguf::llama_meta`, the compressed-tensors layout in `crate::io::compressed_tensors`,
//! the Hugging Face directory in `crate::io::hf_dir`); these are the quantizing stages.

pub mod compressed;
pub mod gguf;
