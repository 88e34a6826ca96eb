//! What a run will need in anonymous memory, worked out from the model's shapes before the long
//! work starts: the activations of one chunk through one layer, the copies one layer's weights
//! need, the hidden states carried between layers, the logits, and the working buffers of the
//! largest tensor being quantized.

use super::Budget;
use crate::error::{Error, Result};
use crate::forward::weights;
use crate::model::{Model, Role};
use serde::Serialize;

/// Tensors quantized in blocks of rows read this many f32 bytes at once (the embedding and the
/// output head, the largest tensors of most models).
pub const ROW_BLOCK_BYTES: usize = 16 << 20;

/// The work a run does.
#[derive(Clone, Copy, Debug)]
pub struct Work {
    /// Tokens per chunk.
    pub ctx: usize,
    pub calib_chunks: Option<usize>,
    pub quantize: bool,
    pub eval_chunks: Option<usize>,
    /// Whether the evaluation compares with a base (whose logits are kept).
    pub compare: bool,
    /// Whether calibration collects each linear input's Hessian (for GPTQ), held until the
    /// matrices are written.
    pub hessians: bool,
}

/// Estimated anonymous memory, in bytes.
#[derive(Clone, Debug, Serialize)]
pub struct Estimate {
    pub budget: Budget,
    /// Held when the estimate was made (the model opened, its vocabulary read).
    pub base: u64,
    pub calibration: u64,
    pub quantization: u64,
    pub evaluation: u64,
    /// The least any stage can do with: one chunk through one layer, or the largest tensor.
    pub minimum: u64,
}

impl Estimate {
    /// The expected peak: what is held plus the most demanding stage.
    pub fn peak(&self) -> u64 {
        self.base + self.calibration.max(self.quantization).max(self.evaluation)
    }

    /// Fails when even the least the run needs exceeds the budget.
    pub fn check(&self, model: &Model) -> Result<()> {
        let need = self.base + self.minimum;
        if need > self.budget.bytes {
            return Err(Error::Memory { path: model.path.clone(), need, limit: self.budget.bytes });
        }
        Ok(())
    }
}

/// Activations of one chunk of `t` tokens through one layer: the live tensors of the attention
/// (Q/K/V, scores and probabilities) and of the feed-forward (gate, up, their product), the
/// residual and its norms, and the row copies the statistics hook takes.
fn activations(model: &Model, t: usize) -> u64 {
    let hp = &model.hparams;
    let (d, ff, hd) = (hp.d_model as u64, hp.d_ff as u64, hp.head_dim as u64);
    let (nh, nkv, t) = (hp.n_heads as u64, hp.n_kv_heads as u64, t as u64);
    let qkv = 3 * t * (nh + 2 * nkv) * hd;
    let scores = 3 * nh * t * t;
    let ffn = 5 * t * ff;
    let rows = 6 * t * d + 2 * t * d.max(ff);
    4 * (qkv + scores + ffn + rows)
}

/// The largest working set of quantizing one tensor: it is read in f32, converted (a second
/// f32 buffer) and quantized into at most 2 bytes per value; the embedding and output head in
/// blocks of rows.
fn quantization(model: &Model) -> u64 {
    let blocked = |r: Role| matches!(r, Role::TokenEmbd | Role::Output | Role::PosEmbd);
    model
        .roles()
        .map(|(role, e)| {
            let n = e.n_elements() as u64;
            match blocked(role) {
                true => 2 * (4 * n).min(ROW_BLOCK_BYTES as u64) + (2 * n).min(ROW_BLOCK_BYTES as u64 / 2),
                false => 2 * 4 * n + 2 * n,
            }
        })
        .max()
        .unwrap_or(0)
}

/// The Hessians of every layer's linear inputs (`d x d` f32 each: the attention's and the
/// feed-forward's inputs, the output projection's and the down projection's), and the largest
/// one's factorisation (three f64 copies while the inverse's Cholesky factor is computed).
fn hessians(model: &Model) -> (u64, u64) {
    let hp = &model.hparams;
    let o = hp.n_heads * hp.head_dim;
    let per_layer = crate::calib::hessian::Hessians::bytes_for(&[hp.d_model, hp.d_model, o, hp.d_ff]);
    let largest = hp.d_model.max(o).max(hp.d_ff) as u64;
    (hp.n_layers as u64 * per_layer, 3 * 8 * largest * largest)
}

/// A guess at what a model's vocabulary takes once read, for an estimate made before it is:
/// four times its tokenizer files (a GGUF: its header, where the vocabulary is), plus the
/// program itself. (Gemma-3-270M, 33 MB of files: 81 MiB held once read, and about 100 MiB
/// more while its text tokenizer is built.)
fn vocabulary_guess(model: &Model) -> u64 {
    const PROGRAM: u64 = 32 << 20;
    let files: u64 = match model.gguf() {
        Some(g) => g.data_start as u64,
        None => {
            let dir = if model.path.is_dir() { model.path.clone() } else { model.path.with_file_name("") };
            ["tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt"]
                .iter()
                .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
                .map(|m| m.len())
                .sum()
        }
    };
    PROGRAM + 4 * files
}

/// Estimates `work` on `model` under `budget`. `held`: the anonymous memory of this process
/// with the model opened and its vocabulary read; `None` guesses what it will be in a process
/// of its own.
pub fn estimate(model: &Model, work: &Work, budget: Budget, held: Option<u64>) -> Result<Estimate> {
    let hp = &model.hparams;
    let t = work.ctx;
    let acts = activations(model, t);
    let (_, copies) = weights::layer(model, 0)?.matrix_bytes();
    let state = (t * hp.d_model * 4) as u64;
    let states = |chunks: usize| (chunks as u64 * state).min((budget.states() as u64).max(state));
    let vocab = hp.vocab_size as u64;
    // Logits are computed a block of positions at a time.
    let head_rows = crate::forward::head_rows(hp.vocab_size) as u64;
    let one_chunk = acts + copies + state + 2 * 4 * vocab;
    let calibration = work.calib_chunks.map_or(0, |c| {
        // Per layer and chunk the first token's residual is kept, per linear input its sums.
        let kept = (hp.n_layers * c * hp.d_model * 4) as u64;
        acts + copies + states(c) + kept + 2 * 4 * vocab
    });
    let (held_h, factor) = if work.hessians { hessians(model) } else { (0, 0) };
    let calibration = calibration + held_h;
    let quant = if work.quantize { quantization(model) + held_h + factor } else { 0 };
    let evaluation = work.eval_chunks.map_or(0, |c| {
        let scored = (t - 1 - t / 2) as u64;
        let logits = scored.min(head_rows) * vocab * 4;
        // A block of logits (tensor, copy, the base's rows read back) and the base's logits
        // kept for all chunks, up to the budget's share.
        let base = if work.compare { (c as u64 * scored * vocab * 4).min(budget.logits() as u64) } else { 0 };
        acts + copies + states(c) + 3 * logits + base
    });
    Ok(Estimate {
        budget,
        base: held.unwrap_or_else(|| vocabulary_guess(model)),
        calibration,
        quantization: quant,
        evaluation,
        minimum: (one_chunk + held_h).max(quant),
    })
}
