//! `quantize ppl MODEL --text FILE`.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sinkquant::calib::collect::Criterion;
use sinkquant::calib::intervene::{Intervene, Intervention};
use sinkquant::calib::report;
use sinkquant::eval::perplexity;
use sinkquant::forward::Transformer;
use sinkquant::model::Model;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Model: GGUF file, safetensors file, or Hugging Face directory
    model: PathBuf,
    #[command(flatten)]
    eval: super::eval_args::EvalArgs,
    /// Set the massive activations (at the layer where they appear, at the tokens where they
    /// fire) to zero or to their calibration mean while evaluating (Sun et al.'s experiment)
    #[arg(long, value_enum)]
    intervene: Option<Intervention>,
    /// Scan report (`quantize scan --json`) naming the massive dimensions; without it,
    /// --intervene runs a scan of the built-in calibration set first
    #[arg(long, requires = "intervene")]
    scan: Option<PathBuf>,
}

pub const LONG_ABOUT: &str = "Perplexity with llama.cpp's protocol (llama-perplexity): the text is \
tokenized with the model's own tokenizer (BOS first when the model adds one), cut into chunks of \
--ctx tokens each evaluated from an empty cache (first token replaced by BOS), and only the second \
half of each chunk is scored. Prints a running value per chunk and `PPL = x +/- y`. Quantized GGUF \
tensors are multiplied in their quantized form (activations rounded to 8 bits, as llama.cpp does).";

pub fn run(a: Args) -> Result<()> {
    let model = Model::open(&a.model)?;
    let super::eval_args::Prepared { tokenizer: tok, tokens: ids, plan } = a.eval.prepare(&model)?;
    let t = Transformer::load(&model, plan.ctx)?;
    eprintln!(
        "{}: {} tokens, {} chunks of {} ({} scored each), BOS {}",
        a.eval.text.display(),
        ids.len(),
        plan.chunks,
        plan.ctx,
        plan.scored_per_chunk(),
        if tok.add_bos { "added" } else { "not added" }
    );
    let bar = ProgressBar::new(plan.chunks as u64).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] chunk {pos}/{len} {msg} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut intervene = match a.intervene {
        Some(mode) => Some(intervention(&model, mode, a.scan.as_deref())?),
        None => None,
    };
    let hook = intervene.as_mut().map(|h| h as &mut dyn sinkquant::forward::Hook);
    let report = perplexity(&t, &ids, &plan, tok.bos, hook, &mut |done, running| {
        bar.set_position(done as u64);
        bar.set_message(format!("PPL {running:.4}"));
    })?;
    bar.finish_and_clear();
    println!(
        "PPL = {:.4} +/- {:.5}  ({} tokens in {} chunks of {}, {:.1} s, {:.0} tokens/s)",
        report.ppl,
        report.ppl_stderr,
        report.tokens_scored,
        report.chunks,
        report.ctx,
        report.seconds,
        (report.chunks * report.ctx) as f64 / report.seconds
    );
    if let Some(h) = &intervene {
        println!("intervention {:?}: {} activations changed", h.mode, h.changed);
    }
    if let Some(p) = a.eval.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(h) = &intervene {
            v["intervention"] = serde_json::to_value(h.mode)?;
            v["intervened_activations"] = h.changed.into();
        }
        v["model"] = a.model.display().to_string().into();
        v["text"] = a.eval.text.display().to_string().into();
        v["model_bytes"] = model.size().1.into();
        super::write_json(&p, &v).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    Ok(())
}

/// The intervention hook: massive dimensions from a scan report, or from a fresh scan.
fn intervention(model: &Model, mode: Intervention, scan: Option<&std::path::Path>) -> Result<Intervene> {
    let (criterion, dims): (Criterion, Vec<(usize, usize, f32)>) = match scan {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{}: not a scan report", p.display()))?;
            let crit = serde_json::from_value(v["criterion"].clone())
                .with_context(|| format!("{}: no criterion", p.display()))?;
            let dims = v["massive_dims"]
                .as_array()
                .with_context(|| format!("{}: no massive_dims", p.display()))?
                .iter()
                .map(|d| {
                    Some((
                        d["first_layer"].as_u64()? as usize,
                        d["dim"].as_u64()? as usize,
                        d["mean_value"].as_f64()? as f32,
                    ))
                })
                .collect::<Option<_>>()
                .with_context(|| format!("{}: malformed massive_dims entry", p.display()))?;
            (crit, dims)
        }
        None => {
            let calib = super::scan::CalibArgs { calib: None, calib_chunks: 8, calib_ctx: 512, seed: 1 };
            let c = super::scan::calibrate(model, &calib, Criterion::default())?;
            let r = report::build(model, &c.collector, &|id| c.tokenizer.token_text(id), c.info, 0)?;
            (Criterion::default(), r.massive_dims.iter().map(|d| (d.first_layer, d.dim, d.mean_value as f32)).collect())
        }
    };
    if dims.is_empty() {
        anyhow::bail!("no massive activations to intervene on (the scan found none)");
    }
    let mut targets: BTreeMap<usize, Vec<(usize, f32)>> = BTreeMap::new();
    for (layer, dim, mean) in dims {
        if layer >= model.hparams.n_layers || dim >= model.hparams.d_model {
            anyhow::bail!("scan report names layer {layer}, dim {dim}: not in this model");
        }
        targets.entry(layer).or_default().push((dim, mean));
    }
    Ok(Intervene { mode, criterion, targets, changed: 0 })
}
