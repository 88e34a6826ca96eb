//! The Hugging Face model directory that transformers and vLLM load: `model.safetensors`,
//! `config.json`, `generation_config.json` and the tokenizer files (`tokenizer.json`,
//! `tokenizer_config.json`, `special_tokens_map.json`, `chat_template.jinja`), written into an
//! [`AtomicDir`](crate::io::atomic::AtomicDir). GGUF export (`crate::export`) and the
//! compressed-tensors output (`crate::pipeline`) both write through it.

pub mod config;
pub mod dtype;
pub mod tokenizer;

pub use config::{safetensors_metadata, write_config, write_generation_config};
pub use dtype::WeightDtype;
pub use tokenizer::{copy_tokenizer_files, write_rebuilt_tokenizer};

/// The weights.
pub const WEIGHTS: &str = "model.safetensors";
pub const CONFIG: &str = "config.json";
pub const GENERATION_CONFIG: &str = "generation_config.json";
pub const TOKENIZER: &str = "tokenizer.json";
pub const TOKENIZER_CONFIG: &str = "tokenizer_config.json";
pub const SPECIAL_TOKENS_MAP: &str = "special_tokens_map.json";
pub const CHAT_TEMPLATE: &str = "chat_template.jinja";
