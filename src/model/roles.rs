//! Tensor roles: what each weight does in the network, independent of any file's naming.
//! Later code asks for `Role::Layer(3, LayerTensor::FfnDown)`, never for a name string.

use super::arch::Arch;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerTensor {
    AttnNorm,
    AttnQ,
    AttnK,
    AttnV,
    AttnQBias,
    AttnKBias,
    AttnVBias,
    AttnQNorm,
    AttnKNorm,
    AttnOutput,
    PostAttnNorm,
    FfnNorm,
    FfnGate,
    FfnUp,
    FfnDown,
    PostFfnNorm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    TokenEmbd,
    Layer(usize, LayerTensor),
    OutputNorm,
    Output,
}

impl LayerTensor {
    pub const ALL: [LayerTensor; 16] = [
        LayerTensor::AttnNorm,
        LayerTensor::AttnQ,
        LayerTensor::AttnK,
        LayerTensor::AttnV,
        LayerTensor::AttnQBias,
        LayerTensor::AttnKBias,
        LayerTensor::AttnVBias,
        LayerTensor::AttnQNorm,
        LayerTensor::AttnKNorm,
        LayerTensor::AttnOutput,
        LayerTensor::PostAttnNorm,
        LayerTensor::FfnNorm,
        LayerTensor::FfnGate,
        LayerTensor::FfnUp,
        LayerTensor::FfnDown,
        LayerTensor::PostFfnNorm,
    ];

    /// Whether this architecture has the tensor in every layer.
    pub fn in_arch(self, arch: Arch) -> bool {
        use LayerTensor::*;
        match self {
            AttnQBias | AttnKBias | AttnVBias => arch == Arch::Qwen2,
            AttnQNorm | AttnKNorm | PostAttnNorm | PostFfnNorm => arch == Arch::Gemma3,
            _ => true,
        }
    }

    /// RMSNorm weights (1-D multipliers).
    pub fn is_norm(self) -> bool {
        use LayerTensor::*;
        matches!(self, AttnNorm | AttnQNorm | AttnKNorm | PostAttnNorm | FfnNorm | PostFfnNorm)
    }

    /// Matrices of linear layers (the tensors a quantizer compresses).
    pub fn is_matrix(self) -> bool {
        use LayerTensor::*;
        matches!(self, AttnQ | AttnK | AttnV | AttnOutput | FfnGate | FfnUp | FfnDown)
    }

    fn gguf_stem(self) -> &'static str {
        use LayerTensor::*;
        match self {
            AttnNorm => "attn_norm.weight",
            AttnQ => "attn_q.weight",
            AttnK => "attn_k.weight",
            AttnV => "attn_v.weight",
            AttnQBias => "attn_q.bias",
            AttnKBias => "attn_k.bias",
            AttnVBias => "attn_v.bias",
            AttnQNorm => "attn_q_norm.weight",
            AttnKNorm => "attn_k_norm.weight",
            AttnOutput => "attn_output.weight",
            PostAttnNorm => "post_attention_norm.weight",
            FfnNorm => "ffn_norm.weight",
            FfnGate => "ffn_gate.weight",
            FfnUp => "ffn_up.weight",
            FfnDown => "ffn_down.weight",
            PostFfnNorm => "post_ffw_norm.weight",
        }
    }

    fn hf_stem(self, arch: Arch) -> &'static str {
        use LayerTensor::*;
        match self {
            AttnNorm => "input_layernorm.weight",
            AttnQ => "self_attn.q_proj.weight",
            AttnK => "self_attn.k_proj.weight",
            AttnV => "self_attn.v_proj.weight",
            AttnQBias => "self_attn.q_proj.bias",
            AttnKBias => "self_attn.k_proj.bias",
            AttnVBias => "self_attn.v_proj.bias",
            AttnQNorm => "self_attn.q_norm.weight",
            AttnKNorm => "self_attn.k_norm.weight",
            AttnOutput => "self_attn.o_proj.weight",
            // llama.cpp's `ffn_norm` is the norm before the MLP: Gemma-3 names it
            // pre_feedforward_layernorm and uses post_attention_layernorm for the norm that
            // follows attention; llama and qwen2 call the pre-MLP norm post_attention_layernorm.
            PostAttnNorm => "post_attention_layernorm.weight",
            FfnNorm if arch == Arch::Gemma3 => "pre_feedforward_layernorm.weight",
            FfnNorm => "post_attention_layernorm.weight",
            FfnGate => "mlp.gate_proj.weight",
            FfnUp => "mlp.up_proj.weight",
            FfnDown => "mlp.down_proj.weight",
            PostFfnNorm => "post_feedforward_layernorm.weight",
        }
    }
}

impl Role {
    pub fn gguf_name(self) -> String {
        match self {
            Role::TokenEmbd => "token_embd.weight".into(),
            Role::OutputNorm => "output_norm.weight".into(),
            Role::Output => "output.weight".into(),
            Role::Layer(i, t) => format!("blk.{i}.{}", t.gguf_stem()),
        }
    }

    pub fn hf_name(self, arch: Arch) -> String {
        match self {
            Role::TokenEmbd => "model.embed_tokens.weight".into(),
            Role::OutputNorm => "model.norm.weight".into(),
            Role::Output => "lm_head.weight".into(),
            Role::Layer(i, t) => format!("model.layers.{i}.{}", t.hf_stem(arch)),
        }
    }

    /// The role of a GGUF tensor name, if it is one of this architecture's.
    pub fn from_gguf_name(arch: Arch, name: &str) -> Option<Role> {
        Self::parse(arch, name, |r| r.gguf_name())
    }

    /// The role of a Hugging Face tensor name, if it is one of this architecture's.
    pub fn from_hf_name(arch: Arch, name: &str) -> Option<Role> {
        Self::parse(arch, name, |r| r.hf_name(arch))
    }

    fn parse(arch: Arch, name: &str, render: impl Fn(Role) -> String) -> Option<Role> {
        for r in [Role::TokenEmbd, Role::OutputNorm, Role::Output] {
            if render(r) == name {
                return Some(r);
            }
        }
        // The layer index is the only number in a layer tensor's name in both schemes.
        let digits: String =
            name.chars().skip_while(|c| !c.is_ascii_digit()).take_while(|c| c.is_ascii_digit()).collect();
        let layer: usize = digits.parse().ok()?;
        LayerTensor::ALL
            .iter()
            .map(|&t| Role::Layer(layer, t))
            .find(|&r| matches!(r, Role::Layer(_, t) if t.in_arch(arch)) && render(r) == name)
    }

    pub fn is_norm(self) -> bool {
        match self {
            Role::OutputNorm => true,
            Role::Layer(_, t) => t.is_norm(),
            _ => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.gguf_name())
    }
}
