//! `quantize [--calib FILE] [--type T] [--outliers keep|fold|both|none] [--eval TEXT] IN OUT`:
//! the flags become a pipeline job; the pipeline calibrates, plans, folds, quantizes, writes and
//! optionally evaluates; this prints its progress and summary.

use super::calib_args::CalibArgs;
use super::format;
use super::progress::Terminal;
use anyhow::{Context, Result};
use sinkquant::pipeline::{
    self, parse_ggml_type, parse_override, Effort, EvalSpec, EvalSummary, GgmlType, JobSpec, Method, OutlierPolicy,
    Preset, Summary,
};
use std::path::PathBuf;

/// `--effort`, mapped onto the library's [`Effort`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EffortArg {
    /// fold, rtn: calibration plus seconds (llama-imatrix + llama-quantize's cost)
    Fast,
    /// outliers auto (fold and both measured on 4 held-out chunks), method auto
    Default,
    /// fold, both and keep, every candidate written by the method itself and measured on 8 chunks
    Best,
}

impl From<EffortArg> for Effort {
    fn from(e: EffortArg) -> Self {
        match e {
            EffortArg::Fast => Effort::Fast,
            EffortArg::Default => Effort::Default,
            EffortArg::Best => Effort::Best,
        }
    }
}

/// `--outliers`, mapped onto the library's [`OutlierPolicy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Outliers {
    /// Write the GGUF with each policy the effort measures (default: fold and both; best: and
    /// keep), measure each on calibration text the calibration did not use, keep the best
    /// (compressed-tensors: fold)
    Auto,
    Keep,
    Fold,
    /// Keep, then fold.
    Both,
    None,
}

impl From<Outliers> for OutlierPolicy {
    fn from(o: Outliers) -> Self {
        match o {
            // the first candidate: the policy where no choice is made (compressed-tensors)
            Outliers::Auto => Effort::Default.outlier_candidates()[0],
            Outliers::Keep => OutlierPolicy::Keep,
            Outliers::Fold => OutlierPolicy::Fold,
            Outliers::Both => OutlierPolicy::Both,
            Outliers::None => OutlierPolicy::None,
        }
    }
}

/// `--allocation`, mapped onto the library's [`Allocation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AllocationArg {
    /// Measure both (default and best efforts; fast: mixture)
    Auto,
    /// llama.cpp's mixture for the class
    Mixture,
    /// The output head one type lower, the bytes freed spent on the layers' matrices
    HeadToLayers,
}

