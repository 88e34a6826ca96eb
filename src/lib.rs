//! sinkquant: quantize transformer language models to INT8/INT4 without being broken by their
//! massive-activation outlier channels.
//!
//! The entry point is [`pipeline`]: a [`pipeline::JobSpec`] says what to quantize, into which
//! class and format; [`pipeline::JobSpec::validate`] checks it once; [`pipeline::quantize`]
//! calibrates, plans each tensor's type, folds outlier scales into full-precision norms,
//! quantizes, writes the file and optionally evaluates it, reporting progress to an
//! [`pipeline::Observer`] and returning a serialisable [`pipeline::Summary`].
//!
//! ```
//! use sinkquant::pipeline::{self, JobSpec, Preset, Silent};
//! # let models = std::env::var("SINKQUANT_MODELS").unwrap_or_else(|_| "models".into());
//! # let input = std::path::Path::new(&models).join("hf/smollm2-135m");
//! # assert!(input.is_dir(), "{}: run scripts/fetch-models.sh first", input.display());
//! # let out = tempfile::tempdir().unwrap();
//! # let output = out.path().join("smollm2-q4_0.gguf");
//! // SmolLM2-135M (a Hugging Face directory) to a GGUF of llama.cpp's Q4_0 class, calibrated
//! // on 2 chunks of the built-in calibration text, outliers folded (the default).
//! let mut spec = JobSpec::new(&input, &output);
//! spec.preset = Preset::parse("q4_0")?;
//! spec.calib.chunks = 2;
//! let summary = pipeline::quantize(&spec.validate()?, &mut Silent)?;
//! assert!(summary.output_bytes < summary.source_bytes / 2 && summary.bpw < 6.0);
//! // The massive dimension of SmolLM2's residual stream, found by the calibration.
//! assert!(summary.massive_dims.contains(&507));
//! # Ok::<(), sinkquant::Error>(())
//! ```
//!
//! Layers, lowest first (each calls only the ones before it):
//! - [`error`]: the typed errors of every layer.
//! - [`quant`]: ggml's block formats (one file per type, behind one trait) and the quantizers.
//! - [`io`]: the file formats, one folder each: GGUF, safetensors, compressed-tensors and the
//!   Hugging Face directory; memory maps and atomic outputs. [`memory`]: the budget a run may
//!   use, the estimate of what it needs, what the process holds.
//! - [`model`]: one description of the architecture over the stored tensors.
//! - [`tokenizer`]: GGUF vocabularies and Hugging Face tokenizers; text to token ids.
//! - [`kernels`]: matmul on 8-bit integer codes over the stored blocks (AVX2 or scalar).
//! - [`forward`]: the CPU forward pass with observation hooks; [`eval`]: perplexity and KL
//!   divergence; [`export`]: GGUF to a Hugging Face directory.
//! - the pipeline's stages, crate-private: `calib` (statistics, outlier report, imatrix),
//!   `plan` (each tensor's type), `transform` (exact folds); [`pipeline`] runs them.
//! - [`batch`]: model zoos from a manifest, each job a pipeline run.

pub mod batch;
mod calib;
pub mod error;
pub mod eval;
pub mod export;
pub mod forward;
pub mod io;
pub mod kernels;
pub mod memory;
pub mod model;
pub mod pipeline;
mod plan;
pub mod quant;
pub mod tokenizer;
mod transform;

pub use error::{Error, Result};

// The test fixtures of tests/ (GGUF builder, tiny models), for the unit tests, which name the
// crate `sinkquant` as the integration tests do.
#[cfg(test)]
extern crate self as sinkquant;
#[cfg(test)]
#[path = "../tests/fixtures.rs"]
mod fixtures;
