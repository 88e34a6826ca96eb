//! Base-versus-candidates comparison: the base runs over all chunks first and its logits are
//! kept ([`BaseLogits`]: in memory up to a limit, beyond it on disk); then each candidate runs
//! and is scored against them. One model runs at a time, each layer by layer.

use super::base_logits::BaseLogits;
use super::{logprob, score_chunks, ChunkPlan};
use crate::error::Result;
use crate::forward::Transformer;
use rayon::prelude::*;

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CandidateStats {
    pub ppl: f64,
    pub ppl_stderr: f64,
    pub kld_mean: f64,
    pub kld_stderr: f64,
    pub kld_p99: f64,
    pub kld_median: f64,
    pub top1_agreement: f64,
    pub rms_delta_p: f64,
    pub tokens_scored: usize,
}

#[derive(Default)]
struct Acc {
    nll: Vec<f64>,
    kld: Vec<f64>,
    same_top: usize,
    dp2: f64,
}

pub struct Comparison {
    pub base_ppl: f64,
    pub base_ppl_stderr: f64,
    pub candidates: Vec<CandidateStats>,
    pub seconds: f64,
    /// Whether the base's logits went to a temporary file (more than the memory limit).
    pub base_on_disk: bool,
}

/// Per token: (candidate NLL, KLD, same argmax, delta-p of the target).
fn token_stats(base: &[f32], cand: &[f32], target: usize) -> (f64, f64, bool, f64) {
    let lb = logprob::log_softmax(base);
    let lc = logprob::log_softmax(cand);
    let kld = logprob::kl_divergence(&lb, &lc);
    let same = logprob::argmax(base) == logprob::argmax(cand);
    (-lc[target], kld, same, lc[target].exp() - lb[target].exp())
}

/// Compares `cands` with `base` over the planned chunks: hidden states of at most
/// `state_budget` bytes and base logits of at most `logits_budget` bytes in memory;
/// `progress(steps)` counts (chunk, layer) steps of all models, base first.
#[allow(clippy::too_many_arguments)]
pub fn compare(
    base: &Transformer,
    cands: &[&Transformer],
    tokens: &[u32],
    plan: &ChunkPlan,
    bos: Option<u32>,
    state_budget: usize,
    logits_budget: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Comparison> {
    let started = std::time::Instant::now();
    let mut base_nll = Vec::new();
    let mut kept = BaseLogits::new(base.hparams.vocab_size, logits_budget);
    let mut keep = |_, rows: Vec<f32>, vocab, targets: &[u32]| {
        base_nll.extend(super::nll_rows(&rows, vocab, targets));
        kept.push(&rows)
    };
    score_chunks(base, tokens, plan, bos, None, state_budget, &mut keep, progress)?;
    let mut offset = plan.steps(base) as usize;
    let mut accs: Vec<Acc> = cands.iter().map(|_| Acc::default()).collect();
    for (c, acc) in cands.iter().zip(accs.iter_mut()) {
        let mut score = |row, cl: Vec<f32>, vocab, targets: &[u32]| {
            let bl = kept.rows(row, targets.len())?;
            let rows: Vec<_> = bl
                .par_chunks(vocab)
                .zip(cl.par_chunks(vocab))
                .zip(targets.par_iter())
                .map(|((b, c), &t)| token_stats(b, c, t as usize))
                .collect();
            for (nc, kld, same, dp) in rows {
                acc.nll.push(nc);
                acc.kld.push(kld);
                acc.same_top += same as usize;
                acc.dp2 += dp * dp;
            }
            Ok(())
        };
        score_chunks(c, tokens, plan, bos, None, state_budget, &mut score, &mut |steps| progress(offset + steps))?;
        offset += plan.steps(c) as usize;
    }
    let (base_ppl, base_ppl_stderr) = logprob::ppl_stderr(&base_nll);
    let candidates = accs
        .into_iter()
        .map(|a| {
            let n = a.kld.len();
            let (ppl, ppl_stderr) = logprob::ppl_stderr(&a.nll);
            let (kld_mean, kld_stderr) = logprob::mean_stderr(&a.kld);
            CandidateStats {
                ppl,
                ppl_stderr,
                kld_mean,
                kld_stderr,
                kld_p99: logprob::quantile(&a.kld, 0.99),
                kld_median: logprob::quantile(&a.kld, 0.5),
                top1_agreement: a.same_top as f64 / n as f64,
                rms_delta_p: (a.dp2 / n as f64).sqrt(),
                tokens_scored: n,
            }
        })
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    Ok(Comparison { base_ppl, base_ppl_stderr, candidates, seconds, base_on_disk: kept.on_disk() })
}
