//! Tokenizers: the vocabulary a GGUF carries, rebuilt as Hugging Face tokenizer files.

pub mod hf_json;
pub mod vocab;

pub use vocab::GgufVocab;
