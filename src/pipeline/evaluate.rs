//! The evaluation stage of a job: the source and the written output compared on a text (PPL
//! before and after, KL divergence and top-1 agreement of the output against the source).

use super::job::EvalSpec;
use super::observer::{Note, Observer, Stage};
use super::summary::EvalSummary;
use crate::error::Result;
use crate::eval::compare::compare;
use crate::eval::ChunkPlan;
use crate::forward::Transformer;
use crate::memory::Budget;
use crate::model::Model;
use crate::tokenizer::text::{read_text, TextTokenizer};
use std::path::Path;

/// Compares `output` with `source` on `spec.text`, in chunks of `ctx` tokens.
pub fn evaluate(
    source: &Model,
    output: &Path,
    spec: &EvalSpec,
    ctx: usize,
    budget: &Budget,
    obs: &mut dyn Observer,
) -> Result<EvalSummary> {
    obs.note(Note::Evaluating { text: &spec.text, chunks: spec.chunks, ctx });
    let out = Model::open(output)?;
    let (ids, bos) = {
        let tok = TextTokenizer::for_model(source)?;
        (tok.encode_at_least(&read_text(&spec.text)?, Some(spec.chunks * ctx))?, tok.bos)
    };
    let plan = ChunkPlan::new(ids.len(), ctx, Some(spec.chunks))?;
    let (tb, tc) = (Transformer::load(source, ctx)?, Transformer::load(&out, ctx)?);
    obs.begin(Stage::Evaluate, plan.steps(&tb) + plan.steps(&tc));
    let (states, logits) = (budget.states(), budget.logits());
    let cmp = compare(&tb, &[&tc], &ids, &plan, bos, states, logits, &mut |d| obs.advance(d as u64, None))?;
    obs.end(Stage::Evaluate);
    let c = &cmp.candidates[0];
    Ok(EvalSummary {
        text: spec.text.display().to_string(),
        chunks: plan.chunks,
        ctx: plan.ctx,
        ppl_before: cmp.base_ppl,
        ppl_after: c.ppl,
        kld: c.kld_mean,
        kld_stderr: c.kld_stderr,
        top1_agreement: c.top1_agreement,
    })
}
