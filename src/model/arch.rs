//! The architectures sinkquant understands.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Llama,
    Qwen2,
    Gemma3,
}

impl Arch {
    pub const ALL: [Arch; 3] = [Arch::Llama, Arch::Qwen2, Arch::Gemma3];

    /// From GGUF's `general.architecture`.
    pub fn from_gguf(name: &str) -> Option<Arch> {
        match name {
            "llama" => Some(Arch::Llama),
            "qwen2" => Some(Arch::Qwen2),
            "gemma3" => Some(Arch::Gemma3),
            _ => None,
        }
    }

    /// From a Hugging Face `config.json`'s `model_type`.
    pub fn from_hf_model_type(name: &str) -> Option<Arch> {
        match name {
            "llama" => Some(Arch::Llama),
            "qwen2" => Some(Arch::Qwen2),
            "gemma3_text" | "gemma3" => Some(Arch::Gemma3),
            _ => None,
        }
    }

    /// GGUF's architecture name (also the prefix of its hyperparameter keys).
    pub fn gguf_name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Gemma3 => "gemma3",
        }
    }

    pub fn hf_model_type(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Gemma3 => "gemma3_text",
        }
    }

    pub fn hf_class(self) -> &'static str {
        match self {
            Arch::Llama => "LlamaForCausalLM",
            Arch::Qwen2 => "Qwen2ForCausalLM",
            Arch::Gemma3 => "Gemma3ForCausalLM",
        }
    }

    /// llama.cpp stores Q and K rows of this architecture permuted for its interleaved RoPE
    /// (`LlamaModel.permute` in convert_hf_to_gguf.py).
    pub fn gguf_permutes_qk(self) -> bool {
        self == Arch::Llama
    }

    /// RMSNorm weights are stored as `1 + w` in GGUF (Gemma's norms multiply by `1 + w`;
    /// convert_hf_to_gguf.py adds the 1 so llama.cpp can multiply by the stored value).
    pub fn gguf_norm_offset(self) -> f32 {
        match self {
            Arch::Gemma3 => 1.0,
            _ => 0.0,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.gguf_name())
    }
}
