//! The quantization run: calibrate, plan, fold, quantize and write, then optionally evaluate.

use super::calibrate::{calibration, QuantCalibration};
use super::evaluate::evaluate;
use super::inputs::QuantInputs;
use super::job::{Job, OutputFormat};
use super::observer::{Note, Observer, Stage};
use super::summary::{CompressedInfo, FoldRow, PlanRow, Summary};
use super::{write_compressed as compressed, write_gguf};
use crate::error::Result;
use crate::io::gguf::llama_meta::{self, Provenance};
use crate::io::Progress;
use crate::memory::{self, Budget};
use crate::model::{gguf_keys, Model};
use crate::plan::trade::Allocation;
use crate::plan::{self, Mixture, OutlierPolicy, PlanOptions, Preset, Protected, TensorPlan};
use crate::quant::methods::Method;
use crate::tokenizer::GgufVocab;
use crate::transform::fold::{self, Folds};
use std::collections::BTreeSet;
use std::time::Instant;

/// What the stages before writing produced.
pub(super) struct Prepared {
    pub model: Model,
    /// The model's vocabulary in llama.cpp's terms, read once for both writers.
    pub vocab: GgufVocab,
    pub calib: Option<QuantCalibration>,
    pub inputs: QuantInputs,
    pub protected: Protected,
    pub plan: Vec<TensorPlan>,
}

/// Runs `job`: the output appears complete or not at all. Returns what was done.
pub fn quantize(job: &Job, obs: &mut dyn Observer) -> Result<Summary> {
    let started = Instant::now();
    let mut timed = super::stage_times::Timed::new(obs);
    let obs = &mut timed;
    // Read once: the estimate, calibration and evaluation share the same budget.
    let budget = Budget::new(job.spec().max_memory);
    let mut p = prepare(job, &budget, obs)?;
    let (planned_bytes, planned_bpw) = plan::size(&p.plan);
    if job.format() == OutputFormat::Gguf {
        // (compressed-tensors output has one scheme, printed with the summary)
        obs.note(Note::Planned { plan: &p.plan, bytes: planned_bytes, bpw: planned_bpw });
    }
    let mut summary = base_summary(job, &p, planned_bytes, planned_bpw);
    if job.spec().dry_run {
        summary.total_seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }
    let t_quant = Instant::now();
    let s = job.spec();
    obs.note(Note::Writing { output: &s.output });
    if job.chooses() {
        // Writes the output itself; the summary is the chosen candidate's.
        let (chosen, candidates) = super::choose::write_best(job, &mut p, &budget, obs)?;
        let (bytes, bpw) = plan::size(&p.plan);
        summary = Summary { choice_chunks: s.choice.chunks, candidates, ..base_summary(&chosen, &p, bytes, bpw) };
    } else if s.outliers.folds() && !p.inputs.importance.is_empty() {
        p.inputs.folds = choose_folds(job, &p, obs)?;
    }
    let written = match job.format() {
        OutputFormat::Gguf if job.chooses() => std::fs::metadata(&s.output).map_or(0, |m| m.len()),
        OutputFormat::Gguf => write_gguf(job, &p, &s.output, obs)?,
        OutputFormat::CompressedTensors { bits } => {
            let (written, info) = write_compressed(job, &p, bits, obs)?;
            summary.compressed = Some(info);
            written
        }
    };
    summary.quantization_seconds = t_quant.elapsed().as_secs_f64();
    summary.output_bytes = written;
    summary.bpw = written as f64 * 8.0 / summary.params.max(1) as f64;
    summary.folds = FoldRow::rows(&p.inputs.folds);
    summary.total_seconds = started.elapsed().as_secs_f64();
    summary.stages = obs.totals();
    obs.note(Note::Written(&summary));
    if let Some(e) = &s.eval {
        summary.eval = Some(evaluate(&p.model, &s.output, e, s.calib.ctx, &budget, obs)?);
        summary.stages = obs.totals();
    }
    Ok(summary)
}

