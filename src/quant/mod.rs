//! Quantization: block formats (one file per ggml type) and compressed-tensors' packed format.

pub mod compressed;
pub mod formats;
pub mod measure;
