//! A quantization job: what the caller asks for ([`JobSpec`]) and the same request checked once
//! ([`Job`]), with the rules that relate the output format, the class and the inputs in one
//! place. The CLI builds a spec from its flags, the batch manifest one per model and recipe.

use crate::error::{Error, Result};
use crate::plan::trade::Allocation;
use crate::plan::{Mixture, OutlierPolicy, PlanOptions, Preset};
use crate::quant::formats::GgmlType;
use crate::quant::methods::Method;
use regex::Regex;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Calibration text and how it is cut.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalibSpec {
    /// UTF-8 text; `None`: the built-in set (calibration/).
    pub text: Option<PathBuf>,
    /// Chunks to run (fewer when the text holds fewer).
    pub chunks: usize,
    /// Tokens per chunk.
    pub ctx: usize,
    /// Seed choosing the chunks; 0 takes the first chunks in order (as llama-imatrix does).
    pub seed: u64,
}

impl Default for CalibSpec {
    fn default() -> Self {
        CalibSpec { text: None, chunks: 32, ctx: 512, seed: 1 }
    }
}

impl CalibSpec {
    /// Checks the counts; named in errors as `what` (e.g. "calibration").
    pub fn check(&self) -> Result<()> {
        if self.chunks == 0 || self.ctx < 2 {
            return Err(Error::Invalid(format!(
                "calibration needs at least 1 chunk of at least 2 tokens (asked: {} chunks of {})",
                self.chunks, self.ctx
            )));
        }
        Ok(())
    }
}

/// Evaluation of the source and the output after writing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalSpec {
    pub text: PathBuf,
    /// Chunks of the calibration context length.
    pub chunks: usize,
}

/// What the output file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// A GGUF for llama.cpp.
    Gguf,
    /// A directory of compressed-tensors `pack-quantized` safetensors (vLLM), int8 or int4.
    CompressedTensors { bits: u8 },
}

impl OutputFormat {
    /// Whether an output path names a GGUF (a `.gguf` file); any other name is a
    /// compressed-tensors directory.
    pub fn is_gguf_path(path: &Path) -> bool {
        path.extension().is_some_and(|x| x.eq_ignore_ascii_case("gguf"))
    }

    /// A GGUF, or a compressed-tensors directory of class `preset`, which has int8 and int4
    /// only.
    pub fn for_class(gguf: bool, preset: Preset) -> Result<OutputFormat> {
        match gguf {
            true => Ok(OutputFormat::Gguf),
            false => match preset.mixture {
                Mixture::Q8_0 => Ok(OutputFormat::CompressedTensors { bits: 8 }),
                Mixture::Q4_K_M | Mixture::Q4_K_S | Mixture::Q4_0 | Mixture::Q4_1 => {
                    Ok(OutputFormat::CompressedTensors { bits: 4 })
                }
                m => Err(Error::Invalid(format!(
                    "safetensors (compressed-tensors) output takes type int8 or int4, not {}",
                    m.name()
                ))),
            },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Gguf => "gguf",
            OutputFormat::CompressedTensors { .. } => "compressed-tensors",
        }
    }
}

/// How `--outliers auto` measures its candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChoiceSpec {
    /// Held-out calibration chunks each candidate is compared with the source on.
    pub chunks: usize,
    /// Candidates written with the job's method (else with rtn, and the chosen policy written
    /// again with the method).
    pub with_method: bool,
}

impl Default for ChoiceSpec {
    fn default() -> Self {
        ChoiceSpec { chunks: 4, with_method: false }
    }
}

