//! The architectures sinkquant understands, each a description in a file of its own: the
//! names of its tensors in Hugging Face and GGUF files, how they are laid out, which parts the
//! block is made of (norm, activation, feed-forward form, positions, residual), and how its
//! `config.json` reads and writes. Every stage reads the description, not the name: adding an
//! architecture is one file here, one line in [`ALL`], and its tests.

mod config;
mod gemma2;
mod gemma3;
mod gpt2;
mod gpt_neox;
mod llama;
mod mistral;
mod names;
mod phi3;
mod qwen2;
mod qwen3;

pub use config::{hf_config_base, Cfg};
pub use names::{Layout, Slot, TensorName};

use super::hparams::{Act, ConfigError, HParams};
use super::roles::Role;
use serde_json::{Map, Value};
use std::fmt;

/// The normalisation of the residual stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// `x / rms(x) * g`.
    Rms,
    /// `(x - mean) / std * g + b`.
    Layer,
}

impl Norm {
    /// The GGUF key (after `<arch>.`) of the norms' epsilon.
    pub fn gguf_eps_key(self) -> &'static str {
        match self {
            Norm::Rms => "attention.layer_norm_rms_epsilon",
            Norm::Layer => "attention.layer_norm_epsilon",
        }
    }
}

/// The feed-forward block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ffn {
    /// `down(act(gate x) * up x)` (gate and up separate or fused).
    Gated,
    /// `down(act(up x))`.
    Plain,
}

/// Token positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Rotary embeddings in the GPT-NeoX layout (each head's rotary part in two halves).
    Rope,
    /// A learned embedding added to the token embedding.
    Learned,
}

/// Which layers attend over a sliding window when the config sets one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sliding {
    /// None: a window in the config is refused.
    Never,
    /// Every layer (Mistral).
    All,
    /// Every `n`-th layer is global, the others local (Gemma-2: 2, Gemma-3: 6).
    Pattern(usize),
}

pub struct ArchSpec {
    /// sinkquant's name of the architecture.
    pub name: &'static str,
    /// llama.cpp's `general.architecture`, also the prefix of its hyperparameter keys.
    pub gguf: &'static str,
    /// `model_type`s of config.json; the first is written.
    pub hf_model_types: &'static [&'static str],
    pub hf_class: &'static str,
    pub norm: Norm,
    /// Norm gains multiply by `offset + w` (Gemma: 1); HF stores `w`, GGUF `offset + w`.
    pub norm_offset: f32,
    pub ffn: Ffn,
    pub position: Position,
    pub sliding: Sliding,
    /// Embeddings are multiplied by `sqrt(d_model)` (Gemma).
    pub embed_scale: bool,
    /// The activation when config.json names none (GGUF never does).
    pub act: Act,
    /// Attention and final-logit soft-capping are part of the architecture (Gemma-2).
    pub softcap: bool,
    /// Queries are scaled by `query_pre_attn_scalar^-0.5` (Gemma; from a GGUF: the head size).
    pub query_pre_attn_scalar: bool,
    /// RoPE base of the sliding-window layers when a GGUF is read (llama.cpp hard-codes it).
    pub rope_local_base: Option<f64>,
    /// Parallel residual when a GGUF does not say (GPT-NeoX).
    pub parallel_residual: bool,
    /// llama.cpp stores Q and K rows permuted for its interleaved RoPE (`LlamaModel.permute`).
    pub gguf_permutes_qk: bool,
    /// GGUF keys (after `<arch>.`) written even when they hold the default llama.cpp infers,
    /// as llama.cpp's converter writes them.
    pub gguf_always: &'static [&'static str],
    /// The tensors, with their Hugging Face names and layouts.
    pub tensors: fn() -> Vec<TensorName>,
    /// Hyperparameters from config.json.
    pub read_config: fn(&Cfg, Arch) -> Result<HParams, ConfigError>,
    /// The architecture's own keys of a config.json written for transformers.
    pub write_config: fn(&HParams, &mut Map<String, Value>),
    /// What `--outliers fold` folds in this architecture, and why it is exact.
    pub folding: &'static str,
}

/// Every architecture, in the order `Arch::from_gguf` tries them (the first of a GGUF name wins:
/// Mistral's GGUF is llama's).
pub static ALL: [&ArchSpec; 9] = [
    &llama::SPEC,
    &qwen2::SPEC,
    &gemma3::SPEC,
    &qwen3::SPEC,
    &mistral::SPEC,
    &gemma2::SPEC,
    &phi3::SPEC,
    &gpt_neox::SPEC,
    &gpt2::SPEC,
];

