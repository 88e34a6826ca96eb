//! sinkquant: quantize transformer language models to INT8/INT4 without being broken by their
//! massive-activation outlier channels.
//!
//! Layout: `io` reads and writes model files; `model` maps them to one description of the
//! architecture; `tokenizer` converts between GGUF vocabularies and Hugging Face tokenizers;
//! `export` turns a GGUF into a Hugging Face directory; `forward` runs the model; `eval`
//! measures it; `calib` finds its outliers; `quant` holds the block formats and quantizers;
//! `plan` chooses each tensor's type; `transform` holds exact equivalence transforms (folding);
//! `output` writes quantized models; `batch` converts
//! whole zoos from a manifest.

pub mod batch;
pub mod calib;
pub mod error;
pub mod eval;
pub mod export;
pub mod forward;
pub mod io;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod quant;
pub mod tokenizer;
pub mod transform;

pub use error::{Error, Result};
