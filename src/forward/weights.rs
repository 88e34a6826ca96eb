//! A model's weights in the form the forward pass computes with: quantized GGUF matrices stay
//! quantized (candle's quantized matmul, activations quantized to 8 bits as llama.cpp does),
//! everything else is f32. All tensors are in Hugging Face's layout: llama's Q/K rows, stored
//! permuted in GGUF, are put back in order by moving whole quantized rows.

use super::qlinear::{ActRound, QLinear};
use crate::io::mmap::SharedBytes;
use crate::io::store::StorageType;
use crate::model::arch::Layout;
use crate::model::{convert, LayerTensor, Model, Role, Source};
use crate::quant::formats::{dequantize, GgmlType};
use candle_core::{Device, Result, Tensor};

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

/// A norm's effective gain (Gemma's `1 + w` already added) and LayerNorm's bias.
pub struct NormW {
    pub w: Vec<f32>,
    pub b: Option<Vec<f32>>,
}

/// The attention's input projections.
pub enum Qkv {
    Separate {
        q: Linear,
        k: Linear,
        v: Linear,
    },
    /// Rows q, k, v stacked.
    Fused(Linear),
}

/// The feed-forward's input projections.
pub enum FfnIn {
    Gated {
        gate: Linear,
        up: Linear,
    },
    /// Rows gate then up (Phi-3).
    GatedFused(Linear),
    Plain(Linear),
}

pub struct LayerWeights {
    pub attn_norm: NormW,
    pub qkv: Qkv,
    pub o: Linear,
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub post_attn_norm: Option<Vec<f32>>,
    pub ffn_norm: NormW,
    pub ffn: FfnIn,
    pub down: Linear,
    pub post_ffn_norm: Option<Vec<f32>>,
}

/// The token embedding: kept in its stored type and dequantized row by row on lookup.
pub struct Embedding {
    pub ty: GgmlType,
    pub bytes: SharedBytes,
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

/// The weights outside the layers. A layer's weights are loaded when it runs
/// ([`layer`]) and dropped after, so copies (re-laid or reordered matrices) exist for one layer
/// at a time.
pub struct Weights {
    pub embedding: Embedding,
    /// Learned position embeddings `[positions, d_model]` (GPT-2).
    pub positions: Option<Vec<f32>>,
    pub output_norm: NormW,
    pub output: QLinear,
}

struct Loader<'a> {
    model: &'a Model,
}

