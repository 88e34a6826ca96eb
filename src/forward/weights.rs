//! A model's weights in the form the forward pass computes with: quantized GGUF matrices stay
//! quantized (candle's quantized matmul, activations quantized to 8 bits as llama.cpp does),
//! everything else is f32. All tensors are in Hugging Face's layout: llama's Q/K rows, stored
//! permuted in GGUF, are put back in order by moving whole quantized rows.

use super::qlinear::{ActRound, QLinear};
use crate::io::store::StorageType;
use crate::model::{convert, Arch, LayerTensor, Model, Role, Source};
use crate::quant::formats::{dequantize, GgmlType};
use candle_core::{Device, Result, Tensor};
use std::sync::Arc;

pub struct Linear {
    pub w: QLinear,
    pub b: Option<Tensor>,
}

impl Linear {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.w.forward(x)?;
        match &self.b {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

pub struct LayerWeights {
    pub attn_norm: Vec<f32>,
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub post_attn_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub gate: Linear,
    pub up: Linear,
    pub down: Linear,
    pub post_ffn_norm: Option<Vec<f32>>,
}

/// The token embedding: kept in its stored type and dequantized row by row on lookup.
pub struct Embedding {
    pub ty: GgmlType,
    pub bytes: Arc<Vec<u8>>,
    pub rows: usize,
    pub dim: usize,
}

impl Embedding {
    pub fn lookup(&self, tokens: &[u32]) -> Result<Tensor> {
        let row_bytes = self.ty.row_bytes(self.dim).expect("validated row length");
        let mut out = vec![0f32; tokens.len() * self.dim];
        for (t, dst) in tokens.iter().zip(out.chunks_mut(self.dim)) {
            let t = *t as usize;
            if t >= self.rows {
                candle_core::bail!("token id {t} is outside the vocabulary of {}", self.rows);
            }
            dequantize(self.ty, &self.bytes[t * row_bytes..(t + 1) * row_bytes], dst);
        }
        Tensor::from_vec(out, (tokens.len(), self.dim), &Device::Cpu)
    }
}

pub struct Weights {
    pub embedding: Embedding,
    pub layers: Vec<LayerWeights>,
    pub output_norm: Vec<f32>,
    pub output: QLinear,
}

struct Loader<'a> {
    model: &'a Model,
}

impl Loader<'_> {
    fn f32_tensor(&self, role: Role) -> crate::Result<Tensor> {
        let (shape, data) = self.model.read_canonical(role)?;
        Ok(Tensor::from_vec(data, shape, &Device::Cpu)?)
    }

    /// A norm's effective multiplier: Gemma's RMSNorm multiplies by `1 + w`.
    fn norm(&self, role: Role) -> crate::Result<Vec<f32>> {
        let (_, mut w) = self.model.read_canonical(role)?;
        if self.model.arch() == Arch::Gemma3 {
            w.iter_mut().for_each(|x| *x += 1.0);
        }
        Ok(w)
    }

    /// A weight matrix in its stored type (GGUF: quantized as stored, llama's Q/K rows put
    /// back in Hugging Face order; safetensors: F32/F16/BF16 as stored).
    fn matrix(&self, role: Role) -> crate::Result<QLinear> {
        let m = self.model;
        let e = m.tensor(role).expect("roles are validated on open");
        // compressed-tensors layers: dequantized once to f32 (as vLLM's reference path does).
        if m.compressed.as_ref().and_then(|c| c.layer(&e.name)).is_some() {
            let (shape, data) = m.read_canonical(role)?;
            let bytes = bytemuck::cast_slice(&data).to_vec();
            let act = ActRound::None;
            return Ok(QLinear { ty: GgmlType::F32, bytes: Arc::new(bytes), rows: shape[0], cols: shape[1], act });
        }
        let StorageType::Ggml(ty) = e.dtype.clone() else {
            return Err(crate::Error::unsupported(
                m.store().path_of(e),
                format!("dtype {} of tensor {}", e.dtype, e.name),
            ));
        };
        let (rows, cols) = (e.shape[0], e.shape.get(1).copied().unwrap_or(1));
        let raw = m.store().bytes(e);
        let gguf = matches!(m.source, Source::Gguf(_));
        // llama's Q/K rows are stored permuted in GGUF: move whole (quantized) rows back.
        let bytes = match convert::gguf_permuted_heads(&m.hparams, role).filter(|_| gguf) {
            Some(h) => convert::permute_rows(raw, rows, h, true),
            None => raw.to_vec(),
        };
        m.store().release(e);
        // GGUF weights meet activations rounded as ggml rounds them; safetensors weights meet
        // f32 activations, as in transformers.
        let act = if gguf { ActRound::for_weight(ty) } else { ActRound::None };
        Ok(QLinear { ty, bytes: Arc::new(bytes), rows, cols, act })
    }

