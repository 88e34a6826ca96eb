//! Reading and writing model files: memory maps, GGUF, safetensors, atomic outputs.

pub mod atomic;
pub mod gguf;
pub mod mmap;
pub mod safetensors;
pub mod store;

pub use store::{StorageType, TensorEntry, TensorStore};
