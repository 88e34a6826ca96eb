//! What a quantization job did: the typed summary the pipeline returns, that `quantize --json`
//! writes and that the batch reads back.

use crate::plan::TensorPlan;
use crate::transform::fold::Folds;
use serde::{Deserialize, Deserializer, Serialize};

/// A float that serde_json wrote as `null` (NaN or infinite, e.g. the PPL of a broken file)
/// reads back as NaN, so that the batch still records the job.
fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Option::<f64>::deserialize(d).map(|v| v.unwrap_or(f64::NAN))
}

/// One tensor of the plan, as printed and stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanRow {
    pub name: String,
    pub shape: Vec<usize>,
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
    #[serde(deserialize_with = "nan_if_null")]
    pub error_before: f64,
    #[serde(deserialize_with = "nan_if_null")]
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
    /// Linear layers the format cannot quantize in this architecture (GPT-2's `Conv1D`, which
    /// compressed-tensors' `Linear` target does not match), written in BF16.
    #[serde(default)]
    pub dense: Vec<String>,
}

/// Source and output compared on a text after writing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    pub text: String,
    pub chunks: usize,
    pub ctx: usize,
    #[serde(deserialize_with = "nan_if_null")]
    pub ppl_before: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub ppl_after: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub kld: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub kld_stderr: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub top1_agreement: f64,
}

/// One candidate of a measured choice of outlier policy: its KL divergence from the source
/// on calibration chunks the calibration did not use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub outliers: String,
    /// `mixture` or `head-to-layers` (`plan::trade`); reports of earlier versions: `mixture`.
    #[serde(default = "mixture")]
    pub allocation: String,
    pub bytes: u64,
    #[serde(deserialize_with = "nan_if_null")]
    pub kld: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub kld_stderr: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub top1_agreement: f64,
    pub chosen: bool,
}

/// Everything a job did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Paths as displayed (lossily for non-UTF-8 names).
    pub input: String,
    pub output: String,
    /// `gguf` or `compressed-tensors`.
    pub format: String,
    pub preset: String,
    pub outliers: String,
    /// How the class's bytes were shared between head and layers; earlier reports: `mixture`.
    #[serde(default = "mixture")]
    pub allocation: String,
    pub imatrix: bool,
    /// How the matrices' codes were chosen (`rtn`, `gptq`); reports of earlier versions: `rtn`.
    #[serde(default = "rtn")]
    pub method: String,
    /// Only planned: nothing was written.
    pub dry_run: bool,
    pub source_bytes: u64,
    /// Bytes written (the GGUF, or the directory's model.safetensors); 0 for a dry run.
    pub output_bytes: u64,
    pub planned_bytes: u64,
    pub params: u64,
    /// Bits per weight of the output (of the plan for a dry run).
    #[serde(deserialize_with = "nan_if_null")]
    pub bpw: f64,
    pub calibration_seconds: f64,
    pub calibration_cached: bool,
    pub quantization_seconds: f64,
    pub total_seconds: f64,
    /// Massive residual dimensions the calibration found.
    pub massive_dims: Vec<usize>,
    pub plan: Vec<PlanRow>,
    pub folds: Vec<FoldRow>,
    /// For a compressed-tensors output: `bits`, `group_size` and `kept` at the top level.
    #[serde(flatten)]
    pub compressed: Option<CompressedInfo>,
    pub eval: Option<EvalSummary>,
    /// When the outlier policy was chosen by measurement: every candidate, and what it scored
    /// (chunks of `choice_text` after the calibration's).
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    #[serde(default)]
    pub choice_chunks: usize,
    /// Wall time per stage (calibrate, fold, write, evaluate), summed over each stage's runs.
    #[serde(default)]
    pub stages: Vec<super::StageTime>,
    /// The process's peak resident memory, when the caller measured it.
    pub peak_rss_bytes: Option<u64>,
}

fn rtn() -> String {
    "rtn".into()
}

fn mixture() -> String {
    "mixture".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            input: "in".into(),
            output: "out.gguf".into(),
            format: "gguf".into(),
            preset: "q4_0".into(),
            outliers: "fold".into(),
            allocation: "head-to-layers".into(),
            imatrix: true,
            method: "gptq".into(),
            dry_run: false,
            source_bytes: 10,
            output_bytes: 4,
            planned_bytes: 4,
            params: 8,
            bpw: 4.0,
            calibration_seconds: 1.0,
            calibration_cached: false,
            quantization_seconds: 2.0,
            total_seconds: 3.0,
            massive_dims: vec![507],
            plan: vec![PlanRow {
                name: "t".into(),
                shape: vec![2, 4],
                ty: "Q4_0".into(),
                reason: "q4_0 default".into(),
            }],
            folds: vec![],
            compressed: None,
            eval: None,
            candidates: vec![],
            choice_chunks: 0,
            stages: vec![],
            peak_rss_bytes: None,
        }
    }

    #[test]
    fn summaries_read_back_with_the_keys_scripts_use() {
        let s = summary();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["plan"][0]["ty"], "Q4_0");
        assert!(v.get("bits").is_none());
        assert_eq!(serde_json::from_value::<Summary>(v.clone()).unwrap(), s);
        // A report written before allocations were measured reads as llama.cpp's mixture.
        let mut old = v;
        old.as_object_mut().unwrap().remove("allocation");
        assert_eq!(serde_json::from_value::<Summary>(old).unwrap().allocation, "mixture");
        let mut c = summary();
        c.compressed =
            Some(CompressedInfo { bits: 4, group_size: Some(64), kept: vec!["m.down_proj".into()], dense: vec![] });
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!((v["bits"].as_u64(), v["group_size"].as_u64()), (Some(4), Some(64)));
        assert_eq!(serde_json::from_value::<Summary>(v).unwrap(), c);
    }

    #[test]
    fn a_non_finite_figure_reads_back_as_nan() {
        let mut s = summary();
        s.eval = Some(EvalSummary {
            text: "wiki".into(),
            chunks: 1,
            ctx: 8,
            ppl_before: 10.0,
            ppl_after: f64::INFINITY,
            kld: f64::NAN,
            kld_stderr: 0.0,
            top1_agreement: 0.5,
        });
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains("\"kld\":null"), "{text}");
        let back: Summary = serde_json::from_str(&text).unwrap();
        let e = back.eval.unwrap();
        assert!(e.kld.is_nan() && e.ppl_after.is_nan() && e.ppl_before == 10.0);
    }
}
