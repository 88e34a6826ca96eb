//! `quantize ppl MODEL --text FILE`.

use super::progress::Terminal;
use anyhow::{Context, Result};
use sinkquant::eval::perplexity;
use sinkquant::forward::Transformer;
use sinkquant::model::Model;
use sinkquant::pipeline::{intervene::intervention, Intervention};
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
    intervene: Option<Mode>,
    /// Scan report (`quantize scan --json`) naming the massive dimensions; without it,
    /// --intervene runs a scan of the built-in calibration set first
    #[arg(long, requires = "intervene")]
    scan: Option<PathBuf>,
}

/// `--intervene`, mapped onto the library's [`Intervention`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Zero,
    Mean,
}

impl From<Mode> for Intervention {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Zero => Intervention::Zero,
            Mode::Mean => Intervention::Mean,
        }
    }
}

pub const LONG_ABOUT: &str = "Perplexity with llama.cpp's protocol (llama-perplexity): the text is \
tokenized with the model's own tokenizer (BOS first when the model adds one), cut into chunks of \
--ctx tokens each evaluated from an empty cache (first token replaced by BOS), and only the second \
half of each chunk is scored. Prints a running value per chunk and `PPL = x +/- y`. Quantized GGUF \
tensors are multiplied in their quantized form (activations rounded to 8 bits, as llama.cpp does).";

pub fn run(a: Args) -> Result<()> {
    a.eval.set_threads()?;
    let model = Model::open(&a.model)?;
    let super::eval_args::Prepared { tokens: ids, bos, plan } = a.eval.prepare(&model)?;
    let t = Transformer::load(&model, plan.ctx)?;
    eprintln!(
        "{}: {} tokens, {} chunks of {} ({} scored each), BOS {}",
        a.eval.text.display(),
        ids.len(),
        plan.chunks,
        plan.ctx,
        plan.scored_per_chunk(),
        if bos.is_some() { "added" } else { "not added" }
    );
    let budget = a.eval.budget();
    super::eval_args::check_memory(&model, &plan, false, budget)?;
    let bar = super::progress::bar(plan.steps(&t), "{spinner} [{bar:30}] {percent}% of chunk-layers {msg} eta {eta}");
    let mut intervene = match a.intervene {
        Some(mode) => Some(intervention(&model, mode.into(), a.scan.as_deref(), &mut Terminal::default())?),
        None => None,
    };
    let hook = intervene.as_mut().map(|h| h as &mut dyn sinkquant::forward::Hook);
    let report = perplexity(&t, &ids, &plan, bos, hook, budget.states(), &mut |done, running| {
        bar.set_position(done as u64);
        if running.is_finite() {
            bar.set_message(format!("PPL {running:.4}"));
        }
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
