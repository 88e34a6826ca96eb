//! Reading and writing model files, one folder per file format: GGUF ([`gguf`], with the
//! metadata llama.cpp needs), safetensors ([`safetensors`]), compressed-tensors
//! ([`compressed_tensors`]) and the Hugging Face directory ([`hf_dir`]); plus memory maps,
//! atomic outputs, the tensor store, fingerprints, PNG plots and the writers' [`Progress`].

pub mod atomic;
pub mod compressed_tensors;
pub mod fingerprint;
pub mod gguf;
pub mod hf_dir;
pub mod mmap;
pub mod png;
pub mod progress;
pub mod safetensors;
pub mod store;

pub use progress::Progress;
pub use store::{StorageType, TensorEntry, TensorStore};
