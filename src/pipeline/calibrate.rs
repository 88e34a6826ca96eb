//! The calibration stage, shared by `scan` and `quantize`: calibration text tokenized, cut into
//! chunks and run through the model with the statistics hook; then either the full scan report
//! ([`scan`]) or what the quantizer takes from it ([`calibration`]: protected tensors, column
//! importance), the latter reusable from a cache.

use super::calib_cache::{self, Calibration};
use super::job::CalibSpec;
use super::observer::{Note, Observer, Stage};
use crate::calib::collect::{Collector, Criterion};
use crate::calib::report::{self, ScanReport};
use crate::calib::{self, importance};
use crate::error::Result;
use crate::forward::Transformer;
use crate::io::fingerprint::{model_files, sha256_file, sha256_json, Sha256Hex};
use crate::memory::Budget;
use crate::model::Model;
use crate::plan::Protected;
use crate::tokenizer::text::{read_text, TextTokenizer, TokenTexts};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// The statistics of a calibration run and what it ran on.
pub struct Calibrated {
    pub collector: Collector,
    pub info: RunInfo,
    /// The texts of the calibration text's tokens.
    pub token_texts: TokenTexts,
}

/// Where a calibration's text came from and how it was cut (the `calibration` object of the
/// scan report).
#[derive(Clone, Debug, Serialize)]
pub struct RunInfo {
    pub source: String,
    pub chunks: usize,
    pub ctx: usize,
    pub seed: u64,
    pub chunk_indices: Vec<usize>,
    pub text_tokens: usize,
    pub seconds: f64,
    pub tokens_per_second: f64,
}

/// Tokenizes the calibration text and runs the chosen chunks through `model`.
/// Hidden states of at most `budget.states()` bytes are held at once.
pub fn run(
    model: &Model,
    spec: &CalibSpec,
    criterion: Criterion,
    hessians: bool,
    budget: &Budget,
    obs: &mut dyn Observer,
) -> Result<Calibrated> {
    let (text, source) = match &spec.text {
        Some(p) => (read_text(p)?, p.display().to_string()),
        None => (calib::default_text(), "built-in (calibration/: c4, tiny, code, technical)".to_string()),
    };
    // The tokenizer is dropped before the model runs: only the texts of the tokens met are kept.
    let (tokens, bos, token_texts) = {
        let tok = TextTokenizer::for_model(model)?;
        let tokens = tok.encode_at_least(&text, None)?;
        let texts = tok.texts_of(&tokens);
        (tokens, tok.bos, texts)
    };
    let chunks = calib::select_chunks(tokens.len(), spec.ctx, spec.chunks, spec.seed)?;
    let t = Transformer::load(model, spec.ctx)?;
    obs.begin(Stage::Calibrate, (chunks.len() * (model.hparams.n_layers + 1)) as u64);
    let started = Instant::now();
    let states = budget.states();
    let c = calib::scan(&t, &tokens, spec.ctx, &chunks, bos, criterion, states, hessians, &mut |d| {
        obs.advance(d as u64, None)
    })?;
    obs.end(Stage::Calibrate);
    let seconds = started.elapsed().as_secs_f64();
    let info = RunInfo {
        source,
        chunks: chunks.len(),
        ctx: spec.ctx,
        seed: spec.seed,
        text_tokens: tokens.len(),
        seconds,
        tokens_per_second: (chunks.len() * spec.ctx) as f64 / seconds,
        chunk_indices: chunks,
    };
    Ok(Calibrated { collector: c, info, token_texts })
}

/// A scan: the calibration run and its report.
pub struct Scan {
    pub run: Calibrated,
    pub report: ScanReport,
}

impl Scan {
    /// Writes llama.cpp's importance matrix (`llama-quantize --imatrix`); returns its tensor count.
    pub fn write_imatrix(&self, model: &Model, path: &Path, dataset: &str) -> Result<usize> {
        let i = &self.run.info;
        calib::imatrix::write(path, model, &self.run.collector, dataset, i.chunks, i.ctx)
    }