/// An architecture: a handle on its description.
#[derive(Clone, Copy)]
pub struct Arch(&'static ArchSpec);

impl Arch {
    pub fn spec(self) -> &'static ArchSpec {
        self.0
    }

    pub fn all() -> impl Iterator<Item = Arch> {
        ALL.iter().map(|s| Arch(s))
    }

    /// sinkquant's name of every architecture, for error messages.
    pub fn supported() -> String {
        Arch::all().map(|a| a.name()).collect::<Vec<_>>().join(", ")
    }

    pub fn by_name(name: &str) -> Option<Arch> {
        Arch::all().find(|a| a.name() == name)
    }

    /// From GGUF's `general.architecture`.
    pub fn from_gguf(name: &str) -> Option<Arch> {
        Arch::all().find(|a| a.0.gguf == name)
    }

    /// From a Hugging Face `config.json`'s `model_type`.
    pub fn from_hf_model_type(name: &str) -> Option<Arch> {
        Arch::all().find(|a| a.0.hf_model_types.contains(&name))
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// GGUF's architecture name (also the prefix of its hyperparameter keys).
    pub fn gguf_name(self) -> &'static str {
        self.0.gguf
    }

    pub fn hf_model_type(self) -> &'static str {
        self.0.hf_model_types[0]
    }

    pub fn hf_class(self) -> &'static str {
        self.0.hf_class
    }

    pub fn gguf_permutes_qk(self) -> bool {
        self.0.gguf_permutes_qk
    }

    pub fn gguf_norm_offset(self) -> f32 {
        self.0.norm_offset
    }

    pub fn tensors(self) -> Vec<TensorName> {
        (self.0.tensors)()
    }

    /// The Hugging Face name of `role`, if the architecture has it.
    pub fn hf_name(self, role: Role) -> Option<String> {
        self.tensors().iter().find(|t| t.slot.matches(role)).map(|t| t.render_hf(role))
    }

    /// The layout of `role` in Hugging Face files.
    pub fn hf_layout(self, role: Role) -> Layout {
        self.tensors().iter().find(|t| t.slot.matches(role)).map_or(Layout::Plain, |t| t.layout)
    }

    /// The role of a Hugging Face tensor name.
    pub fn role_of_hf(self, name: &str) -> Option<Role> {
        self.tensors().iter().find_map(|t| t.parse_hf(name))
    }

    /// The role of a GGUF tensor name.
    pub fn role_of_gguf(self, name: &str) -> Option<Role> {
        self.tensors().iter().find_map(|t| t.parse_gguf(name))
    }
}

impl Role {
    /// The Hugging Face name of this role in `arch` (its GGUF name if the architecture has no
    /// such tensor).
    pub fn hf_name(self, arch: Arch) -> String {
        arch.hf_name(self).unwrap_or_else(|| self.gguf_name())
    }
}

impl PartialEq for Arch {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}
impl Eq for Arch {}

impl std::hash::Hash for Arch {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.name.hash(h)
    }
}

impl fmt::Debug for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl serde::Serialize for Arch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LayerTensor;

    #[test]
    fn names_parse_back_to_their_roles() {
        for arch in Arch::all() {
            for t in arch.tensors() {
                let role = match t.slot {
                    Slot::Global(r) => r,
                    Slot::Layer(l) => Role::Layer(7, l),
                };
                let hf = arch.hf_name(role).expect("named");
                assert_eq!(arch.role_of_hf(&hf), Some(role), "{arch} {hf}");
                assert_eq!(arch.role_of_gguf(&role.gguf_name()), Some(role), "{arch} {role}");
            }
            assert!(Arch::from_hf_model_type(arch.hf_model_type()) == Some(arch), "{arch}");
        }
        let phi3 = Arch::by_name("phi3").unwrap();
        assert_eq!(phi3.role_of_gguf("blk.2.ffn_up.weight"), Some(Role::Layer(2, LayerTensor::FfnGateUp)));
        let llama = Arch::by_name("llama").unwrap();
        assert_eq!(llama.role_of_gguf("blk.2.ffn_up.weight"), Some(Role::Layer(2, LayerTensor::FfnUp)));
        assert_eq!(llama.role_of_hf("model.layers.12.mlp.up_proj.weight"), Some(Role::Layer(12, LayerTensor::FfnUp)));
        assert_eq!(llama.role_of_hf("model.layers.x.mlp.up_proj.weight"), None);
        assert_eq!(Arch::from_gguf("llama").map(Arch::name), Some("llama"), "mistral's GGUF opens as llama");
    }
}
