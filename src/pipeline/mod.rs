//! The quantization pipeline: the stages as library code, and the one entry point the CLI and
//! the batch use.
//!
//! A [`JobSpec`] (what the caller asks for) is checked once into a [`Job`]; [`quantize`] then
//! runs the stages in order, each in its own module and each calling the layers below it:
//!
//! ```text
//! job ─> calibrate ─> plan ─> transform (fold) ─> quantize + write ─> evaluate
//!        calibrate.rs  run.rs  run.rs               run.rs             evaluate.rs
//!        (calib, forward, tokenizer)
//!                     (plan)  (transform)          (quant, io)        (eval, forward)
//! ```
//!
//! Progress goes to an [`Observer`]; the result is a [`Summary`], serialisable with serde, that
//! `quantize --json` writes and `quantize batch` reads back. `scan` and `quantize` share the
//! calibration stage ([`calibrate::scan`]); `ppl --intervene` uses [`intervene::intervention`].
//!
//! Who calls whom: `cli` calls only `pipeline` (and the re-exported types below) for these
//! commands; `pipeline` calls `calib`, `plan`, `transform`, `quant`, `io`, `eval`, `forward`;
//! those never call `pipeline`. The writing stages are `write_gguf.rs` and `write_compressed.rs`.

pub mod calib_cache;
pub mod calibrate;
mod choose;
mod effort;
mod evaluate;
mod inputs;
pub mod intervene;
mod job;
mod observer;
mod run;
mod stage_times;
mod summary;
mod write_compressed;
mod write_gguf;

pub use crate::calib::collect::Criterion;
pub use crate::calib::intervene::{Intervene, Intervention};
pub use crate::calib::report::ScanReport;
pub use crate::plan::trade::Allocation;
pub use crate::plan::{parse_override, preset::parse_ggml_type, Mixture, OutlierPolicy, Preset, Reason, TensorPlan};
pub use crate::quant::formats::GgmlType;
pub use crate::quant::methods::Method;
pub use calibrate::Scan;
pub use effort::Effort;
pub use job::{CalibSpec, EvalSpec, Job, JobSpec, OutputFormat};
pub use observer::{Note, Observer, Silent, Stage};
pub use run::quantize;
pub use stage_times::StageTime;
pub use summary::{Candidate, CompressedInfo, EvalSummary, FoldRow, PlanRow, Summary};
#[cfg(test)]
mod fold_tests;
