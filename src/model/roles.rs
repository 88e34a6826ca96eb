//! Tensor roles: what each weight does in the network, independent of any file's naming.
//! Later code asks for `Role::Layer(3, LayerTensor::FfnDown)`, never for a name string. Which
//! roles an architecture has, and what its files call them, is in its description
//! (`crate::model::arch`).

use std::fmt;

/// A tensor of one transformer block. Fused projections (`AttnQkv`, `FfnGateUp`) are roles of
/// their own: the architectures that store them fused keep them fused in GGUF too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerTensor {
    AttnNorm,
    AttnNormBias,
    AttnQ,
    AttnK,
    AttnV,
    /// Q, K and V rows stacked (Phi-3, GPT-NeoX, GPT-2), in that order.
    AttnQkv,
    AttnQBias,
    AttnKBias,
    AttnVBias,
    AttnQkvBias,
    AttnQNorm,
    AttnKNorm,
    AttnOutput,
    AttnOutputBias,
    PostAttnNorm,
    FfnNorm,
    FfnNormBias,
    FfnGate,
    FfnUp,
    /// Gate rows then up rows (Phi-3's `gate_up_proj`; llama.cpp's `ffn_up` of phi3).
    FfnGateUp,
    FfnUpBias,
    FfnDown,
    FfnDownBias,
    PostFfnNorm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    TokenEmbd,
    /// Learned absolute position embeddings (GPT-2).
    PosEmbd,
    Layer(usize, LayerTensor),
    OutputNorm,
    OutputNormBias,
    Output,
}

impl LayerTensor {
    pub const ALL: [LayerTensor; 24] = {
        use LayerTensor::*;
        [
            AttnNorm,
            AttnNormBias,
            AttnQ,
            AttnK,
            AttnV,
            AttnQkv,
            AttnQBias,
            AttnKBias,
            AttnVBias,
            AttnQkvBias,
            AttnQNorm,
            AttnKNorm,
            AttnOutput,
            AttnOutputBias,
            PostAttnNorm,
            FfnNorm,
            FfnNormBias,
            FfnGate,
            FfnUp,
            FfnGateUp,
            FfnUpBias,
            FfnDown,
            FfnDownBias,
            PostFfnNorm,
        ]
    };

    /// Norm gains (1-D multipliers; not their biases).
    pub fn is_norm(self) -> bool {
        use LayerTensor::*;
        matches!(self, AttnNorm | AttnQNorm | AttnKNorm | PostAttnNorm | FfnNorm | PostFfnNorm)
    }

    /// Matrices of linear layers (the tensors a quantizer compresses).
    pub fn is_matrix(self) -> bool {
        use LayerTensor::*;
        matches!(self, AttnQ | AttnK | AttnV | AttnQkv | AttnOutput | FfnGate | FfnUp | FfnGateUp | FfnDown)
    }

    /// The bias added to this matrix's output, or to this norm's output.
    pub fn bias(self) -> Option<LayerTensor> {
        use LayerTensor::*;
        Some(match self {
            AttnNorm => AttnNormBias,
            FfnNorm => FfnNormBias,
            AttnQ => AttnQBias,
            AttnK => AttnKBias,
            AttnV => AttnVBias,
            AttnQkv => AttnQkvBias,
            AttnOutput => AttnOutputBias,
            FfnUp => FfnUpBias,
            FfnDown => FfnDownBias,
            _ => return None,
        })
    }

    /// llama.cpp's name of the tensor in block `blk.N.`.
    pub fn gguf_stem(self) -> &'static str {
        use LayerTensor::*;
        match self {
            AttnNorm => "attn_norm.weight",
            AttnNormBias => "attn_norm.bias",
            AttnQ => "attn_q.weight",
            AttnK => "attn_k.weight",
            AttnV => "attn_v.weight",
            AttnQkv => "attn_qkv.weight",
            AttnQBias => "attn_q.bias",
            AttnKBias => "attn_k.bias",
            AttnVBias => "attn_v.bias",
            AttnQkvBias => "attn_qkv.bias",
            AttnQNorm => "attn_q_norm.weight",
            AttnKNorm => "attn_k_norm.weight",
            AttnOutput => "attn_output.weight",
            AttnOutputBias => "attn_output.bias",
            PostAttnNorm => "post_attention_norm.weight",
            FfnNorm => "ffn_norm.weight",
            FfnNormBias => "ffn_norm.bias",
            FfnGate => "ffn_gate.weight",
            FfnUp | FfnGateUp => "ffn_up.weight",
            FfnUpBias => "ffn_up.bias",
            FfnDown => "ffn_down.weight",
            FfnDownBias => "ffn_down.bias",
            PostFfnNorm => "post_ffw_norm.weight",
        }
    }
}

impl Role {
    /// llama.cpp's tensor name (Phi-3's fused `FfnGateUp` is its `ffn_up`).
    pub fn gguf_name(self) -> String {
        match self {
            Role::TokenEmbd => "token_embd.weight".into(),
            Role::PosEmbd => "position_embd.weight".into(),
            Role::OutputNorm => "output_norm.weight".into(),
            Role::OutputNormBias => "output_norm.bias".into(),
            Role::Output => "output.weight".into(),
            Role::Layer(i, t) => format!("blk.{i}.{}", t.gguf_stem()),
        }
    }

    /// Norm gains.
    pub fn is_norm(self) -> bool {
        match self {
            Role::OutputNorm => true,
            Role::Layer(_, t) => t.is_norm(),
            _ => false,
        }
    }

    /// The layer of a block tensor.
    pub fn layer(self) -> Option<usize> {
        match self {
            Role::Layer(i, _) => Some(i),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.gguf_name())
    }
}
