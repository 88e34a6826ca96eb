//! The calibration `quantize` needs (protected tensors, column importance): run, or taken from
//! `--calib-cache` when an earlier run calibrated the same model files on the same text with
//! the same chunks, context and seed.

use super::scan::{calibrate, CalibArgs};
use anyhow::Result;
use sinkquant::calib::{collect::Criterion, importance, report};
use sinkquant::io::fingerprint::{model_files, sha256_file};
use sinkquant::model::Model;
use sinkquant::plan::calib_cache::{self, Calibration};
use sinkquant::plan::Protected;
use std::path::Path;
use std::time::Instant;

pub struct Calibrated {
    pub cal: Calibration,
    /// The text's name and sha256 (empty for the built-in set).
    pub source: (String, String),
    pub seconds: f64,
    pub cached: bool,
}

/// Everything the calibration depends on, hashed.
fn cache_key(input: &Path, text_sha: &str, a: &CalibArgs) -> Result<String> {
    use sha2::{Digest, Sha256};
    let v = serde_json::json!({
        "tool": env!("CARGO_PKG_VERSION"),
        "model": std::path::absolute(input)?,
        "files": model_files(input)?,
        "text": text_sha, "chunks": a.calib_chunks, "ctx": a.calib_ctx, "seed": a.seed,
    });
    Ok(format!("{:x}", Sha256::digest(v.to_string().as_bytes())))
}

pub fn calibration(model: &Model, input: &Path, a: &CalibArgs, cache: Option<&Path>) -> Result<Calibrated> {
    let source = match &a.calib {
        Some(p) => (p.display().to_string(), sha256_file(p)?),
        None => ("built-in".to_string(), String::new()),
    };
    let key = cache.map(|_| cache_key(input, &source.1, a)).transpose()?;
    if let (Some(dir), Some(key)) = (cache, &key) {
        if let Some(cal) = calib_cache::load(dir, key, model) {
            println!("calibration of {} taken from {}", input.display(), dir.display());
            return Ok(Calibrated { cal, source, seconds: 0.0, cached: true });
        }
    }
    let t0 = Instant::now();
    println!("calibrating {} ({} chunks of {} tokens)", input.display(), a.calib_chunks, a.calib_ctx);
    let c = calibrate(model, a, Criterion::default())?;
    let tok = &c.tokenizer;
    let r = report::build(model, &c.collector, &|id| tok.token_text(id), c.info.clone(), 0)?;
    let cal = Calibration {
        protected: Protected::from_report(model, &r),
        importance: importance::by_role(model, &c.collector),
        chunks: c.chunks,
    };
    if let (Some(dir), Some(key)) = (cache, &key) {
        calib_cache::save(dir, key, &cal)?;
    }
    Ok(Calibrated { cal, source, seconds: t0.elapsed().as_secs_f64(), cached: false })
}
