//! Reading and writing model files: memory maps, GGUF, safetensors, atomic outputs, PNG plots.

pub mod atomic;
pub mod fingerprint;
pub mod gguf;
pub mod mmap;
pub mod png;
pub mod safetensors;
pub mod store;

pub use store::{StorageType, TensorEntry, TensorStore};