/// `--method`, mapped onto the library's [`Method`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    Auto,
    Rtn,
    Gptq,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Rtn => Method::Rtn,
            MethodArg::Gptq => Method::Gptq,
            MethodArg::Auto => Method::Auto,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Model to quantize: safetensors file, Hugging Face directory, or GGUF (requantized from its
    /// dequantized weights)
    #[arg(required = true)]
    pub input: Option<PathBuf>,
    /// Output: a `.gguf` file for llama.cpp, or a directory (any other name) written as
    /// safetensors in the compressed-tensors `pack-quantized` layout for vLLM (--type int8|int4)
    #[arg(required = true)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub calib: CalibArgs,
    /// File class and size: int8, int4, or a llama.cpp type name (q8_0, q6_k, q5_k_m, q4_k_m,
    /// q4_0, iq4_nl, iq4_xs, q3_k_m, ...); sinkquant chooses each tensor's type within it
    #[arg(long = "type", default_value = "int4", value_parser = |s: &str| Preset::parse(s))]
    pub preset: Preset,
    /// How much work goes into quality: fast (fold, rtn), default (the outlier policy measured,
    /// then GPTQ when it fits in memory) or best (each candidate written with GPTQ, measured on
    /// 8 chunks). --outliers and --method, when given, override the level's choice
    #[arg(long, value_enum, default_value_t = EffortArg::Default)]
    pub effort: EffortArg,
    /// Outlier handling: keep the tensors touching the massive channels in higher precision,
    /// fold their scale into full-precision norms, both, or none; auto (the default effort's)
    /// writes the GGUF with fold and both (best: and keep) and keeps the one of least KL
    /// divergence on 4 (best: 8) chunks of the calibration text after those calibration used
    #[arg(long, value_enum)]
    pub outliers: Option<Outliers>,
    /// Quantize without calibration statistics (plain round-to-nearest quantizers)
    #[arg(long)]
    pub no_imatrix: bool,
    /// How each matrix's codes are chosen: rtn (ggml's importance-weighted block quantizers, as
    /// llama-quantize --imatrix), gptq (the same block scales, each weight's rounding error
    /// compensated in later columns through the calibration's input Hessian; slower, and holds
    /// every layer's Hessians in memory), or auto (the default effort's): gptq when the
    /// Hessians fit in the memory allowed, else rtn
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// How the class's bytes are shared between the output head (and tied embeddings) and the
    /// layers: llama.cpp's mixture, head-to-layers (the head one type lower, the bytes spent
    /// raising the layers' matrices of most error per byte), or auto (the default effort's):
    /// both written and measured like --outliers auto
    #[arg(long, value_enum)]
    pub allocation: Option<AllocationArg>,
    /// Force a type on tensors whose GGUF name matches REGEX (repeatable; first match wins)
    #[arg(long = "tensor-type", value_name = "REGEX=TYPE", value_parser = |s: &str| parse_override(s))]
    pub overrides: Vec<(regex::Regex, GgmlType)>,
    /// Type of the output matrix (and of tied embeddings)
    #[arg(long, value_parser = |s: &str| parse_ggml_type(s))]
    pub output_type: Option<GgmlType>,
    /// Type of the token embeddings
    #[arg(long, value_parser = |s: &str| parse_ggml_type(s))]
    pub embedding_type: Option<GgmlType>,
    /// Keep the class's block types (only Q4_0 blocks in a q4_0 file, for a runtime with a
    /// kernel for that type alone). By default each matrix of a class takes, among the types of
    /// exactly its size (Q4_0, IQ4_NL, Q4_K; Q5_0, Q5_K), the one of least measured error
    #[arg(long)]
    pub exact_types: bool,
    /// After writing, evaluate source and output on this text: PPL before and after, KLD
    #[arg(long)]
    pub eval: Option<PathBuf>,
    /// Chunks of the evaluation text (of --calib-ctx tokens)
    #[arg(long, default_value_t = 8)]
    pub eval_chunks: usize,
    /// Keep calibration results in DIR and reuse them when the same model files are calibrated
    /// on the same text with the same chunks, context and seed (`quantize batch` uses this)
    #[arg(long, value_name = "DIR")]
    pub calib_cache: Option<PathBuf>,
    /// Print the plan and stop
    #[arg(long)]
    pub dry_run: bool,
    /// Replace an existing output directory
    #[arg(long)]
    pub force: bool,
    /// Threads (default: all cores)
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write the summary (plan, sizes, times, outliers, evaluation) as JSON to this file (with
    /// --dry-run: the plan, nothing written)
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub const LONG_ABOUT: &str = "Quantize a model. Calibration text (default: the built-in set) runs \
through the model to find its massive-activation dimensions, super weights and per-channel input \
importance; each tensor's type is planned from the named class (llama.cpp's rules, then \
sinkquant's outlier policy, then --tensor-type overrides, then block-size fallbacks; the plan is \
printed with a reason per tensor); the quantizers weight each column by its importance; the \
output is written under a temporary name and renamed when complete. With --eval, the source and \
the output are compared on that text (PPL before and after, KL divergence, top-1 agreement).";

impl Args {
    /// The pipeline's job for these flags.
    pub(super) fn spec(&self) -> JobSpec {
        let mut s = JobSpec::new(self.input.clone().expect("required"), self.output.clone().expect("required"));
        s.preset = self.preset;
        Effort::from(self.effort).apply(&mut s);
        if let Some(o) = self.outliers {
            s.outliers = o.into();
            s.choose_outliers = if o == Outliers::Auto { Effort::from(self.effort).auto_candidates() } else { vec![] };
        }
        match self.allocation {
            Some(AllocationArg::Auto) => s.choose_alloc = Effort::Default.alloc_candidates(),
            Some(a) => {
                s.alloc = if a == AllocationArg::Mixture {
                    sinkquant::pipeline::Allocation::Mixture
                } else {
                    sinkquant::pipeline::Allocation::HeadToLayers
                };
                s.choose_alloc.clear();
            }
            None => {}
        }
        s.imatrix = !self.no_imatrix;
        if let Some(m) = self.method {
            s.method = m.into();
        }
        s.overrides = self.overrides.clone();
        s.output_type = self.output_type;
        s.embedding_type = self.embedding_type;
        s.exact_types = self.exact_types;
        s.calib = self.calib.spec();
        s.calib_cache = self.calib_cache.clone();
        s.max_memory = self.calib.max_memory;
        s.eval = self.eval.clone().map(|text| EvalSpec { text, chunks: self.eval_chunks });
        s.replace = self.force;
        s.dry_run = self.dry_run;
        s
    }
}

pub fn run(a: Args) -> Result<()> {
    super::set_threads(a.threads)?;
    let job = a.spec().validate()?;
    let mut summary = pipeline::quantize(&job, &mut Terminal::default())?;
    if let Some(e) = &summary.eval {
        print_eval(e);
    }
    summary.peak_rss_bytes = super::procfs::peak_rss();
    // A dry run's JSON is its plan (`dry_run: true`, nothing written).
    if let Some(p) = &a.json {
        let v = serde_json::to_value(&summary)?;
        super::write_json(p, &v).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    Ok(())
}

/// The summary of the written output (before any evaluation).
pub fn print_summary(s: &Summary) {
    let layout = match &s.compressed {
        None => String::new(),
        Some(c) => format!(
            "; int{} {}, {} layers kept in BF16{}",
            c.bits,
            c.group_size.map_or("per channel".to_string(), |g| format!("groups of {g}")),
            c.kept.len(),
            match c.dense.len() {
                0 => String::new(),
                n => format!(", {n} Conv1D layers in BF16: compressed-tensors cannot quantize them"),
            }
        ),
    };
    println!(
        "{} -> {}: {} -> {} ({:.2} bpw{layout}), calibration {:.1} s, quantization {:.1} s, total {:.1} s",
        s.input,
        s.output,
        format::bytes(s.source_bytes),
        format::bytes(s.output_bytes),
        s.bpw,
        s.calibration_seconds,
        s.quantization_seconds,
        s.total_seconds
    );
    if !s.stages.is_empty() {
        let each = |t: &sinkquant::pipeline::StageTime| match t.runs {
            1 => format!("{} {:.1} s", t.stage, t.seconds),
            n => format!("{} {:.1} s ({n} runs)", t.stage, t.seconds),
        };
        let staged: f64 = s.stages.iter().map(|t| t.seconds).sum();
        let times: Vec<_> = s.stages.iter().map(each).collect();
        println!("time by stage: {}, other {:.1} s", times.join(", "), (s.total_seconds - staged).max(0.0));
    }
    if !s.massive_dims.is_empty() {
        println!("massive dimensions: {:?}; outlier policy {}", s.massive_dims, s.outliers);
    }
    for f in s.folds.iter().filter(|f| f.alpha > 0.0) {
        println!(
            "  fold {}: alpha {:.1}, output-space error {:.4e} -> {:.4e}",
            f.site, f.alpha, f.error_before, f.error_after
        );
    }
}

fn print_eval(e: &EvalSummary) {
    println!(
        "eval {} ({} chunks of {}): PPL {:.4} -> {:.4} ({:+.2}%), KLD {:.5} +/- {:.5}, top-1 agreement {:.2}%",
        e.text,
        e.chunks,
        e.ctx,
        e.ppl_before,
        e.ppl_after,
        100.0 * (e.ppl_after / e.ppl_before - 1.0),
        e.kld,
        e.kld_stderr,
        100.0 * e.top1_agreement
    );
}