    /// Draws the per-layer magnitudes and sink shares to a PNG.
    pub fn write_plot(&self, path: &Path) -> Result<()> {
        calib::plot::write(path, &self.report)
    }
}

/// Runs the calibration and builds the full report, with at most `max_entries` listed hits.
pub fn scan(
    model: &Model,
    spec: &CalibSpec,
    criterion: Criterion,
    max_entries: usize,
    budget: &Budget,
    obs: &mut dyn Observer,
) -> Result<Scan> {
    scan_with(model, spec, criterion, max_entries, false, budget, obs)
}

/// [`scan`], with each linear input's Hessian collected when `hessians`.
fn scan_with(
    model: &Model,
    spec: &CalibSpec,
    criterion: Criterion,
    max_entries: usize,
    hessians: bool,
    budget: &Budget,
    obs: &mut dyn Observer,
) -> Result<Scan> {
    let run = run(model, spec, criterion, hessians, budget, obs)?;
    let info = serde_json::to_value(&run.info).expect("calibration info serializes");
    let texts = &run.token_texts;
    let report = report::build(model, &run.collector, &|id| texts.get(id), info, max_entries)?;
    Ok(Scan { run, report })
}

/// What the quantizer takes from calibration, and where it came from.
pub struct QuantCalibration {
    pub cal: Calibration,
    /// The text's name and sha256 (empty for the built-in set).
    pub source: (String, String),
    pub seconds: f64,
    pub cached: bool,
}

/// Everything the calibration depends on, hashed.
fn cache_key(input: &Path, text_sha: &str, spec: &CalibSpec) -> Result<Sha256Hex> {
    let abs = std::path::absolute(input).map_err(|e| crate::Error::io(input, e))?;
    let v = serde_json::json!({
        "tool": env!("CARGO_PKG_VERSION"),
        "model": abs,
        "files": model_files(input)?,
        "text": text_sha, "chunks": spec.chunks, "ctx": spec.ctx, "seed": spec.seed,
    });
    Ok(sha256_json(&v))
}

/// The calibration `quantize` needs: run, or taken from `cache` when an earlier run calibrated
/// the same model files on the same text with the same chunks, context and seed. With
/// `hessians` (GPTQ) it always runs: Hessians are too large to cache.
pub fn calibration(
    model: &Model,
    input: &Path,
    spec: &CalibSpec,
    cache: Option<&Path>,
    hessians: bool,
    budget: &Budget,
    obs: &mut dyn Observer,
) -> Result<QuantCalibration> {
    let source = match &spec.text {
        Some(p) => (p.display().to_string(), sha256_file(p)?.to_string()),
        None => ("built-in".to_string(), String::new()),
    };
    let key = cache.map(|_| cache_key(input, &source.1, spec)).transpose()?;
    if let (Some(dir), Some(key)) = (cache, &key) {
        if let Some(cal) = calib_cache::load(dir, key, model).filter(|_| !hessians) {
            obs.note(Note::CalibrationCached { model: input, dir });
            return Ok(QuantCalibration { cal, source, seconds: 0.0, cached: true });
        }
    }
    let t0 = Instant::now();
    obs.note(Note::Calibrating { model: input, chunks: spec.chunks, ctx: spec.ctx });
    let mut s = scan_with(model, spec, Criterion::default(), 0, hessians, budget, obs)?;
    let cal = Calibration {
        protected: Protected::from_report(model, &s.report),
        importance: importance::by_role(model, &s.run.collector),
        chunks: s.run.info.chunks,
        hessians: s
            .run
            .collector
            .hessians
            .take()
            .map_or_else(Default::default, |h| importance::hessians_by_role(model, h)),
    };
    if let (Some(dir), Some(key)) = (cache, &key) {
        calib_cache::save(dir, key, &cal)?;
    }
    Ok(QuantCalibration { cal, source, seconds: t0.elapsed().as_secs_f64(), cached: false })
}
