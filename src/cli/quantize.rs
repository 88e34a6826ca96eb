//! `quantize [--calib FILE] [--type T] [--outliers keep|fold|none] [--eval TEXT] IN OUT`:
//! calibrate, plan, fold, quantize and write; then optionally evaluate before and after.

use super::format;
use super::scan::CalibArgs;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use sinkquant::io::gguf::llama_meta::{self, Provenance};
use sinkquant::io::Progress;
use sinkquant::model::Model;
use sinkquant::output::{self, gguf::QuantInputs};
use sinkquant::plan::{self, Mixture, OutlierPolicy, PlanOptions, Preset, Protected, TensorPlan};
use sinkquant::quant::formats::GgmlType;
use std::path::PathBuf;
use std::time::Instant;

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
    /// q4_0, q3_k_m, ...); sinkquant chooses each tensor's type within it
    #[arg(long = "type", default_value = "int4", value_parser = Preset::parse)]
    pub preset: Preset,
    /// Outlier handling: keep the tensors touching the massive channels in higher precision,
    /// fold their scale into full-precision norms, both, or none
    #[arg(long, value_enum, default_value_t = OutlierPolicy::Fold)]
    pub outliers: OutlierPolicy,
    /// Quantize without calibration statistics (plain round-to-nearest quantizers)
    #[arg(long)]
    pub no_imatrix: bool,
    /// Force a type on tensors whose GGUF name matches REGEX (repeatable; first match wins)
    #[arg(long = "tensor-type", value_name = "REGEX=TYPE", value_parser = plan::parse_override)]
    pub overrides: Vec<(regex::Regex, GgmlType)>,
    /// Type of the output matrix (and of tied embeddings)
    #[arg(long, value_parser = plan::preset::parse_ggml_type)]
    pub output_type: Option<GgmlType>,
    /// Type of the token embeddings
    #[arg(long, value_parser = plan::preset::parse_ggml_type)]
    pub embedding_type: Option<GgmlType>,
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
    /// Write the summary (plan, sizes, times, outliers, evaluation) as JSON to this file
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

fn bar(len: u64, template: &str) -> ProgressBar {
    ProgressBar::new(len)
        .with_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "))
}

/// A writer's progress on `pb`: its length from the start report, then bytes and the tensor's
/// name as each is written.
fn advance(pb: &ProgressBar) -> impl FnMut(Progress) + '_ {
    move |p| match p {
        Progress::Start { bytes, .. } => pb.set_length(bytes),
        Progress::Tensor { name, bytes } => {
            pb.inc(bytes);
            pb.set_message(name.to_string());
        }
    }
}

fn print_plan(p: &[TensorPlan]) {
    println!("{:<28} {:>16} {:>6}  reason", "tensor", "shape", "type");
    for t in p {
        let shape = t.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x");
        println!("{:<28} {:>16} {:>6}  {}", t.name, shape, t.ty.name(), t.reason);
    }
}

