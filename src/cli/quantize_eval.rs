//! `quantize --eval TEXT`: the source and the written output compared on a text.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use sinkquant::eval::compare::compare;
use sinkquant::eval::tokens::{read_text, TextTokenizer};
use sinkquant::eval::ChunkPlan;
use sinkquant::forward::Transformer;
use sinkquant::model::Model;
use std::path::Path;

/// PPL of source and output, KLD and top-1 agreement of the output against the source.
pub fn evaluate(source: &Model, output: &Path, text: &Path, ctx: usize, chunks: usize) -> Result<Value> {
    println!("evaluating on {} ({chunks} chunks of {ctx} tokens)", text.display());
    let out = Model::open(output)?;
    let tok = TextTokenizer::for_model(source)?;
    let ids = tok.encode_at_least(&read_text(text)?, Some(chunks * ctx))?;
    let plan = ChunkPlan::new(ids.len(), ctx, Some(chunks))?;
    let (tb, tc) = (Transformer::load(source, ctx)?, Transformer::load(&out, ctx)?);
    let bar = ProgressBar::new(plan.chunks as u64).with_style(
        ProgressStyle::with_template("{spinner} evaluating [{bar:30}] chunk {pos}/{len} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let cmp = compare(&tb, &[&tc], &ids, &plan, tok.bos, &mut |d| bar.set_position(d as u64))?;
    bar.finish_and_clear();
    let c = &cmp.candidates[0];
    println!(
        "eval {} ({} chunks of {}): PPL {:.4} -> {:.4} ({:+.2}%), KLD {:.5} +/- {:.5}, top-1 agreement {:.2}%",
        text.display(),
        plan.chunks,
        plan.ctx,
        cmp.base_ppl,
        c.ppl,
        100.0 * (c.ppl / cmp.base_ppl - 1.0),
        c.kld_mean,
        c.kld_stderr,
        100.0 * c.top1_agreement
    );
    Ok(json!({
        "text": text.display().to_string(), "chunks": plan.chunks, "ctx": plan.ctx,
        "ppl_before": cmp.base_ppl, "ppl_after": c.ppl, "kld": c.kld_mean, "kld_stderr": c.kld_stderr,
        "top1_agreement": c.top1_agreement,
    }))
}