/// A quantization request as the caller states it; [`JobSpec::validate`] checks it.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// A Hugging Face directory, a safetensors file or a GGUF.
    pub input: PathBuf,
    /// A `.gguf` file, or a compressed-tensors directory (any other name).
    pub output: PathBuf,
    /// The file class (and so its size).
    pub preset: Preset,
    pub outliers: OutlierPolicy,
    /// When it holds two or more policies, the output is written with each (GGUF only) and the
    /// one whose KL divergence from the source, on calibration chunks the calibration did not
    /// use, is lowest is kept; `outliers` is then only the first one tried.
    pub choose_outliers: Vec<OutlierPolicy>,
    /// How the measured choice among `choose_outliers` is made.
    pub choice: ChoiceSpec,
    /// How the class's bytes are shared between the output head and the layers.
    pub alloc: Allocation,
    /// When it holds two or more, each is written (with each outlier candidate) and measured
    /// like the policies; `alloc` is then only the first one tried.
    pub choose_alloc: Vec<Allocation>,
    /// Whether calibration statistics weight the quantizers.
    pub imatrix: bool,
    /// How each matrix's codes are chosen.
    pub method: Method,
    /// Types forced on tensors whose GGUF name matches, first match wins.
    pub overrides: Vec<(Regex, GgmlType)>,
    /// Type of the output matrix (and of tied embeddings).
    pub output_type: Option<GgmlType>,
    /// Type of the token embeddings.
    pub embedding_type: Option<GgmlType>,
    /// Keep the class's block types: no swap to an equal-size type of less error
    /// ([`crate::plan::swap`]).
    pub exact_types: bool,
    pub calib: CalibSpec,
    /// Keep calibrations here and reuse one made from the same model files, text and cuts.
    pub calib_cache: Option<PathBuf>,
    pub eval: Option<EvalSpec>,
    /// Replace an existing output directory.
    pub replace: bool,
    /// Plan only: nothing is written.
    pub dry_run: bool,
    /// Anonymous memory the run may use (default: what the machine has free when it starts).
    pub max_memory: Option<u64>,
}

impl JobSpec {
    /// The defaults for `input` -> `output`: the int4 class, `fold`, calibration statistics,
    /// the built-in calibration set.
    pub fn new(input: impl Into<PathBuf>, output: impl Into<PathBuf>) -> JobSpec {
        JobSpec {
            input: input.into(),
            output: output.into(),
            preset: Preset::DEFAULT,
            outliers: OutlierPolicy::Fold,
            choose_outliers: vec![],
            choice: ChoiceSpec::default(),
            alloc: Allocation::Mixture,
            choose_alloc: vec![],
            imatrix: true,
            method: Method::default(),
            overrides: vec![],
            output_type: None,
            embedding_type: None,
            exact_types: false,
            calib: CalibSpec::default(),
            calib_cache: None,
            eval: None,
            replace: false,
            dry_run: false,
            max_memory: None,
        }
    }

    /// Whether the run calibrates: for the quantizers' statistics or for the outlier policy.
    pub fn needs_calibration(&self) -> bool {
        self.imatrix || self.outliers != OutlierPolicy::None || self.needs_hessians()
    }

    /// Whether calibration collects input Hessians (for the GPTQ method; `auto` decides once
    /// the memory is known, see `pipeline::run`).
    pub fn needs_hessians(&self) -> bool {
        self.method == Method::Gptq
    }

    /// This request with method `m`.
    pub fn with_method(&self, m: Method) -> JobSpec {
        JobSpec { method: m, ..self.clone() }
    }

    /// The work the run does, for its memory estimate.
    pub fn work(&self) -> crate::memory::Work {
        crate::memory::Work {
            ctx: self.calib.ctx,
            calib_chunks: self.needs_calibration().then_some(self.calib.chunks),
            quantize: !self.dry_run,
            eval_chunks: self.eval.as_ref().map(|e| e.chunks),
            compare: true,
            hessians: self.needs_hessians(),
        }
    }

    /// What the run will need in memory, estimated from the model's shapes without running it
    /// (the vocabulary's share guessed from its files' sizes), for a scheduler placing runs.
    /// Reads only the model's headers; the output's folder need not exist yet.
    pub fn estimate(&self) -> Result<crate::memory::Estimate> {
        let model = crate::model::Model::open(&self.input)?;
        let budget = crate::memory::Budget::new(self.max_memory);
        crate::memory::estimate(&model, &self.work(), budget, None)
    }

