//! One transformer block, assembled from the architecture's parts: norm (RMSNorm or LayerNorm),
//! separate or fused Q/K/V, Q/K norms, (partial) RoPE, soft-capped scores, sliding windows,
//! sandwich norms, sequential or parallel residual, gated or plain feed-forward.

use super::hook::{Branch, Hook, LinearSite};
use super::rope::Rope;
use super::weights::{FfnIn, LayerWeights, Qkv};
use super::{norm, ops, round_f16};
use crate::model::{Act, HParams, LayerTensor};
use crate::Result;
use candle_core::Tensor;

pub struct Block<'a> {
    pub hp: &'a HParams,
    pub w: &'a LayerWeights,
    pub layer: usize,
    pub window: Option<usize>,
    pub rope: &'a Rope,
    pub kv_f16: bool,
}

type HookRef<'h, 'a> = &'h mut Option<&'a mut dyn Hook>;

fn report(hook: HookRef, site: LinearSite, x: &Tensor) -> Result<()> {
    if let Some(h) = hook.as_deref_mut() {
        h.linear_input(site, x)?;
    }
    Ok(())
}

fn activate(act: Act, x: &Tensor) -> candle_core::Result<Tensor> {
    match act {
        Act::Silu => x.silu(),
        Act::GeluTanh => x.gelu(),
        Act::Gelu => x.gelu_erf(),
    }
}

impl Block<'_> {
    pub fn forward(&self, x: &Tensor, hook: HookRef) -> Result<Tensor> {
        let hp = self.hp;
        let h = norm(hp, x, &self.w.attn_norm)?;
        let a = self.attention(&h, hook)?;
        self.report_branch(hook, Branch::Attention, &a)?;
        if hp.parallel_residual {
            let h = norm(hp, x, &self.w.ffn_norm)?;
            let f = self.ffn(&h, hook)?;
            self.report_branch(hook, Branch::FeedForward, &f)?;
            return Ok(((x + a)? + f)?);
        }
        let x = (x + a)?;
        let h = norm(hp, &x, &self.w.ffn_norm)?;
        let f = self.ffn(&h, hook)?;
        self.report_branch(hook, Branch::FeedForward, &f)?;
        Ok((x + f)?)
    }

    fn report_branch(&self, hook: HookRef, branch: Branch, out: &Tensor) -> Result<()> {
        if let Some(h) = hook.as_deref_mut() {
            h.branch(self.layer, branch, out)?;
        }
        Ok(())
    }

    /// Q, K and V `[tokens, n * head_dim]` of the normed input.
    fn project(&self, h: &Tensor, hook: HookRef) -> Result<(Tensor, Tensor, Tensor)> {
        let i = self.layer;
        Ok(match &self.w.qkv {
            Qkv::Separate { q, k, v } => {
                for r in [LayerTensor::AttnQ, LayerTensor::AttnK, LayerTensor::AttnV] {
                    report(hook, LinearSite::Layer(i, r), h)?;
                }
                (q.forward(h)?, k.forward(h)?, v.forward(h)?)
            }
            Qkv::Fused(qkv) => {
                report(hook, LinearSite::Layer(i, LayerTensor::AttnQkv), h)?;
                let y = qkv.forward(h)?;
                let (nq, nkv) = (self.hp.n_heads * self.hp.head_dim, self.hp.n_kv_heads * self.hp.head_dim);
                (y.narrow(1, 0, nq)?, y.narrow(1, nq, nkv)?, y.narrow(1, nq + nkv, nkv)?)
            }
        })
    }

    fn attention(&self, h: &Tensor, hook: HookRef) -> Result<Tensor> {
        let hp = self.hp;
        let w = self.w;
        let (t, _) = h.dims2()?;
        let (nh, nkv, hd) = (hp.n_heads, hp.n_kv_heads, hp.head_dim);
        let (q, k, v) = self.project(h, hook)?;
        // [t, n*hd] -> [n, t, hd]
        let heads = |y: Tensor, n: usize| y.contiguous()?.reshape((t, n, hd))?.transpose(0, 1)?.contiguous();
        let mut q = heads(q, nh)?;
        let mut k = heads(k, nkv)?;
        let mut v = heads(v, nkv)?;
        if let (Some(qn), Some(kn)) = (&w.q_norm, &w.k_norm) {
            q = ops::rms_norm(&q, qn, hp.norm_eps)?;
            k = ops::rms_norm(&k, kn, hp.norm_eps)?;
        }
        let q = self.rope.apply(&q)?;
        let mut k = self.rope.apply(&k)?;
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
        let mut scores = qg.matmul(&k.t()?)?.reshape((nh, t, t))?;
        if let Some(cap) = hp.attn_softcap {
            scores = ops::softcap(&scores, cap)?;
        }
        let probs = ops::causal_softmax(&scores, self.window)?;
        if let Some(hk) = hook.as_deref_mut() {
            hk.attention(self.layer, &probs)?;
        }
        let attn = probs.reshape((nkv, g * t, t))?.matmul(&v)?.reshape((nh, t, hd))?;
        let attn = attn.transpose(0, 1)?.reshape((t, nh * hd))?;
        report(hook, LinearSite::Layer(self.layer, LayerTensor::AttnOutput), &attn)?;
        let a = w.o.forward(&attn)?;
        Ok(match &w.post_attn_norm {
            Some(n) => ops::rms_norm(&a, n, hp.norm_eps)?,
            None => a,
        })
    }

    fn ffn(&self, h: &Tensor, hook: HookRef) -> Result<Tensor> {
        let hp = self.hp;
        let i = self.layer;
        let gated = |gate: Tensor, up: Tensor| -> candle_core::Result<Tensor> { activate(hp.act, &gate)? * up };
        let inner = match &self.w.ffn {
            FfnIn::Gated { gate, up } => {
                report(hook, LinearSite::Layer(i, LayerTensor::FfnGate), h)?;
                report(hook, LinearSite::Layer(i, LayerTensor::FfnUp), h)?;
                gated(gate.forward(h)?, up.forward(h)?)?
            }
            FfnIn::GatedFused(gate_up) => {
                report(hook, LinearSite::Layer(i, LayerTensor::FfnGateUp), h)?;
                let y = gate_up.forward(h)?;
                gated(y.narrow(1, 0, hp.d_ff)?, y.narrow(1, hp.d_ff, hp.d_ff)?)?
            }
            FfnIn::Plain(up) => {
                report(hook, LinearSite::Layer(i, LayerTensor::FfnUp), h)?;
                activate(hp.act, &up.forward(h)?)?
            }
        };
        report(hook, LinearSite::Layer(i, LayerTensor::FfnDown), &inner)?;
        let f = self.w.down.forward(&inner)?;
        Ok(match &self.w.post_ffn_norm {
            Some(n) => ops::rms_norm(&f, n, hp.norm_eps)?,
            None => f,
        })
    }
}
