//! Rotary position embeddings in Hugging Face's (GPT-NeoX) layout: each head's first and second
//! halves are rotated together.

use candle_core::{Result, Tensor};

pub struct Rope {
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rope {
    /// Tables for positions `0..max_pos` of a head of `head_dim` with base `theta`.
    pub fn new(head_dim: usize, theta: f64, max_pos: usize) -> Result<Self> {
        let half = head_dim / 2;
        let inv: Vec<f32> = (0..half).map(|i| (1.0 / theta.powf(2.0 * i as f64 / head_dim as f64)) as f32).collect();
        let mut cos = Vec::with_capacity(max_pos * half);
        let mut sin = Vec::with_capacity(max_pos * half);
        for p in 0..max_pos {
            for f in &inv {
                let a = p as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        Ok(Rope { cos, sin })
    }

    /// Rotates `x` of shape `[heads, tokens, head_dim]` for positions `0..tokens`.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        super::ops::rope(x, &self.cos, &self.sin)
    }
}