    /// Checks the request without reading the model: the output format against the class,
    /// the output's folder, the calibration and evaluation counts.
    pub fn validate(self) -> Result<Job> {
        let out = self.output.display().to_string();
        let format = OutputFormat::for_class(OutputFormat::is_gguf_path(&self.output), self.preset)
            .map_err(|e| Error::Invalid(format!("{out}: {e}")))?;
        if let Some(parent) = self.output.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                return Err(Error::Invalid(format!("{out}: cannot write: folder {} does not exist", parent.display())));
            }
        }
        let job = Job { spec: self, format };
        if job.needs_calibration() {
            job.spec.calib.check()?;
        }
        if let Some(e) = &job.spec.eval {
            if e.chunks == 0 {
                return Err(Error::Invalid(format!("{}: evaluation needs at least 1 chunk", e.text.display())));
            }
        }
        Ok(job)
    }
}

/// A checked request: build it with [`JobSpec::validate`], run it with
/// [`crate::pipeline::quantize`].
#[derive(Clone, Debug)]
pub struct Job {
    spec: JobSpec,
    format: OutputFormat,
}

impl Job {
    pub fn spec(&self) -> &JobSpec {
        &self.spec
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Whether the run calibrates: for the quantizers' statistics or for the outlier policy.
    pub fn needs_calibration(&self) -> bool {
        self.spec.needs_calibration()
    }

    /// The (outlier policy, allocation) pairs a measured choice writes: every policy candidate
    /// with every allocation candidate (the fixed one where no choice is asked).
    pub fn candidates(&self) -> Vec<(OutlierPolicy, Allocation)> {
        let s = &self.spec;
        let policies = if s.choose_outliers.len() > 1 { s.choose_outliers.clone() } else { vec![s.outliers] };
        let allocs = if s.choose_alloc.len() > 1 { s.choose_alloc.clone() } else { vec![s.alloc] };
        policies.iter().flat_map(|&p| allocs.iter().map(move |&a| (p, a))).collect()
    }

    /// Whether the outlier policy or the allocation is chosen by measurement: among two or
    /// more candidates, for a GGUF.
    pub fn chooses(&self) -> bool {
        self.candidates().len() > 1 && self.format == OutputFormat::Gguf
    }

    /// This job with outlier policy `p` and allocation `a` (one of the measured choice's
    /// candidates).
    pub fn with_candidate(&self, p: OutlierPolicy, a: Allocation) -> Job {
        let mut j = self.clone();
        j.spec.outliers = p;
        j.spec.choose_outliers.clear();
        j.spec.alloc = a;
        j.spec.choose_alloc.clear();
        j
    }

    /// Whether the caller fixed some tensor types (then no size budget is imposed).
    pub fn user_types(&self) -> bool {
        let s = &self.spec;
        !s.overrides.is_empty() || s.output_type.is_some() || s.embedding_type.is_some()
    }

    /// The planner's options for this job.
    pub fn plan_options(&self) -> PlanOptions {
        let s = &self.spec;
        PlanOptions {
            preset: s.preset,
            overrides: s.overrides.clone(),
            output_type: s.output_type,
            embedding_type: s.embedding_type,
            has_imatrix: s.imatrix,
            outliers: s.outliers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_name_and_the_class_give_the_format() {
        let dir = tempfile::tempdir().unwrap();
        let spec = |out: &str, ty: &str| {
            let mut s = JobSpec::new("in", dir.path().join(out));
            s.preset = Preset::parse(ty).unwrap();
            s.validate()
        };
        assert_eq!(spec("a.gguf", "q3_k_m").unwrap().format(), OutputFormat::Gguf);
        assert_eq!(spec("a.GGUF", "int8").unwrap().format(), OutputFormat::Gguf);
        assert_eq!(spec("dir", "int8").unwrap().format(), OutputFormat::CompressedTensors { bits: 8 });
        assert_eq!(spec("dir", "q4_0").unwrap().format(), OutputFormat::CompressedTensors { bits: 4 });
        let e = spec("dir", "q3_k_m").unwrap_err().to_string();
        assert!(e.contains("int8 or int4") && e.contains("dir"), "{e}");
        let e = JobSpec::new("in", dir.path().join("no/such/a.gguf")).validate().unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        let mut s = JobSpec::new("in", dir.path().join("a.gguf"));
        s.calib.chunks = 0;
        assert!(s.clone().validate().unwrap_err().to_string().contains("at least 1 chunk"));
        // Without calibration the calibration counts do not matter.
        (s.imatrix, s.outliers) = (false, OutlierPolicy::None);
        assert!(s.validate().is_ok());
    }
}
