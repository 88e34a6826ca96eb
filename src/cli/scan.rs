//! `quantize scan MODEL`: massive activations, super weights, attention sinks, importance.

use super::calib_args::CalibArgs;
use super::progress::Terminal;
use anyhow::{Context, Result};
use sinkquant::model::Model;
use sinkquant::pipeline::{calibrate, Criterion, Scan};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Model: GGUF file, safetensors file, or Hugging Face directory
    model: PathBuf,
    #[command(flatten)]
    calib: CalibArgs,
    /// Write the full report as JSON to this file
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write llama.cpp's importance matrix (GGUF) for `llama-quantize --imatrix`
    #[arg(long)]
    imatrix: Option<PathBuf>,
    /// Draw per-layer magnitudes (top 1-3, median) and sink share to this PNG
    #[arg(long)]
    plot: Option<PathBuf>,
    /// A massive activation exceeds this absolute value...
    #[arg(long, default_value_t = 100.0)]
    abs_min: f32,
    /// ...and this multiple of the median |activation| of its layer's hidden state (Sun et al.)
    #[arg(long, default_value_t = 1000.0)]
    ratio: f32,
    /// Threads (default: all cores)
    #[arg(long)]
    threads: Option<usize>,
}

pub const LONG_ABOUT: &str = "Run calibration text through the model and report what a quantizer must \
protect: massive activations (residual-stream values above --abs-min and --ratio times the \
median of their layer's hidden state, Sun et al.), the layers where they appear and vanish and the tokens they fire on; \
the super weights (down-projection entries that write them, Yu et al.); attention sinks (share of \
attention on the first token, per layer and head); the per-layer top-3 and median magnitudes; and \
per-channel input statistics of every linear layer (exportable as llama.cpp's imatrix).";

pub fn run(a: Args) -> Result<()> {
    super::set_threads(a.threads)?;
    let model = Model::open(&a.model)?;
    let criterion = Criterion { abs_min: a.abs_min, ratio: a.ratio };
    let scan = calibrate::scan(&model, &a.calib.spec(), criterion, 2000, &a.calib.budget(), &mut Terminal::default())?;
    super::emit(&render(&a, &scan))?;
    let r = &scan.report;
    if let Some(p) = &a.json {
        super::write_json(p, &serde_json::to_value(r)?).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    if let Some(p) = &a.plot {
        scan.write_plot(p)?;
        eprintln!("wrote {}", p.display());
    }
    if let Some(p) = &a.imatrix {
        let dataset = a
            .calib
            .calib
            .as_ref()
            .map_or("sinkquant built-in calibration set".to_string(), |p| p.display().to_string());
        let n = scan.write_imatrix(&model, p, &dataset)?;
        eprintln!("wrote {} ({n} tensors)", p.display());
    }
    Ok(())
}

/// The terminal summary of a scan.
fn render(a: &Args, scan: &Scan) -> String {
    let (r, info) = (&scan.report, &scan.run.info);
    let mut o = String::new();
    use std::fmt::Write;
    let _ = writeln!(
        o,
        "{} ({}), {} chunks of {} tokens in {:.1} s ({:.0} tokens/s)",
        a.model.display(),
        r.architecture,
        info.chunks,
        info.ctx,
        info.seconds,
        info.tokens_per_second
    );
    let _ = writeln!(
        o,
        "\nmassive dimensions (|a| > {} and >= {}x the median of the layer's hidden state):",
        a.abs_min, a.ratio
    );
    if r.massive_dims.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for d in &r.massive_dims {
        let toks: Vec<String> = d.tokens.iter().take(5).map(|(t, n)| format!("{t:?} x{n}")).collect();
        let _ = writeln!(
            o,
            "  dim {:>5}: layers {:>2}-{:<2}  max |a| {:>9.1}  {:>7.0}x median  at first token {:>9.1} +/- {:<7.1} ({:.0}% of hits at position 0)  fires on {}",
            d.dim, d.first_layer, d.last_layer, d.max_abs, d.median_ratio, d.first_token_mean, d.first_token_std, 100.0 * d.first_position_share, toks.join(", ")
        );
        if let Some(w) = d.ffn_write {
            let _ = writeln!(o, "             grows most at layer {}, whose FFN down projection writes {:.1} into it at the first token", d.origin_layer, w);
        }
    }
    if !r.origins.is_empty() {
        let _ = writeln!(o, "\norigins:");
    }
    for d in &r.origins {
        let _ = writeln!(o, "  {}", d.describe());
    }
    let _ = writeln!(o, "\nsuper weights (down projection entries writing a massive dimension at the first token):");
    if r.super_weights.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for s in &r.super_weights {
        let _ = writeln!(
            o,
            "  {} [row {}, col {}] = {:+.4}  x input {:+.2} -> {:+.1}",
            s.tensor, s.row, s.col, s.value, s.input, s.contribution
        );
    }
    let _ =
        writeln!(o, "\nper layer: top-3 |a| of the residual stream, median |a|, attention share on the first token");
    for (l, s) in r.layers.iter().zip(&r.sink_share) {
        let _ = writeln!(
            o,
            "  layer {:>2}: {:>9.1} {:>9.1} {:>9.1}   median {:>7.3}   sink {:>5.1}%",
            l.layer,
            l.top1,
            l.top2,
            l.top3,
            l.median,
            100.0 * s
        );
    }
    o
}
