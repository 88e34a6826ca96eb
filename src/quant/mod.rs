//! Quantization: block formats (one file per ggml type) and the methods that choose their codes
//! (`methods`). compressed-tensors' packed format is in
//! `crate::io::compressed_tensors`.

pub mod formats;
pub mod measure;
pub mod methods;
