//! Rotary position embeddings in Hugging Face's (GPT-NeoX) layout: the first and second halves
//! of each head's rotary part are rotated together. Partial rotary rotates the first
//! `rotary_dim` dimensions only; scaled RoPE divides each frequency by its divisor.

use crate::model::HParams;
use candle_core::{Result, Tensor};

pub struct Rope {
    cos: Vec<f32>,
    sin: Vec<f32>,
    half: usize,
}

impl Rope {
    /// Tables for positions `0..max_pos` of a rotary part of `rotary_dim` with base `theta`,
    /// each frequency divided by its entry of `divisors` (none: plain RoPE).
    pub fn new(rotary_dim: usize, theta: f64, max_pos: usize, divisors: Option<&[f64]>) -> Result<Self> {
        Self::scaled(rotary_dim, theta, max_pos, divisors, 1.0)
    }

    /// As `new`, with cos and sin multiplied by `mscale` (LongRoPE's attention factor).
    pub fn scaled(
        rotary_dim: usize,
        theta: f64,
        max_pos: usize,
        divisors: Option<&[f64]>,
        mscale: f64,
    ) -> Result<Self> {
        let half = rotary_dim / 2;
        let inv: Vec<f32> = (0..half)
            .map(|i| {
                let f = 1.0 / theta.powf(2.0 * i as f64 / rotary_dim as f64);
                (f / divisors.map_or(1.0, |d| d[i])) as f32
            })
            .collect();
        let mut cos = Vec::with_capacity(max_pos * half);
        let mut sin = Vec::with_capacity(max_pos * half);
        for p in 0..max_pos {
            for f in &inv {
                let a = p as f32 * f;
                if mscale == 1.0 {
                    cos.push(a.cos());
                    sin.push(a.sin());
                } else {
                    cos.push((a.cos() as f64 * mscale) as f32);
                    sin.push((a.sin() as f64 * mscale) as f32);
                }
            }
        }
        Ok(Rope { cos, sin, half })
    }

    /// The tables of a model's layers with RoPE base `theta` (its scaling applied).
    pub fn for_model(hp: &HParams, theta: f64, max_pos: usize) -> Result<Self> {
        let divisors = hp.rope_scaling.as_ref().map(|s| s.divisors(hp.rotary_dim, theta));
        let mscale = hp.rope_scaling.as_ref().map_or(1.0, |s| s.attn_factor());
        Rope::scaled(hp.rotary_dim, theta, max_pos, divisors.as_deref(), mscale)
    }

    /// Rotates `x` of shape `[heads, tokens, head_dim]` for positions `0..tokens`.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        if self.half == 0 {
            return Ok(x.clone());
        }
        super::ops::rope(x, &self.cos, &self.sin, self.half)
    }
}