impl Loader<'_> {
    fn has(&self, role: Role) -> bool {
        self.model.tensor(role).is_some()
    }

    fn f32_tensor(&self, role: Role) -> crate::Result<Tensor> {
        let (shape, data) = self.model.read_canonical(role)?;
        Ok(Tensor::from_vec(data, shape, &Device::Cpu)?)
    }

    fn opt_gain(&self, role: Role) -> crate::Result<Option<Vec<f32>>> {
        if self.has(role) {
            Ok(Some(self.model.norm_gain(role)?))
        } else {
            Ok(None)
        }
    }

    /// A norm and its bias, if the model has one.
    fn norm(&self, gain: Role, bias: Role) -> crate::Result<NormW> {
        let b = if self.has(bias) { Some(self.model.read_canonical(bias)?.1) } else { None };
        Ok(NormW { w: self.model.norm_gain(gain)?, b })
    }

    /// A weight matrix in its stored type (GGUF: quantized as stored, llama's Q/K rows put
    /// back in Hugging Face order; safetensors: F32/F16/BF16 as stored, or converted to f32
    /// when Hugging Face's layout is not the canonical one).
    fn matrix(&self, role: Role) -> crate::Result<QLinear> {
        let m = self.model;
        let e = m.tensor(role).expect("roles are validated on open");
        let gguf = matches!(m.source, Source::Gguf(_));
        let relaid = !gguf && m.arch().hf_layout(role) != Layout::Plain;
        // compressed-tensors layers: dequantized once to f32 (as vLLM's reference path does).
        if relaid || m.compressed.as_ref().and_then(|c| c.layer(&e.name)).is_some() {
            let (shape, data) = m.read_canonical(role)?;
            let bytes = SharedBytes::owned(bytemuck::cast_slice(&data).to_vec());
            let act = ActRound::None;
            return Ok(QLinear { ty: GgmlType::F32, bytes, rows: shape[0], cols: shape[1], act });
        }
        let StorageType::Ggml(ty) = e.dtype.clone() else {
            return Err(crate::Error::unsupported(
                m.store().path_of(e),
                format!("dtype {} of tensor {}", e.dtype, e.name),
            ));
        };
        let (rows, cols) = (e.shape[0], e.shape.get(1).copied().unwrap_or(1));
        // llama's Q/K rows are stored permuted in GGUF: move whole (quantized) rows back.
        // Everything else is computed from the memory map itself, without a copy.
        let bytes = match convert::gguf_permuted_heads(&m.hparams, role).filter(|_| gguf) {
            Some(h) => {
                let b = SharedBytes::owned(convert::permute_rows(m.store().bytes(e), rows, h, true));
                m.store().release(e);
                b
            }
            None => m.store().shared_bytes(e),
        };
        // GGUF weights meet activations rounded as ggml rounds them; safetensors weights meet
        // f32 activations, as in transformers.
        let act = if gguf { ActRound::for_weight(ty) } else { ActRound::None };
        Ok(QLinear { ty, bytes, rows, cols, act })
    }

    /// The matrix of `w` in layer `layer`, with its bias if the model has one.
    fn linear(&self, layer: usize, w: LayerTensor) -> crate::Result<Linear> {
        let bias = match w.bias().map(|b| Role::Layer(layer, b)) {
            Some(b) if self.has(b) => Some(self.f32_tensor(b)?),
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
        let bytes = m.store().shared_bytes(e);
        Ok(Embedding { ty, bytes, rows: e.shape[0], dim: e.shape[1] })
    }

    fn layer(&self, i: usize) -> crate::Result<LayerWeights> {
        use LayerTensor::*;
        let r = |t| Role::Layer(i, t);
        let qkv = if self.has(r(AttnQkv)) {
            Qkv::Fused(self.linear(i, AttnQkv)?)
        } else {
            Qkv::Separate { q: self.linear(i, AttnQ)?, k: self.linear(i, AttnK)?, v: self.linear(i, AttnV)? }
        };
        let ffn = if self.has(r(FfnGateUp)) {
            FfnIn::GatedFused(self.linear(i, FfnGateUp)?)
        } else if self.has(r(FfnGate)) {
            FfnIn::Gated { gate: self.linear(i, FfnGate)?, up: self.linear(i, FfnUp)? }
        } else {
            FfnIn::Plain(self.linear(i, FfnUp)?)
        };
        Ok(LayerWeights {
            attn_norm: self.norm(r(AttnNorm), r(AttnNormBias))?,
            qkv,
            o: self.linear(i, AttnOutput)?,
            q_norm: self.opt_gain(r(AttnQNorm))?,
            k_norm: self.opt_gain(r(AttnKNorm))?,
            post_attn_norm: self.opt_gain(r(PostAttnNorm))?,
            ffn_norm: self.norm(r(FfnNorm), r(FfnNormBias))?,
            ffn,
            down: self.linear(i, FfnDown)?,
            post_ffn_norm: self.opt_gain(r(PostFfnNorm))?,
        })
    }
}

/// Layer `i`'s weights in the form the forward pass computes with.
pub fn layer(model: &Model, i: usize) -> crate::Result<LayerWeights> {
    Loader { model }.layer(i)
}

impl LayerWeights {
    /// The weight matrices of the layer.
    fn matrices(&self) -> Vec<&SharedBytes> {
        let mut all = Vec::new();
        match &self.qkv {
            Qkv::Separate { q, k, v } => all.extend([&q.w.bytes, &k.w.bytes, &v.w.bytes]),
            Qkv::Fused(x) => all.push(&x.w.bytes),
        }
        match &self.ffn {
            FfnIn::Gated { gate, up } => all.extend([&gate.w.bytes, &up.w.bytes]),
            FfnIn::GatedFused(x) | FfnIn::Plain(x) => all.push(&x.w.bytes),
        }
        all.extend([&self.o.w.bytes, &self.down.w.bytes]);
        all
    }

    /// Bytes of the layer's matrices: (computed from the memory map, copied).
    pub fn matrix_bytes(&self) -> (u64, u64) {
        split_mapped(&self.matrices())
    }
}

fn split_mapped(all: &[&SharedBytes]) -> (u64, u64) {
    all.iter().fold((0, 0), |(m, o), b| match b.is_mapped() {
        true => (m + b.len() as u64, o),
        false => (m, o + b.len() as u64),
    })
}

impl Weights {
    /// Bytes of the output head and the embedding: (computed from the memory map, copied).
    pub fn matrix_bytes(&self) -> (u64, u64) {
        let mut all: Vec<&SharedBytes> = vec![&self.output.bytes];
        if !std::ptr::eq(self.embedding.bytes.as_ptr(), self.output.bytes.as_ptr()) {
            all.push(&self.embedding.bytes);
        }
        split_mapped(&all)
    }

    pub fn load(model: &Model) -> crate::Result<Self> {
        let l = Loader { model };
        let output_role = if model.tensor(Role::Output).is_some() { Role::Output } else { Role::TokenEmbd };
        let output = l.matrix(output_role)?;
        let positions = if l.has(Role::PosEmbd) { Some(model.read_canonical(Role::PosEmbd)?.1) } else { None };
        Ok(Weights {
            embedding: l.embedding(&output)?,
            positions,
            output_norm: l.norm(Role::OutputNorm, Role::OutputNormBias)?,
            output,
        })
    }
}
