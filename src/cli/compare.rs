//! `quantize compare BASE CANDIDATE... --text FILE`.

use super::format;
use anyhow::{bail, Context, Result};
use serde_json::json;
use sinkquant::eval::compare::{compare, Comparison};
use sinkquant::forward::Transformer;
use sinkquant::model::Model;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The reference model (e.g. the F16 or the original)
    base: PathBuf,
    /// Models to compare with it (e.g. quantizations of it)
    #[arg(required = true)]
    candidates: Vec<PathBuf>,
    #[command(flatten)]
    eval: super::eval_args::EvalArgs,
}

pub const LONG_ABOUT: &str = "Compare candidates (e.g. quantizations) with a base model on the same \
text and chunks as `quantize ppl`: per candidate its PPL, PPL ratio and difference, mean KL \
divergence from the base (with standard error, median and 99th percentile), top-1 agreement (how \
often both pick the same most likely token, llama.cpp's \"same top p\"), RMS of delta-p (change in \
the probability of the true next token), file size and bits per weight. The base runs once per \
chunk; no logits are kept across chunks.";

fn name(p: &Path) -> String {
    p.display().to_string()
}

/// The candidates, each with the base's vocabulary.
fn open_candidates(a: &Args, base: &Model) -> Result<Vec<Model>> {
    let mut cands = Vec::new();
    for p in &a.candidates {
        let m = Model::open(p)?;
        if m.hparams.vocab_size != base.hparams.vocab_size {
            bail!(
                "{}: vocabulary of {} tokens, the base has {}",
                p.display(),
                m.hparams.vocab_size,
                base.hparams.vocab_size
            );
        }
        cands.push(m);
    }
    Ok(cands)
}

fn bpw(m: &Model) -> f64 {
    let (p, b) = m.size();
    b as f64 * 8.0 / p as f64
}

pub fn run(a: Args) -> Result<()> {
    a.eval.set_threads()?;
    let base = Model::open(&a.base)?;
    let super::eval_args::Prepared { tokens: ids, bos, plan } = a.eval.prepare(&base)?;
    let cands = open_candidates(&a, &base)?;
    let tb = Transformer::load(&base, plan.ctx)?;
    let tcs: Vec<Transformer> = cands.iter().map(|m| Transformer::load(m, plan.ctx)).collect::<Result<_, _>>()?;
    eprintln!(
        "{}: {} tokens, {} chunks of {}, {} candidate(s)",
        a.eval.text.display(),
        ids.len(),
        plan.chunks,
        plan.ctx,
        tcs.len()
    );
    let budget = a.eval.budget();
    super::eval_args::check_memory(&base, &plan, true, budget)?;
    let steps = plan.steps(&tb) + tcs.iter().map(|t| plan.steps(t)).sum::<u64>();
    let bar = super::progress::bar(steps, "{spinner} [{bar:30}] {percent}% of chunk-layers eta {eta}");
    let refs: Vec<&Transformer> = tcs.iter().collect();
    let (states, logits) = (budget.states(), budget.logits());
    let cmp = compare(&tb, &refs, &ids, &plan, bos, states, logits, &mut |d| bar.set_position(d as u64))?;
    bar.finish_and_clear();
    let out = print_table(&a, &base, &cands, &cmp)?;
    if let Some(p) = &a.eval.json {
        let v = json!({
            "base": name(&a.base), "ppl_base": cmp.base_ppl, "ppl_base_stderr": cmp.base_ppl_stderr,
            "base_size_bytes": base.bytes_on_disk(), "base_bpw": bpw(&base),
            "text": name(&a.eval.text), "ctx": plan.ctx, "chunks": plan.chunks, "seconds": cmp.seconds,
            "base_logits_on_disk": cmp.base_on_disk,
            "candidates": out,
        });
        super::write_json(p, &v).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    Ok(())
}

/// Prints the comparison table; returns each candidate's row as JSON.
fn print_table(a: &Args, base: &Model, cands: &[Model], cmp: &Comparison) -> Result<Vec<serde_json::Value>> {
    let base_size = base.bytes_on_disk();
    println!(
        "base {}: PPL = {:.4} +/- {:.5}, {}, {:.2} bpw",
        name(&a.base),
        cmp.base_ppl,
        cmp.base_ppl_stderr,
        format::bytes(base_size),
        bpw(base)
    );
    println!(
        "{:<40} {:>10} {:>6} {:>9} {:>8} {:>8} {:>16} {:>8} {:>7} {:>7}",
        "candidate", "size", "bpw", "PPL", "ratio", "diff", "KLD mean", "KLD p99", "top-1", "RMS dp"
    );
    let mut out = Vec::new();
    for ((p, m), s) in a.candidates.iter().zip(cands).zip(&cmp.candidates) {
        let size = m.bytes_on_disk();
        println!(
            "{:<40} {:>10} {:>6.2} {:>9.4} {:>8.4} {:>+8.4} {:>8.5}±{:<7.5} {:>8.4} {:>6.2}% {:>6.3}%",
            name(p),
            format::bytes(size),
            bpw(m),
            s.ppl,
            s.ppl / cmp.base_ppl,
            s.ppl - cmp.base_ppl,
            s.kld_mean,
            s.kld_stderr,
            s.kld_p99,
            100.0 * s.top1_agreement,
            100.0 * s.rms_delta_p
        );
        let mut v = serde_json::to_value(s)?;
        v["path"] = name(p).into();
        v["ppl_ratio"] = (s.ppl / cmp.base_ppl).into();
        v["ppl_diff"] = (s.ppl - cmp.base_ppl).into();
        v["size_bytes"] = size.into();
        v["bpw"] = bpw(m).into();
        out.push(v);
    }
    println!(
        "{} tokens scored per model in {:.1} s",
        cmp.candidates.first().map_or(0, |c| c.tokens_scored),
        cmp.seconds
    );
    Ok(out)
}