/// Opens the model, calibrates (when the job needs it) and plans.
fn prepare(job: &Job, budget: &Budget, obs: &mut dyn Observer) -> Result<Prepared> {
    let s = job.spec();
    let model = Model::open(&s.input)?;
    // A model without a usable vocabulary fails here, before any long work.
    let vocab = crate::tokenizer::vocab_of(&model)?;
    let held = memory::resident_anon_bytes();
    // `auto`: GPTQ when its Hessians fit in the budget with everything else.
    let method = match s.method {
        Method::Auto if s.needs_calibration() => {
            let with = memory::estimate(&model, &s.with_method(Method::Gptq).work(), *budget, held)?;
            let method = if with.peak() <= budget.bytes { Method::Gptq } else { Method::Rtn };
            obs.note(Note::MethodChosen { method, peak: with.peak() });
            method
        }
        Method::Auto => Method::Rtn,
        m => m,
    };
    let s = &s.with_method(method);
    let estimate = memory::estimate(&model, &s.work(), *budget, held)?;
    obs.note(Note::Memory(&estimate));
    estimate.check(&model)?;
    let mut calib = match job.needs_calibration() {
        true => {
            Some(calibration(&model, &s.input, &s.calib, s.calib_cache.as_deref(), s.needs_hessians(), budget, obs)?)
        }
        false => None,
    };
    let (importance, protected) = match &calib {
        Some(c) if s.imatrix => (c.cal.importance.clone(), c.cal.protected.clone()),
        Some(c) => (Default::default(), c.cal.protected.clone()),
        None => Default::default(),
    };
    let hessians = calib.as_mut().map(|c| std::mem::take(&mut c.cal.hessians)).unwrap_or_default();
    let inputs = QuantInputs { importance, method, hessians, ..Default::default() };
    let plan = plan_tensors(job, &model, &inputs, &protected)?;
    Ok(Prepared { model, vocab, calib, inputs, protected, plan })
}

/// Every tensor's type: the class's plan, fitted to the class's size for a GGUF whose types the
/// caller did not fix, each matrix then taking the least-error type of its size.
pub(super) fn plan_tensors(
    job: &Job,
    model: &Model,
    inputs: &QuantInputs,
    protected: &Protected,
) -> Result<Vec<TensorPlan>> {
    let opts = job.plan_options();
    let mut the_plan = plan::plan(model, &opts, protected);
    if !opts.preset.mixture.is_float() && !job.user_types() && job.format() == OutputFormat::Gguf {
        // The class names a size: llama.cpp's mixture for this model, less room for our metadata.
        let llama = PlanOptions { outliers: OutlierPolicy::None, overrides: vec![], ..opts };
        let budget = plan::size(&plan::plan(model, &llama, &Protected::default())).0 - plan::budget::METADATA_HEADROOM;
        plan::budget::fit(model, &mut the_plan, budget, &inputs.importance)?;
        if job.spec().alloc == Allocation::HeadToLayers {
            plan::trade::head_to_layers(model, &mut the_plan, budget, &inputs.importance)?;
        }
        if !job.spec().exact_types {
            plan::swap::choose(model, &mut the_plan, &inputs.importance)?;
        }
    }
    Ok(the_plan)
}

/// The fold scales, measured against the types the output will have. For compressed-tensors
/// output the matching ggml type stands in for its grid (4 bits in groups: Q4_0; 8 bits: Q8_0).
pub(super) fn choose_folds(job: &Job, p: &Prepared, obs: &mut dyn Observer) -> Result<Folds> {
    let proxy = match job.format() {
        OutputFormat::Gguf => p.plan.clone(),
        OutputFormat::CompressedTensors { bits } => {
            let mixture = if bits == 8 { Mixture::Q8_0 } else { Mixture::Q4_0 };
            let preset = Preset { name: mixture.name(), mixture };
            let o = PlanOptions { preset, outliers: OutlierPolicy::None, overrides: vec![], ..job.plan_options() };
            plan::plan(&p.model, &o, &Protected::default())
        }
    };
    obs.begin(Stage::Fold, 3 * p.model.hparams.n_layers as u64);
    let planned = |r| proxy.iter().find(|t| t.role == r).map(|t| t.ty);
    let folds = fold::choose_all(&p.model, &planned, &p.inputs.importance, &mut |d| obs.advance(d as u64, None))?;
    obs.end(Stage::Fold);
    Ok(folds)
}

