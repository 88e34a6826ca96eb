//! sinkquant: quantize transformer language models to INT8/INT4 without being broken by their
//! massive-activation outlier channels.
//!
//! Layout: `io` reads and writes model files; `model` maps them to one description of the
//! architecture; `tokenizer` rebuilds Hugging Face tokenizers from GGUF vocabularies; `export`
//! turns a GGUF into a Hugging Face directory; `quant` holds the block formats.

pub mod calib;
pub mod error;
pub mod eval;
pub mod io;
pub mod quant;

pub use error::{Error, Result};
pub mod export;
pub mod forward;
pub mod model;
pub mod tokenizer;