pub fn run(a: Args) -> Result<()> {
    super::set_threads(a.threads)?;
    let (input, output) = (a.input.clone().expect("required"), a.output.clone().expect("required"));
    let is_gguf = output.extension().is_some_and(|x| x.eq_ignore_ascii_case("gguf"));
    let ct_bits = match (is_gguf, a.preset.mixture) {
        (true, _) => 0,
        (false, Mixture::Q8_0) => 8,
        (false, Mixture::Q4_K_M | Mixture::Q4_K_S | Mixture::Q4_0 | Mixture::Q4_1) => 4,
        (false, m) => bail!(
            "{}: safetensors (compressed-tensors) output takes --type int8 or int4, not {}",
            output.display(),
            m.name()
        ),
    };
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            bail!("{}: cannot write: folder {} does not exist", output.display(), parent.display());
        }
    }
    let started = Instant::now();
    let model = Model::open(&input)?;
    let vocab = sinkquant::tokenizer::vocab_of(&model)?;

    // Calibration: importance for the quantizers, outliers for the policy.
    let needs_calib = !a.no_imatrix || a.outliers != OutlierPolicy::None;
    let (mut inputs, protected, calib_info, calib_secs, calib_cached) = if needs_calib {
        let c = super::quantize_calib::calibration(&model, &input, &a.calib, a.calib_cache.as_deref())?;
        let imp = if a.no_imatrix { Default::default() } else { c.cal.importance };
        let info = Some((c.source.0, c.source.1, c.cal.chunks, a.calib.calib_ctx));
        (QuantInputs { importance: imp, ..Default::default() }, c.cal.protected, info, c.seconds, c.cached)
    } else {
        (QuantInputs::default(), Protected::default(), None, 0.0, false)
    };

    let opts = PlanOptions {
        preset: a.preset,
        overrides: a.overrides.clone(),
        output_type: a.output_type,
        embedding_type: a.embedding_type,
        has_imatrix: !a.no_imatrix,
        outliers: a.outliers,
    };
    let mut the_plan = plan::plan(&model, &opts, &protected);
    // The class names a size: llama.cpp's mixture for this model, less room for our metadata.
    let user_types = !a.overrides.is_empty() || a.output_type.is_some() || a.embedding_type.is_some();
    if !a.preset.mixture.is_float() && !user_types && is_gguf {
        let llama = PlanOptions { outliers: OutlierPolicy::None, overrides: vec![], ..opts };
        let budget = plan::size(&plan::plan(&model, &llama, &Protected::default())).0 - plan::budget::METADATA_HEADROOM;
        plan::budget::fit(&model, &mut the_plan, budget, &inputs.importance)?;
    }
    print_plan(&the_plan);
    let (planned_bytes, planned_bpw) = plan::size(&the_plan);
    println!("planned: {} ({planned_bpw:.2} bpw)", format::bytes(planned_bytes));
    if a.dry_run {
        return Ok(());
    }

    let t_quant = Instant::now();
    println!("quantizing to {}", output.display());
    if a.outliers.folds() && !inputs.importance.is_empty() {
        let pb = bar(3 * model.hparams.n_layers as u64, "{spinner} folding   [{bar:30}] site {pos}/{len} eta {eta}");
        // compressed-tensors output: the matching ggml type stands in for its grid (4 bits in
        // groups: Q4_0; 8 bits: Q8_0) when the fold measures quantization error.
        let proxy = match ct_bits {
            0 => the_plan.clone(),
            b => {
                let p = Preset::parse(if b == 8 { "q8_0" } else { "q4_0" }).expect("known preset");
                let o = PlanOptions { preset: p, outliers: OutlierPolicy::None, overrides: vec![], ..opts.clone() };
                plan::plan(&model, &o, &Protected::default())
            }
        };
        inputs.folds = sinkquant::transform::fold::choose_all(&model, &proxy, &inputs.importance, &mut |d| {
            pb.set_position(d as u64)
        })?;
        pb.finish_and_clear();
    }
    if !is_gguf {
        let calib = (calib_secs, calib_cached);
        return write_compressed(&a, &model, &the_plan, &protected, &inputs, ct_bits, started, calib, t_quant);
    }
    let prov = Provenance {
        preset: a.preset.name.to_string(),
        outliers: a.outliers.name().to_string(),
        calibration: calib_info,
        massive_dims: protected.dims.clone(),
    };
    let meta = llama_meta::metadata(&model, &vocab, a.preset.mixture.file_type(), &prov);
    let pb = bar(0, "{spinner} quantizing [{bar:30}] {bytes}/{total_bytes} {msg} eta {eta}");
    let written = output::gguf::write(&model, &the_plan, &meta, &inputs, &output, &mut advance(&pb))?;
    pb.finish_and_clear();
    let quant_secs = t_quant.elapsed().as_secs_f64();

    let (params, src_bytes) = (model.size().0, model.bytes_on_disk());
    println!(
        "{} -> {}: {} -> {} ({:.2} bpw), calibration {:.1} s, quantization {:.1} s, total {:.1} s",
        input.display(),
        output.display(),
        format::bytes(src_bytes),
        format::bytes(written),
        written as f64 * 8.0 / params as f64,
        calib_secs,
        quant_secs,
        started.elapsed().as_secs_f64()
    );
    if !protected.dims.is_empty() {
        println!("massive dimensions: {:?}; outlier policy {}", protected.dims, a.outliers.name());
    }
    for (site, (alpha, before, after)) in &inputs.folds.chosen {
        if *alpha > 0.0 {
            println!("  fold {site:?}: alpha {alpha:.1}, output-space error {before:.4e} -> {after:.4e}");
        }
    }
    let eval = match &a.eval {
        Some(text) => Some(super::quantize_eval::evaluate(&model, &output, text, a.calib.calib_ctx, a.eval_chunks)?),
        None => None,
    };
    if let Some(p) = &a.json {
        let v = json!({
            "input": input.display().to_string(), "output": output.display().to_string(),
            "preset": a.preset.name, "outliers": a.outliers.name(), "imatrix": !a.no_imatrix,
            "source_bytes": src_bytes, "output_bytes": written, "params": params,
            "bpw": written as f64 * 8.0 / params as f64,
            "calibration_seconds": calib_secs, "calibration_cached": calib_cached, "quantization_seconds": quant_secs,
            "massive_dims": protected.dims, "plan": the_plan,
            "folds": inputs.folds.chosen.iter().map(|(s, (a, b, c))| json!({"site": format!("{s:?}"), "alpha": a, "error_before": b, "error_after": c})).collect::<Vec<_>>(),
            "eval": eval, "peak_rss_bytes": super::procfs::peak_rss(),
        });
        super::write_json(p, &v).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    Ok(())
}

