//! Many chunks through the model layer by layer: the chunks are taken in groups whose hidden
//! states fit a memory budget, and each group runs one layer for all its chunks before the next
//! layer is loaded. A layer's weights (and any copy they need) are in memory once per group,
//! and a model larger than memory is read from disk once per group instead of once per chunk.
//! Every chunk goes through the same operations as alone, so results do not depend on grouping.

use super::{Hook, Transformer};
use crate::{Error, Result};
use candle_core::Tensor;

/// Rows of logits computed at once for a vocabulary of `vocab`: 8 MiB of logits, at least 16
/// rows. A large vocabulary (Gemma's 262K tokens: 1 MiB per position) never has a chunk's
/// logits in memory at once; each block multiplies with the whole output matrix, so blocks
/// are not made smaller than 16 rows.
pub fn head_rows(vocab: usize) -> usize {
    ((8 << 20) / (4 * vocab.max(1))).max(16)
}

/// One chunk of token ids and the caller's name for it (the hook sees it in `begin_chunk`).
#[derive(Clone, Debug)]
pub struct Chunk {
    pub id: usize,
    pub tokens: Vec<u32>,
}

impl Transformer<'_> {
    /// Bytes of one chunk's hidden state, as carried between layers.
    pub fn state_bytes(&self, tokens: usize) -> usize {
        tokens * self.hparams.d_model * 4
    }

    /// Rows of logits computed at once ([`head_rows`]).
    pub fn head_rows(&self) -> usize {
        head_rows(self.hparams.vocab_size)
    }

    /// Runs `chunks` and hands `on_logits(position in chunks, first row, logits)` the logits of
    /// positions `logits_from..` of each, in order, in blocks of [`Self::head_rows`] rows (the
    /// first row counted from `logits_from`). Hidden states of at most `state_budget` bytes are held
    /// at once (at least one chunk's). The hook sees each chunk's layers in order, with
    /// `begin_chunk` before each call for a chunk; `progress(steps)` counts finished
    /// (chunk, layer) steps, the output head being one more layer.
    pub fn run_chunks(
        &self,
        chunks: &[Chunk],
        logits_from: usize,
        state_budget: usize,
        mut hook: Option<&mut dyn Hook>,
        on_logits: &mut dyn FnMut(usize, usize, Tensor) -> Result<()>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<()> {
        for c in chunks {
            let t = c.tokens.len();
            if t == 0 || t > self.max_tokens || logits_from >= t {
                let max = self.max_tokens;
                return Err(Error::Invalid(format!(
                    "forward pass: chunk of {t} tokens (at most {max}), logits from {logits_from}"
                )));
            }
        }
        let largest = chunks.iter().map(|c| self.state_bytes(c.tokens.len())).max().unwrap_or(1).max(1);
        let per_group = (state_budget / largest).clamp(1, chunks.len().max(1));
        let mut steps = 0;
        let mut first = 0;
        for group in chunks.chunks(per_group) {
            let mut xs = group.iter().map(|c| self.embed(&c.tokens)).collect::<Result<Vec<_>>>()?;
            for i in 0..self.hparams.n_layers {
                let w = super::weights::layer(self.model, i)?;
                let block = self.block(i, &w);
                for (c, x) in group.iter().zip(xs.iter_mut()) {
                    if let Some(h) = hook.as_deref_mut() {
                        h.begin_chunk(c.id, &c.tokens);
                    }
                    let mut y = block.forward(x, &mut hook)?;
                    if let Some(h) = hook.as_deref_mut() {
                        if let Some(replaced) = h.residual(i, &y)? {
                            y = replaced;
                        }
                    }
                    *x = y;
                    steps += 1;
                    progress(steps);
                }
            }
            for (k, (c, x)) in group.iter().zip(xs).enumerate() {
                if let Some(h) = hook.as_deref_mut() {
                    h.begin_chunk(c.id, &c.tokens);
                }
                let n = c.tokens.len() - logits_from;
                for row in (0..n).step_by(self.head_rows()) {
                    let h: Option<&mut dyn Hook> = match &mut hook {
                        Some(h) => Some(&mut **h),
                        None => None,
                    };
                    let rows = x.narrow(0, logits_from + row, self.head_rows().min(n - row))?;
                    on_logits(first + k, row, self.head(&rows, h)?)?;
                }
                steps += 1;
                progress(steps);
            }
            first += group.len();
        }
        Ok(())
    }
}
