//! Evaluation: perplexity with llama.cpp's protocol, and comparison of quantized candidates
//! with a base model (KL divergence, top-1 agreement, delta-p).
//!
//! Protocol (llama.cpp tools/perplexity): the token stream is cut into chunks of `ctx` tokens,
//! each evaluated from an empty cache; with a BOS-adding model the first token of each chunk
//! is replaced by BOS; only the second half of each chunk is scored: for positions
//! `j in [ctx/2, ctx-1)` the negative log-likelihood of token `j+1`.

pub mod compare;
pub mod logprob;

use crate::error::{Error, Result};
use crate::forward::{Hook, Transformer};
use rayon::prelude::*;

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

/// Logits of the scored positions of chunk `i`, one row per target.
pub fn chunk_logits(
    model: &Transformer,
    plan: &ChunkPlan,
    tokens: &[u32],
    i: usize,
    bos: Option<u32>,
    hook: Option<&mut dyn Hook>,
) -> Result<(Vec<f32>, usize)> {
    let (input, targets) = plan.chunk(tokens, i, bos);
    let logits = model.forward(&input, plan.first, hook)?;
    let (_, vocab) = logits.dims2()?;
    let mut flat: Vec<f32> = logits.flatten_all().and_then(|t| t.to_vec1())?;
    flat.truncate(targets.len() * vocab);
    Ok((flat, vocab))
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
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let sum: f64 = row.iter().map(|&l| (l as f64 - max).exp()).sum();
            -(row[t as usize] as f64 - max - sum.ln())
        })
        .collect()
}

/// Perplexity over the planned chunks; `progress(done, running_ppl)` after each chunk.
/// An optional hook (e.g. an intervention) sees every chunk.
pub fn perplexity(
    model: &Transformer,
    tokens: &[u32],
    plan: &ChunkPlan,
    bos: Option<u32>,
    mut hook: Option<&mut dyn Hook>,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<PplReport> {
    let started = std::time::Instant::now();
    let mut nll = Vec::with_capacity(plan.chunks * plan.scored_per_chunk());
    for i in 0..plan.chunks {
        let h: Option<&mut dyn Hook> = match &mut hook {
            Some(h) => Some(&mut **h),
            None => None,
        };
        let (logits, vocab) = chunk_logits(model, plan, tokens, i, bos, h)?;
        let (_, targets) = plan.chunk(tokens, i, bos);
        nll.extend(nll_rows(&logits, vocab, targets));
        progress(i + 1, logprob::ppl_stderr(&nll).0);
    }
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
