//! Quantization: block formats (one file per ggml type).

pub mod formats;
