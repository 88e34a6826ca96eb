//! Calibration: text in, statistics out. Chunks of calibration text run through the forward
//! pass with a [`collect::Collector`] hook; [`report`] turns what it saw into massive
//! dimensions, super weights, sinks and importance; [`imatrix`] writes llama.cpp's format.

pub mod collect;
pub mod hessian;
pub mod imatrix;
pub mod importance;
pub mod intervene;
pub mod origin;
pub mod plot;
pub mod report;

use crate::error::{Error, Result};
use crate::forward::{Chunk, Transformer};
use collect::{Collector, Criterion};

/// The default calibration text (see calibration/README.md): web, stories, code, technical.
pub const DEFAULT_SET: [(&str, &str); 4] = [
    ("c4", include_str!("../../calibration/c4.txt")),
    ("tiny", include_str!("../../calibration/tiny.txt")),
    ("code", include_str!("../../calibration/code.txt")),
    ("technical", include_str!("../../calibration/technical.txt")),
];

pub fn default_text() -> String {
    DEFAULT_SET.iter().map(|(_, t)| *t).collect::<Vec<_>>().join("\n\n")
}

/// Which chunks of `ctx` tokens to use: `seed` 0 takes the first `n` in order (as llama-imatrix
/// does); any other seed draws `n` distinct chunks reproducibly (xorshift), kept in text order.
pub fn select_chunks(n_tokens: usize, ctx: usize, n: usize, seed: u64) -> Result<Vec<usize>> {
    let available = n_tokens / ctx;
    if available == 0 || n == 0 {
        return Err(Error::Invalid(format!("calibration text has {n_tokens} tokens: no chunk of {ctx}")));
    }
    let n = n.min(available);
    if seed == 0 {
        return Ok((0..n).collect());
    }
    let mut order: Vec<usize> = (0..available).collect();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..available).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        order.swap(i, (s % (i as u64 + 1)) as usize);
    }
    let mut pick = order[..n].to_vec();
    pick.sort_unstable();
    Ok(pick)
}

/// Runs the chosen chunks through the model layer by layer (hidden states of at most
/// `state_budget` bytes at once), collecting statistics; `progress(steps)` counts finished
/// (chunk, layer) steps, `chunks.len() * (n_layers + 1)` in all. With `hessians` the collector
/// also sums each linear input's `X^T X`.
#[allow(clippy::too_many_arguments)]
pub fn scan(
    t: &Transformer,
    tokens: &[u32],
    ctx: usize,
    chunks: &[usize],
    bos: Option<u32>,
    criterion: Criterion,
    state_budget: usize,
    hessians: bool,
    progress: &mut dyn FnMut(usize),
) -> Result<Collector> {
    let mut c = Collector::new(t.hparams.n_layers, criterion);
    if hessians {
        c.hessians = Some(hessian::Hessians::default());
    }
    let inputs: Vec<Chunk> = chunks
        .iter()
        .map(|&i| {
            let mut input = tokens[i * ctx..(i + 1) * ctx].to_vec();
            if let Some(b) = bos {
                input[0] = b;
            }
            Chunk { id: i, tokens: input }
        })
        .collect();
    // Only the last position's logits: the statistics come from the hook.
    t.run_chunks(&inputs, ctx - 1, state_budget, Some(&mut c), &mut |_, _, _| Ok(()), progress)?;
    c.finish();
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    /// What a collector gathered, comparable bit for bit.
    fn digest(c: &Collector) -> String {
        let hits: Vec<_> = c.hits.iter().map(|h| (h.chunk, h.layer, h.token_index, h.dim, h.value.to_bits())).collect();
        let mut linear: Vec<_> = c.linear.iter().map(|(k, s)| (*k, s.sum_sq.clone(), s.count)).collect();
        linear.sort_by_key(|(k, _, _)| *k);
        let layers: Vec<_> = c.layers.iter().map(|l| (l.top3, l.median_sum, l.tokens, l.first_token.clone())).collect();
        format!("{hits:?} {} {:?} {linear:?} {layers:?} {:?}", c.hits_dropped, c.dim_stats, c.sink_sum)
    }

    /// Statistics do not depend on how the chunks were grouped: one chunk at a time through the
    /// whole model (the order before layer-by-layer runs), groups of one or two chunks, or all at
    /// once give the same bits; with a cap on the hits listed, the kept ones are the first ones a
    /// chunk-by-chunk pass meets.
    #[test]
    fn statistics_are_the_same_in_any_grouping() {
        let models = std::env::var("SINKQUANT_MODELS").unwrap_or_else(|_| "models".into());
        let path = std::path::Path::new(&models).join("hf/smollm2-135m");
        let model = Model::open(&path).unwrap_or_else(|e| panic!("{e}: run scripts/fetch-models.sh first"));
        let t = Transformer::load(&model, 64).unwrap();
        let tok = crate::tokenizer::text::TextTokenizer::for_model(&model).unwrap();
        let tokens = tok.encode(&default_text()).unwrap();
        let chunks = [0, 3, 4];
        let state = t.state_bytes(64);
        let run = |budget: usize, max_hits: usize| {
            let mut c = Collector::new(t.hparams.n_layers, Criterion::default());
            c.max_hits = max_hits;
            let inputs: Vec<Chunk> =
                chunks.iter().map(|&i| Chunk { id: i, tokens: tokens[i * 64..(i + 1) * 64].to_vec() }).collect();
            t.run_chunks(&inputs, 63, budget, Some(&mut c), &mut |_, _, _| Ok(()), &mut |_| {}).unwrap();
            c.finish();
            c
        };
        // The reference: each chunk alone through the whole model, every hit kept.
        let mut one_by_one = Collector::new(t.hparams.n_layers, Criterion::default());
        one_by_one.max_hits = usize::MAX;
        for &i in &chunks {
            let input = [Chunk { id: i, tokens: tokens[i * 64..(i + 1) * 64].to_vec() }];
            t.run_chunks(&input, 63, 0, Some(&mut one_by_one), &mut |_, _, _| Ok(()), &mut |_| {}).unwrap();
        }
        one_by_one.finish();
        let all = digest(&one_by_one);
        assert!(one_by_one.hits.len() > 10, "SmolLM2 has massive activations: {} hits", one_by_one.hits.len());
        for budget in [0, 2 * state, usize::MAX] {
            assert_eq!(digest(&run(budget, usize::MAX)), all, "states budget {budget}");
            let capped = run(budget, 7);
            let first: Vec<_> = one_by_one.hits[..7].iter().map(|h| (h.chunk, h.layer, h.token_index, h.dim)).collect();
            let got: Vec<_> = capped.hits.iter().map(|h| (h.chunk, h.layer, h.token_index, h.dim)).collect();
            assert_eq!(got, first, "states budget {budget}");
            assert_eq!(capped.hits_dropped, one_by_one.hits.len() - 7);
        }
    }

    #[test]
    fn chunk_selection_is_reproducible() {
        assert_eq!(select_chunks(5000, 512, 3, 0).unwrap(), vec![0, 1, 2]);
        let a = select_chunks(51200, 512, 10, 7).unwrap();
        assert_eq!(a, select_chunks(51200, 512, 10, 7).unwrap());
        assert_ne!(a, select_chunks(51200, 512, 10, 8).unwrap());
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && *a.last().unwrap() < 100);
        assert_eq!(select_chunks(2000, 512, 10, 3).unwrap().len(), 3, "at most what the text holds");
        assert!(select_chunks(100, 512, 1, 0).is_err());
    }
}
