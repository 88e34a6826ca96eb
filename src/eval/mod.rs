//! Evaluation: perplexity with llama.cpp's protocol, and comparison of quantized candidates
//! with a base model (KL divergence, top-1 agreement, delta-p).
//!
//! Protocol (llama.cpp tools/perplexity): the token stream is cut into chunks of `ctx` tokens,
//! each evaluated from an empty cache; with a BOS-adding model the first token of each chunk
//! is replaced by BOS; only the second half of each chunk is scored: for positions
//! `j in [ctx/2, ctx-1)` the negative log-likelihood of token `j+1`.

mod base_logits;
pub mod compare;
pub mod logprob;

use crate::error::{Error, Result};
use crate::forward::{Chunk, Hook, Transformer};
use candle_core::Tensor;
use rayon::prelude::*;
use std::cell::Cell;

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct ChunkPlan {
    pub ctx: usize,
    pub chunks: usize,
    /// First position whose logits are scored.
    pub first: usize,
}

impl ChunkPlan {
    pub fn new(n_tokens: usize, ctx: usize, max_chunks: Option<usize>) -> Result<Self> {
        if ctx < 8 {
            return Err(Error::Invalid(format!("a context of {ctx} tokens is too small (at least 8)")));
        }
        let available = n_tokens / ctx;
        if available == 0 {
            return Err(Error::Invalid(format!("the text has {n_tokens} tokens, fewer than one chunk of {ctx}")));
        }
        let chunks = max_chunks.map_or(available, |m| m.min(available));
        if chunks == 0 {
            return Err(Error::Invalid("evaluation needs at least 1 chunk".into()));
        }
        Ok(ChunkPlan { ctx, chunks, first: ctx / 2 })
    }

    /// Tokens scored per chunk.
    pub fn scored_per_chunk(&self) -> usize {
        self.ctx - 1 - self.first
    }

    /// The input of chunk `i` (BOS in front when the model adds one) and its scored targets.
    pub fn chunk<'a>(&self, tokens: &'a [u32], i: usize, bos: Option<u32>) -> (Vec<u32>, &'a [u32]) {
        let c = &tokens[i * self.ctx..(i + 1) * self.ctx];
        let mut input = c.to_vec();
        if let Some(b) = bos {
            input[0] = b;
        }
        (input, &c[self.first + 1..])
    }
}

impl ChunkPlan {
    /// The inputs of all planned chunks, named by their index.
    pub fn inputs(&self, tokens: &[u32], bos: Option<u32>) -> Vec<Chunk> {
        (0..self.chunks).map(|i| Chunk { id: i, tokens: self.chunk(tokens, i, bos).0 }).collect()
    }

    /// Steps of [`Transformer::run_chunks`] for one model over the plan.
    pub fn steps(&self, model: &Transformer) -> u64 {
        (self.chunks * (model.hparams.n_layers + 1)) as u64
    }
}

/// Logits as rows, and the vocabulary size.
fn rows_of(logits: Tensor) -> Result<(Vec<f32>, usize)> {
    let (_, vocab) = logits.dims2()?;
    Ok((logits.flatten_all().and_then(|t| t.to_vec1())?, vocab))
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct PplReport {
    pub ppl: f64,
    pub ppl_stderr: f64,
    pub tokens_scored: usize,
    pub chunks: usize,
    pub ctx: usize,
    pub seconds: f64,
}

/// Negative log-likelihoods of the targets given one row of logits each.
pub fn nll_rows(logits: &[f32], vocab: usize, targets: &[u32]) -> Vec<f64> {
    logits
        .par_chunks(vocab)
        .zip(targets.par_iter())
        .map(|(row, &t)| {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum = crate::kernels::exp::exp_sum(row, max);
            -(row[t as usize] as f64 - max as f64 - sum.ln())
        })
        .collect()
}

/// Runs the plan's chunks through `model` layer by layer and hands `scored(row, logits, vocab,
/// targets)` the logits of the scored positions in blocks, one row per target; `row` numbers
/// the block's first target over all chunks.
#[allow(clippy::too_many_arguments)]
fn score_chunks(
    model: &Transformer,
    tokens: &[u32],
    plan: &ChunkPlan,
    bos: Option<u32>,
    hook: Option<&mut dyn Hook>,
    state_budget: usize,
    scored: &mut dyn FnMut(usize, Vec<f32>, usize, &[u32]) -> Result<()>,
    progress: &mut dyn FnMut(usize),
) -> Result<()> {
    let inputs = plan.inputs(tokens, bos);
    let per_chunk = plan.scored_per_chunk();
    let mut on_logits = |i: usize, row: usize, logits: Tensor| {
        let (_, targets) = plan.chunk(tokens, i, bos);
        // The last position has no target: blocks end at the chunk's last target.
        let (mut rows, vocab) = rows_of(logits)?;
        let end = (row + rows.len() / vocab).min(targets.len());
        if row >= end {
            return Ok(());
        }
        rows.truncate((end - row) * vocab);
        scored(i * per_chunk + row, rows, vocab, &targets[row..end])
    };
    model.run_chunks(&inputs, plan.first, state_budget, hook, &mut on_logits, progress)
}

/// Perplexity over the planned chunks, run layer by layer with hidden states of at most
/// `state_budget` bytes at once; `progress(steps, running_ppl)` after each (chunk, layer) step
/// (the running value is NaN until a chunk is scored). An optional hook (e.g. an
/// intervention) sees every chunk.
pub fn perplexity(
    model: &Transformer,
    tokens: &[u32],
    plan: &ChunkPlan,
    bos: Option<u32>,
    hook: Option<&mut dyn Hook>,
    state_budget: usize,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<PplReport> {
    let started = std::time::Instant::now();
    let mut nll = Vec::with_capacity(plan.chunks * plan.scored_per_chunk());
    let running = Cell::new(f64::NAN);
    let mut scored = |_, rows: Vec<f32>, vocab, targets: &[u32]| {
        nll.extend(nll_rows(&rows, vocab, targets));
        running.set(logprob::ppl_stderr(&nll).0);
        Ok(())
    };
    let mut step = |steps| progress(steps, running.get());
    score_chunks(model, tokens, plan, bos, hook, state_budget, &mut scored, &mut step)?;
    let (ppl, ppl_stderr) = logprob::ppl_stderr(&nll);
    Ok(PplReport {
        ppl,
        ppl_stderr,
        tokens_scored: nll.len(),
        chunks: plan.chunks,
        ctx: plan.ctx,
        seconds: started.elapsed().as_secs_f64(),
    })
}
