//! CPU forward passes (candle) for llama, qwen2 and gemma3, with observation hooks.
//!
//! One chunk of tokens is evaluated from an empty cache, as perplexity and calibration need:
//! full causal attention (Gemma-3's local layers also limited to their sliding window).

pub mod hook;
pub mod ops;
pub mod qlinear;
pub mod rope;
pub mod weights;

pub use hook::{Hook, LinearSite};

use crate::model::{Arch, HParams, LayerTensor, Model};
use crate::{Error, Result};
use candle_core::{DType, Tensor};
use rope::Rope;
use weights::{LayerWeights, Weights};

pub struct Transformer {
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

fn rms_norm(x: &Tensor, w: &[f32], eps: f64) -> candle_core::Result<Tensor> {
    ops::rms_norm(x, w, eps)
}

impl Transformer {
    /// Loads the weights for chunks of at most `max_tokens` tokens.
    pub fn load(model: &Model, max_tokens: usize) -> Result<Self> {
        let hp = model.hparams.clone();
        let weights = Weights::load(model)?;
        let rope = Rope::new(hp.head_dim, hp.rope_theta, max_tokens)?;
        let rope_local = match hp.rope_theta_local {
            Some(theta) => Some(Rope::new(hp.head_dim, theta, max_tokens)?),
            None => None,
        };
        let kv_f16 = model.gguf().is_some();
        Ok(Transformer { hparams: hp, weights, rope, rope_local, max_tokens, kv_f16 })
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Logits `[tokens.len() - logits_from, vocab]` for positions `logits_from..` of one chunk.
    pub fn forward(&self, tokens: &[u32], logits_from: usize, mut hook: Option<&mut dyn Hook>) -> Result<Tensor> {
        let hp = &self.hparams;
        let t = tokens.len();
        if t == 0 || t > self.max_tokens || logits_from >= t {
            let max = self.max_tokens;
            return Err(Error::Invalid(format!(
                "forward pass: chunk of {t} tokens (at most {max}), logits from {logits_from}"
            )));
        }
        let mut x = self.weights.embedding.lookup(tokens)?;
        if hp.arch == Arch::Gemma3 {
            // Gemma scales embeddings by sqrt(d_model) (in f32, as llama.cpp and transformers
            // with f32 weights do).
            x = (x * (hp.d_model as f32).sqrt() as f64)?;
        }
        for (i, lw) in self.weights.layers.iter().enumerate() {
            let sliding = hp.is_sliding(i);
            let window = if sliding { hp.sliding_window } else { None };
            let rope = if sliding { self.rope_local.as_ref().unwrap_or(&self.rope) } else { &self.rope };
            x = self.layer(i, lw, &x, window, rope, &mut hook)?;
            if let Some(h) = hook.as_deref_mut() {
                if let Some(replaced) = h.residual(i, &x)? {
                    x = replaced;
                }
            }
        }
        let x = x.narrow(0, logits_from, t - logits_from)?;
        let x = rms_norm(&x, &self.weights.output_norm, hp.rms_eps)?;
        if let Some(h) = hook {
            h.linear_input(LinearSite::Output, &x)?;
        }
        Ok(self.weights.output.forward(&x)?)
    }

    fn layer(
        &self,
        i: usize,
        w: &LayerWeights,
        x: &Tensor,
        window: Option<usize>,
        rope: &Rope,
        hook: &mut Option<&mut dyn Hook>,
    ) -> Result<Tensor> {
        let hp = &self.hparams;
        let eps = hp.rms_eps;
        let (t, _) = x.dims2()?;
        let (nh, nkv, hd) = (hp.n_heads, hp.n_kv_heads, hp.head_dim);
        let h = rms_norm(x, &w.attn_norm, eps)?;
        if let Some(hk) = hook.as_deref_mut() {
            for r in [LayerTensor::AttnQ, LayerTensor::AttnK, LayerTensor::AttnV] {
                hk.linear_input(LinearSite::Layer(i, r), &h)?;
            }
        }
        // [t, n*hd] -> [n, t, hd]
        let heads = |y: Tensor, n: usize| y.reshape((t, n, hd))?.transpose(0, 1)?.contiguous();
        let mut q = heads(w.q.forward(&h)?, nh)?;
        let mut k = heads(w.k.forward(&h)?, nkv)?;
        let v = heads(w.v.forward(&h)?, nkv)?;
        if let (Some(qn), Some(kn)) = (&w.q_norm, &w.k_norm) {
            q = rms_norm(&q, qn, eps)?;
            k = rms_norm(&k, kn, eps)?;
        }
        let q = rope.apply(&q)?;
        let mut k = rope.apply(&k)?;
        let mut v = v;
        if self.kv_f16 {
            (k, v) = (round_f16(&k)?, round_f16(&v)?);
        }
        let scale = match hp.query_pre_attn_scalar {
            Some(s) => 1.0 / s.sqrt(),
            None => 1.0 / (hd as f64).sqrt(),
        };
        // Grouped-query attention without copying K/V: the g query heads of a KV head are
        // stacked along the token axis.
        let g = nh / nkv;
        let qg = (q * scale)?.reshape((nkv, g * t, hd))?;
        let scores = qg.matmul(&k.t()?)?.reshape((nh, t, t))?;
        let probs = ops::causal_softmax(&scores, window)?;
        if let Some(hk) = hook.as_deref_mut() {
            hk.attention(i, &probs)?;
        }
        let attn = probs.reshape((nkv, g * t, t))?.matmul(&v)?.reshape((nh, t, hd))?;
        let attn = attn.transpose(0, 1)?.reshape((t, nh * hd))?;
        if let Some(hk) = hook.as_deref_mut() {
            hk.linear_input(LinearSite::Layer(i, LayerTensor::AttnOutput), &attn)?;
        }
        let mut a = w.o.forward(&attn)?;
        if let Some(n) = &w.post_attn_norm {
            a = rms_norm(&a, n, eps)?;
        }
        let x = (x + a)?;
        let h = rms_norm(&x, &w.ffn_norm, eps)?;
        if let Some(hk) = hook.as_deref_mut() {
            hk.linear_input(LinearSite::Layer(i, LayerTensor::FfnGate), &h)?;
            hk.linear_input(LinearSite::Layer(i, LayerTensor::FfnUp), &h)?;
        }
        let gate = w.gate.forward(&h)?;
        let act = if hp.arch == Arch::Gemma3 { gate.gelu()? } else { gate.silu()? };
        let inner = (act * w.up.forward(&h)?)?;
        if let Some(hk) = hook.as_deref_mut() {
            hk.linear_input(LinearSite::Layer(i, LayerTensor::FfnDown), &inner)?;
        }
        let mut f = w.down.forward(&inner)?;
        if let Some(n) = &w.post_ffn_norm {
            f = rms_norm(&f, n, eps)?;
        }
        Ok((x + f)?)
    }
}
