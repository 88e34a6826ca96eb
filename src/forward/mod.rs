//! CPU forward passes (candle) for every architecture sinkquant describes, with observation
//! hooks. The block is assembled from the description's parts (`block.rs`).
//!
//! One chunk of tokens is evaluated from an empty cache, as perplexity and calibration need:
//! full causal attention (local layers also limited to their sliding window).

mod block;
mod chunks;
pub mod hook;
pub mod ops;
pub mod qlinear;
pub mod rope;
pub mod weights;

pub use chunks::{head_rows, Chunk};
pub use hook::{Branch, Hook, LinearSite};

use crate::model::arch::Norm;
use crate::model::{HParams, Model};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use rope::Rope;
use weights::{LayerWeights, NormW, Weights};

/// A model ready to run: the weights outside the layers loaded, each layer's loaded from the
/// model when it runs.
pub struct Transformer<'m> {
    model: &'m Model,
    pub hparams: HParams,
    weights: Weights,
    rope: Rope,
    rope_local: Option<Rope>,
    max_tokens: usize,
    /// Round K and V to f16 as llama.cpp's f16 KV cache stores them
    /// (for GGUF sources, to evaluate like llama.cpp; safetensors run in f32 like transformers).
    kv_f16: bool,
}

fn round_f16(x: &Tensor) -> candle_core::Result<Tensor> {
    x.to_dtype(DType::F16)?.to_dtype(DType::F32)
}

/// The architecture's norm of `x` with gain (and bias) `n`.
fn norm(hp: &HParams, x: &Tensor, n: &NormW) -> candle_core::Result<Tensor> {
    match hp.arch.spec().norm {
        Norm::Rms => ops::rms_norm(x, &n.w, hp.norm_eps),
        Norm::Layer => ops::layer_norm(x, &n.w, n.b.as_deref(), hp.norm_eps),
    }
}

impl<'m> Transformer<'m> {
    /// Loads the weights outside the layers, for chunks of at most `max_tokens` tokens.
    pub fn load(model: &'m Model, max_tokens: usize) -> Result<Self> {
        let hp = model.hparams.clone();
        if let Some(n) = hp.rope_scaling.as_ref().and_then(|s| s.max_tokens()).filter(|&n| max_tokens > n) {
            return Err(Error::unsupported(
                &model.path,
                format!("chunks of {max_tokens} tokens: LongRoPE's long-context path (beyond {n} tokens) is not implemented"),
            ));
        }
        let weights = Weights::load(model)?;
        let rope = Rope::for_model(&hp, hp.rope_theta, max_tokens)?;
        let rope_local = match hp.rope_theta_local {
            Some(theta) => Some(Rope::new(hp.rotary_dim, theta, max_tokens, None)?),
            None => None,
        };
        if weights.positions.as_ref().is_some_and(|p| p.len() / hp.d_model < max_tokens) {
            let n = hp.ctx_len;
            return Err(Error::Invalid(format!("chunks of {max_tokens} tokens exceed the {n} learned positions")));
        }
        let kv_f16 = model.gguf().is_some();
        Ok(Transformer { model, hparams: hp, weights, rope, rope_local, max_tokens, kv_f16 })
    }

    /// Bytes of the weight matrices and the embedding: (read from the memory map in place,
    /// copied into memory). Copies are only made where the stored layout is not the one
    /// computed with (llama's permuted Q/K rows in GGUF, fused or transposed Hugging Face
    /// layouts, compressed-tensors layers).
    /// Loads each layer in turn to count.
    pub fn matrix_bytes(&self) -> Result<(u64, u64)> {
        let mut total = self.weights.matrix_bytes();
        for i in 0..self.hparams.n_layers {
            let (m, o) = weights::layer(self.model, i)?.matrix_bytes();
            total = (total.0 + m, total.1 + o);
        }
        Ok(total)
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Token (and position) embeddings of one chunk.
    fn embed(&self, tokens: &[u32]) -> Result<Tensor> {
        let hp = &self.hparams;
        let mut x = self.weights.embedding.lookup(tokens)?;
        if hp.arch.spec().embed_scale {
            // Gemma scales embeddings by sqrt(d_model) (in f32, as llama.cpp and transformers
            // with f32 weights do).
            x = (x * (hp.d_model as f32).sqrt() as f64)?;
        }
        if let Some(p) = &self.weights.positions {
            let t = tokens.len();
            let pos = Tensor::from_slice(&p[..t * hp.d_model], (t, hp.d_model), &Device::Cpu)?;
            x = (x + pos)?;
        }
        Ok(x)
    }

    /// Logits `[tokens.len() - logits_from, vocab]` for positions `logits_from..` of one chunk
    /// (which a hook sees as chunk 0).
    pub fn forward(&self, tokens: &[u32], logits_from: usize, hook: Option<&mut dyn Hook>) -> Result<Tensor> {
        let chunk = [Chunk { id: 0, tokens: tokens.to_vec() }];
        let mut blocks = Vec::new();
        self.run_chunks(
            &chunk,
            logits_from,
            0,
            hook,
            &mut |_, _, l| {
                blocks.push(l);
                Ok(())
            },
            &mut |_| {},
        )?;
        Ok(Tensor::cat(&blocks, 0)?)
    }

    /// Block `i` computing with `w`.
    fn block<'a>(&'a self, i: usize, w: &'a LayerWeights) -> block::Block<'a> {
        let hp = &self.hparams;
        let sliding = hp.is_sliding(i);
        let window = if sliding { hp.sliding_window } else { None };
        let rope = if sliding { self.rope_local.as_ref().unwrap_or(&self.rope) } else { &self.rope };
        block::Block { hp, w, layer: i, window, rope, kv_f16: self.kv_f16 }
    }

    /// The final norm and the output head on rows `x` of the residual.
    fn head(&self, x: &Tensor, hook: Option<&mut dyn Hook>) -> Result<Tensor> {
        let hp = &self.hparams;
        let x = norm(hp, x, &self.weights.output_norm)?;
        if let Some(h) = hook {
            h.linear_input(LinearSite::Output, &x)?;
        }
        let logits = self.weights.output.forward(&x)?;
        Ok(match hp.final_softcap {
            Some(cap) => ops::softcap(&logits, cap)?,
            None => logits,
        })
    }
}
