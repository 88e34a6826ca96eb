//! Integration tests, compiled into one binary (ripgrep's layout).

mod fixtures;
mod util;

mod batch;
mod cli;
mod export;
mod forward;
mod gguf_hostile;
mod methods;
mod quantize;
mod real_models;
mod safetensors_hostile;
mod scan;
mod tokenizer_roundtrip;