/// The compressed-tensors directory output and its summary.
#[allow(clippy::too_many_arguments)]
fn write_compressed(
    a: &Args,
    model: &Model,
    the_plan: &[TensorPlan],
    protected: &Protected,
    inputs: &QuantInputs,
    bits: u8,
    started: Instant,
    (calib_secs, calib_cached): (f64, bool),
    t_quant: Instant,
) -> Result<()> {
    let output = a.output.clone().expect("required");
    let scheme = output::compressed::scheme_for(model, bits);
    let keep: std::collections::BTreeSet<_> = if a.outliers.keeps() {
        the_plan
            .iter()
            .filter(|t| output::compressed::is_linear(t.role) && t.reason.starts_with("keep:"))
            .map(|t| t.role)
            .collect()
    } else {
        Default::default()
    };
    let pb = bar(0, "{spinner} quantizing [{bar:30}] {bytes}/{total_bytes} {msg} eta {eta}");
    let written = output::compressed::write(model, &scheme, &keep, inputs, &output, a.force, &mut advance(&pb))?;
    pb.finish_and_clear();
    let quant_secs = t_quant.elapsed().as_secs_f64();
    let params = model.size().0;
    println!(
        "{} -> {}: {} -> {} ({:.2} bpw; int{} {}, {} layers kept in BF16), calibration {:.1} s, quantization {:.1} s, total {:.1} s",
        model.path.display(),
        output.display(),
        format::bytes(model.bytes_on_disk()),
        format::bytes(written),
        written as f64 * 8.0 / params as f64,
        bits,
        scheme.group_size.map_or("per channel".to_string(), |g| format!("groups of {g}")),
        keep.len(),
        calib_secs,
        quant_secs,
        started.elapsed().as_secs_f64()
    );
    let eval = match &a.eval {
        Some(text) => Some(super::quantize_eval::evaluate(model, &output, text, a.calib.calib_ctx, a.eval_chunks)?),
        None => None,
    };
    if let Some(p) = &a.json {
        let v = json!({
            "input": model.path.display().to_string(), "output": output.display().to_string(), "format": "compressed-tensors",
            "bits": bits, "group_size": scheme.group_size, "preset": a.preset.name, "outliers": a.outliers.name(),
            "imatrix": !a.no_imatrix, "source_bytes": model.bytes_on_disk(), "output_bytes": written, "params": params,
            "bpw": written as f64 * 8.0 / params as f64, "calibration_seconds": calib_secs,
            "calibration_cached": calib_cached,
            "quantization_seconds": quant_secs, "massive_dims": protected.dims,
            "kept": keep.iter().map(|r| r.hf_name(model.arch())).collect::<Vec<_>>(), "eval": eval,
            "peak_rss_bytes": super::procfs::peak_rss(),
        });
        super::write_json(p, &v).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    Ok(())
}
