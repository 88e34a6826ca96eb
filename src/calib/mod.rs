//! Calibration: text in, statistics out. Chunks of calibration text run through the forward
//! pass with a [`collect::Collector`] hook; [`report`] turns what it saw into massive
//! dimensions, super weights, sinks and importance; [`imatrix`] writes llama.cpp's format.

pub mod collect;
pub mod imatrix;
pub mod importance;
pub mod intervene;
pub mod origin;
pub mod plot;
pub mod report;

use crate::error::{Error, Result};
use crate::forward::Transformer;
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

/// Runs the chosen chunks through the model, collecting statistics; `progress(done)` after each.
pub fn scan(
    t: &Transformer,
    tokens: &[u32],
    ctx: usize,
    chunks: &[usize],
    bos: Option<u32>,
    criterion: Criterion,
    progress: &mut dyn FnMut(usize),
) -> Result<Collector> {
    let mut c = Collector::new(t.hparams.n_layers, criterion);
    for (done, &i) in chunks.iter().enumerate() {
        let mut input = tokens[i * ctx..(i + 1) * ctx].to_vec();
        if let Some(b) = bos {
            input[0] = b;
        }
        c.start_chunk(i, &input);
        // Only the last position's logits: the statistics come from the hook.
        t.forward(&input, ctx - 1, Some(&mut c))?;
        progress(done + 1);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

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
