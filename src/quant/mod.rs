//! Quantization: block formats (one file per ggml type). compressed-tensors' packed format is in
//! `crate::io::compressed_tensors`.

pub mod formats;
pub mod measure;
