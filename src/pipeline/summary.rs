//! What a quantization job did: the typed summary the pipeline returns, that `quantize --json`
//! writes and that the batch reads back.

use crate::plan::TensorPlan;
use crate::transform::fold::Folds;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One tensor of the plan, as printed and stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanRow {
    pub name: String,
    pub shape: Vec<usize>,
    #[serde(rename = "type")]
    pub ty: String,
    pub reason: String,
}

impl PlanRow {
    pub fn rows(plan: &[TensorPlan]) -> Vec<PlanRow> {
        plan.iter()
            .map(|t| PlanRow {
                name: t.name.clone(),
                shape: t.shape.clone(),
                ty: t.ty.name().to_string(),
                reason: t.reason.to_string(),
            })
            .collect()
    }
}

/// One fold site's choice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoldRow {
    pub site: String,
    pub alpha: f32,
    /// Output-space quantization error without the fold and with it.
    pub error_before: f64,
    pub error_after: f64,
}

impl FoldRow {
    pub fn rows(folds: &Folds) -> Vec<FoldRow> {
        let row = |(s, (alpha, before, after)): (_, &(f32, f64, f64))| FoldRow {
            site: format!("{s:?}"),
            alpha: *alpha,
            error_before: *before,
            error_after: *after,
        };
        folds.chosen.iter().map(row).collect()
    }
}

/// The compressed-tensors scheme of a safetensors output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompressedInfo {
    pub bits: u8,
    /// `None`: one scale per output channel.
    pub group_size: Option<usize>,
    /// Linear layers left in BF16 (`keep`), by Hugging Face name.
    pub kept: Vec<String>,
}

/// Source and output compared on a text after writing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    pub text: PathBuf,
    pub chunks: usize,
    pub ctx: usize,
    pub ppl_before: f64,
    pub ppl_after: f64,
    pub kld: f64,
    pub kld_stderr: f64,
    pub top1_agreement: f64,
}

/// Everything a job did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub input: PathBuf,
    pub output: PathBuf,
    /// `gguf` or `compressed-tensors`.
    pub format: String,
    pub preset: String,
    pub outliers: String,
    pub imatrix: bool,
    /// Only planned: nothing was written.
    pub dry_run: bool,
    pub source_bytes: u64,
    /// Bytes written (the GGUF, or the directory's model.safetensors); 0 for a dry run.
    pub output_bytes: u64,
    pub planned_bytes: u64,
    pub params: u64,
    /// Bits per weight of the output (of the plan for a dry run).
    pub bpw: f64,
    pub calibration_seconds: f64,
    pub calibration_cached: bool,
    pub quantization_seconds: f64,
    pub total_seconds: f64,
    /// Massive residual dimensions the calibration found.
    pub massive_dims: Vec<usize>,
    pub plan: Vec<PlanRow>,
    pub folds: Vec<FoldRow>,
    pub compressed: Option<CompressedInfo>,
    pub eval: Option<EvalSummary>,
    /// The process's peak resident memory, when the caller measured it.
    pub peak_rss_bytes: Option<u64>,
}