    fn linear(&self, layer: usize, w: LayerTensor, b: Option<LayerTensor>) -> crate::Result<Linear> {
        let bias = match b {
            Some(b) if b.in_arch(self.model.arch()) => Some(self.f32_tensor(Role::Layer(layer, b))?),
            _ => None,
        };
        Ok(Linear { w: self.matrix(Role::Layer(layer, w))?, b: bias })
    }

    fn embedding(&self, tied: &QLinear) -> crate::Result<Embedding> {
        let m = self.model;
        if m.tensor(Role::Output).is_none() {
            return Ok(Embedding { ty: tied.ty, bytes: tied.bytes.clone(), rows: tied.rows, dim: tied.cols });
        }
        let e = m.tensor(Role::TokenEmbd).expect("validated");
        let StorageType::Ggml(ty) = e.dtype.clone() else {
            return Err(crate::Error::unsupported(
                m.store().path_of(e),
                format!("dtype {} of tensor {}", e.dtype, e.name),
            ));
        };
        let bytes = Arc::new(m.store().bytes(e).to_vec());
        m.store().release(e);
        Ok(Embedding { ty, bytes, rows: e.shape[0], dim: e.shape[1] })
    }
}

impl Weights {
    pub fn load(model: &Model) -> crate::Result<Self> {
        let l = Loader { model };
        let arch = model.arch();
        let gemma = arch == Arch::Gemma3;
        let mut layers = Vec::with_capacity(model.hparams.n_layers);
        for i in 0..model.hparams.n_layers {
            use LayerTensor::*;
            let opt_norm = |t: LayerTensor| -> crate::Result<Option<Vec<f32>>> {
                if gemma {
                    Ok(Some(l.norm(Role::Layer(i, t))?))
                } else {
                    Ok(None)
                }
            };
            layers.push(LayerWeights {
                attn_norm: l.norm(Role::Layer(i, AttnNorm))?,
                q: l.linear(i, AttnQ, Some(AttnQBias))?,
                k: l.linear(i, AttnK, Some(AttnKBias))?,
                v: l.linear(i, AttnV, Some(AttnVBias))?,
                o: l.linear(i, AttnOutput, None)?,
                q_norm: opt_norm(AttnQNorm)?,
                k_norm: opt_norm(AttnKNorm)?,
                post_attn_norm: opt_norm(PostAttnNorm)?,
                ffn_norm: l.norm(Role::Layer(i, FfnNorm))?,
                gate: l.linear(i, FfnGate, None)?,
                up: l.linear(i, FfnUp, None)?,
                down: l.linear(i, FfnDown, None)?,
                post_ffn_norm: opt_norm(PostFfnNorm)?,
            });
        }
        let output_role = if model.tensor(Role::Output).is_some() { Role::Output } else { Role::TokenEmbd };
        let output = l.matrix(output_role)?;
        Ok(Weights { embedding: l.embedding(&output)?, layers, output_norm: l.norm(Role::OutputNorm)?, output })
    }
}