/// A writer's progress as the observer's `Write` stage.
fn write_progress(obs: &mut dyn Observer) -> impl FnMut(Progress) + '_ {
    let mut done = 0;
    move |p| match p {
        Progress::Start { bytes, .. } => obs.begin(Stage::Write, bytes),
        Progress::Tensor { name, bytes } => {
            done += bytes;
            obs.advance(done, Some(name));
        }
    }
}

/// Writes the GGUF of `job` to `out` (the job's output, or a candidate's file).
pub(super) fn write_gguf(job: &Job, p: &Prepared, out: &std::path::Path, obs: &mut dyn Observer) -> Result<u64> {
    let s = job.spec();
    let prov = Provenance {
        preset: s.preset.name.to_string(),
        outliers: s.outliers.name().to_string(),
        calibration: p.calib.as_ref().map(|c| (c.source.0.clone(), c.source.1.clone(), c.cal.chunks, s.calib.ctx)),
        massive_dims: p.protected.dims.clone(),
    };
    let keys = gguf_keys::model_keys(&p.model, p.vocab.to_metadata());
    let meta = llama_meta::assemble(keys, s.preset.mixture.file_type(), &prov);
    let written = write_gguf::write(&p.model, &p.plan, &meta, &p.inputs, out, &mut write_progress(obs))?;
    obs.end(Stage::Write);
    Ok(written)
}

fn write_compressed(job: &Job, p: &Prepared, bits: u8, obs: &mut dyn Observer) -> Result<(u64, CompressedInfo)> {
    let s = job.spec();
    let scheme = compressed::scheme_for(&p.model, bits);
    let keep: BTreeSet<_> = match s.outliers.keeps() {
        true => p.plan.iter().filter(|t| compressed::is_linear(t.role) && t.reason.is_keep()).map(|t| t.role).collect(),
        false => BTreeSet::new(),
    };
    let written = compressed::write(
        &p.model,
        &p.vocab,
        &scheme,
        &keep,
        &p.inputs,
        &s.output,
        s.replace,
        &mut write_progress(obs),
    )?;
    obs.end(Stage::Write);
    let arch = p.model.arch();
    let kept = keep.iter().map(|r| r.hf_name(arch)).collect();
    let dense = p
        .model
        .roles()
        .filter(|(r, _)| compressed::is_linear(*r) && !compressed::quantized_here(arch, *r))
        .map(|(r, _)| r.hf_name(arch))
        .collect();
    Ok((written, CompressedInfo { bits, group_size: scheme.group_size, kept, dense }))
}

fn base_summary(job: &Job, p: &Prepared, planned_bytes: u64, planned_bpw: f64) -> Summary {
    let s = job.spec();
    Summary {
        input: s.input.display().to_string(),
        output: s.output.display().to_string(),
        format: job.format().name().to_string(),
        preset: s.preset.name.to_string(),
        outliers: s.outliers.name().to_string(),
        allocation: s.alloc.name().to_string(),
        imatrix: s.imatrix,
        method: p.inputs.method.name().to_string(),
        dry_run: s.dry_run,
        source_bytes: p.model.bytes_on_disk(),
        output_bytes: 0,
        planned_bytes,
        params: p.model.size().0,
        bpw: planned_bpw,
        calibration_seconds: p.calib.as_ref().map_or(0.0, |c| c.seconds),
        calibration_cached: p.calib.as_ref().is_some_and(|c| c.cached),
        quantization_seconds: 0.0,
        total_seconds: 0.0,
        massive_dims: p.protected.dims.clone(),
        plan: PlanRow::rows(&p.plan),
        folds: vec![],
        compressed: None,
        eval: None,
        candidates: vec![],
        choice_chunks: 0,
        stages: vec![],
        peak_rss_bytes: None,
    }
}
