//! Hyperparameters, read from GGUF metadata or a Hugging Face `config.json` (the reading of
//! config.json is each architecture's, in `super::arch`), and written back as a `config.json`
//! that transformers loads.

use super::arch::{Arch, Position, Sliding};
use super::rope_scaling::RopeScaling;
use crate::error::{Error, Result};
use crate::io::gguf::GgufFile;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Gemma-3 interleaves five sliding-window layers with one global layer; llama.cpp hard-codes
/// the pattern (`set_swa_pattern(6)`) and the local RoPE base (10000) for gemma3.
pub const GEMMA3_SWA_PATTERN: usize = 6;
pub const GEMMA3_ROPE_LOCAL_BASE: f64 = 10_000.0;

/// llama.cpp's RoPE tensors: llama3 divisors, and Phi-3's LongRoPE factors.
pub const ROPE_FREQS: &str = "rope_freqs.weight";
pub const ROPE_SHORT: &str = "rope_factors_short.weight";
pub const ROPE_LONG: &str = "rope_factors_long.weight";
pub const ROPE_TENSORS: [&str; 3] = [ROPE_FREQS, ROPE_SHORT, ROPE_LONG];

/// The feed-forward activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    Silu,
    /// Exact GELU (erf).
    Gelu,
    /// GELU's tanh approximation (`gelu_pytorch_tanh`, GPT-2's `gelu_new`).
    GeluTanh,
}

impl Act {
    /// From config.json's `hidden_act` / `hidden_activation`.
    pub fn from_hf(name: &str) -> Option<Act> {
        match name {
            "silu" | "swish" => Some(Act::Silu),
            "gelu" => Some(Act::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Act::GeluTanh),
            _ => None,
        }
    }

    pub fn hf_name(self) -> &'static str {
        match self {
            Act::Silu => "silu",
            Act::Gelu => "gelu",
            Act::GeluTanh => "gelu_pytorch_tanh",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HParams {
    pub arch: Arch,
    pub n_layers: usize,
    pub d_model: usize,
    pub d_ff: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub vocab_size: usize,
    pub ctx_len: usize,
    /// Epsilon of the norms (RMSNorm or LayerNorm, as the architecture has).
    pub norm_eps: f64,
    pub rope_theta: f64,
    /// Dimensions of each head that are rotated (partial rotary: GPT-NeoX, Phi-3.5/4-mini).
    pub rotary_dim: usize,
    pub rope_scaling: Option<RopeScaling>,
    /// Gemma-3: RoPE base of the sliding-window layers.
    pub rope_theta_local: Option<f64>,
    /// The window of the local layers.
    pub sliding_window: Option<usize>,
    /// Every `n`-th layer is global, the others local (1: every layer is local).
    pub sliding_window_pattern: Option<usize>,
    /// Gemma: attention logits are scaled by `query_pre_attn_scalar^-0.5`.
    pub query_pre_attn_scalar: Option<f64>,
    /// Gemma-2: attention scores become `cap * tanh(score / cap)`.
    pub attn_softcap: Option<f64>,
    /// Gemma-2: logits become `cap * tanh(logit / cap)`.
    pub final_softcap: Option<f64>,
    pub act: Act,
    /// GPT-NeoX: attention and feed-forward both read the block's input, `x + attn(x) + ffn(x)`.
    pub parallel_residual: bool,
    pub tied_embeddings: bool,
}

/// Why a `config.json` gives no hyperparameters; [`ConfigError::at`] names the file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A `model_type` sinkquant does not handle.
    #[error("architecture {0:?} (supported: {supported})", supported = Arch::supported())]
    Architecture(String),
    /// A field is missing or malformed.
    #[error("{0}")]
    Malformed(String),
    /// The configuration asks for math the forward pass does not implement.
    #[error("{0}")]
    Unimplemented(String),
}

impl ConfigError {
    /// The library error for this problem in the `config.json` at `path`.
    pub fn at(self, path: &Path) -> Error {
        match self {
            ConfigError::Architecture(_) => Error::unsupported(path, self.to_string()),
            ConfigError::Malformed(msg) => Error::corrupt(path, msg),
            ConfigError::Unimplemented(msg) => Error::unsupported(path, msg),
        }
    }
}

/// f32 values from GGUF (1e-6 is stored as 9.99999997e-07) to the shortest decimal.
fn tidy(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(v as f64)
}

/// The window and layer pattern of a GGUF's `attention.sliding_window`, as the description allows.
fn sliding(kind: Sliding, window: Option<usize>) -> (Option<usize>, Option<usize>) {
    match kind {
        Sliding::Never => (None, None),
        Sliding::All => (window, window.map(|_| 1)),
        Sliding::Pattern(n) => (window, Some(n)),
    }
}

/// A GGUF's RoPE scaling: `rope.scaling.*` keys, llama3's `rope_freqs` divisors, or Phi-3's
/// LongRoPE factor tensors.
fn gguf_rope_scaling(g: &GgufFile, a: &str) -> Result<Option<RopeScaling>> {
    let key = |k: &str| g.get(&format!("{a}.{k}"));
    let tensor =
        |name: &str| -> Result<Option<Vec<f32>>> { g.store.get(name).map(|e| g.store.read_f32(e)).transpose() };
    let kind = key("rope.scaling.type").and_then(|v| v.as_str());
    let factor = key("rope.scaling.factor").and_then(|v| v.as_f64());
    let scaling = RopeScaling::from_gguf(kind, factor, tensor(ROPE_FREQS)?)
        .map_err(|e| Error::unsupported(g.path(), e.to_string()))?;
    let (Some(short_factor), Some(long_factor)) = (tensor(ROPE_SHORT)?, tensor(ROPE_LONG)?) else {
        return Ok(scaling);
    };
    let original_ctx = key("rope.scaling.original_context_length")
        .and_then(|v| v.as_i64())
        .and_then(|x| usize::try_from(x).ok())
        .ok_or_else(|| {
            Error::corrupt(g.path(), format!("LongRoPE factors without {a}.rope.scaling.original_context_length"))
        })?;
    let attn_factor = key("rope.scaling.attn_factor").and_then(|v| v.as_f64()).map_or(1.0, |x| tidy(x as f32));
    Ok(Some(RopeScaling::LongRope { short_factor, long_factor, original_ctx, attn_factor }))
}

impl HParams {
    /// The hyperparameters a config reader starts from: no dimensions yet (each reader sets
    /// them), plain RoPE of base 10000 on no dimensions, none of the optional parts, and the
    /// description's activation and residual form.
    pub fn defaults(arch: Arch) -> Self {
        let spec = arch.spec();
        HParams {
            arch,
            n_layers: 0,
            d_model: 0,
            d_ff: 0,
            n_heads: 0,
            n_kv_heads: 0,
            head_dim: 0,
            vocab_size: 0,
            ctx_len: 0,
            norm_eps: 0.0,
            rope_theta: 10_000.0,
            rotary_dim: 0,
            rope_scaling: None,
            rope_theta_local: None,
            sliding_window: None,
            sliding_window_pattern: None,
            query_pre_attn_scalar: None,
            attn_softcap: None,
            final_softcap: None,
            act: spec.act,
            parallel_residual: spec.parallel_residual,
            tied_embeddings: false,
        }
    }

    /// From GGUF metadata, as the architecture's description says to read it. `has_output`
    /// says whether the file carries a separate output matrix. Missing or malformed keys are
    /// `Error::Corrupt` naming the file; math the forward pass lacks is `Error::Unsupported`.
    pub fn from_gguf(arch: Arch, g: &GgufFile, has_output: bool) -> Result<Self> {
        let spec = arch.spec();
        let a = arch.gguf_name();
        let bad = |msg: String| Error::corrupt(g.path(), msg);
        let uint = |k: &str| -> Result<usize> {
            let key = format!("{a}.{k}");
            let v = g.get(&key).ok_or_else(|| bad(format!("missing metadata {key}")))?;
            v.as_i64()
                .and_then(|x| usize::try_from(x).ok())
                .filter(|&x| x > 0)
                .ok_or_else(|| bad(format!("metadata {key} = {v} is not a positive integer")))
        };
        let opt_uint = |k: &str| {
            g.get(&format!("{a}.{k}")).and_then(|v| v.as_i64()).and_then(|x| usize::try_from(x).ok()).filter(|&x| x > 0)
        };
        let opt_float = |k: &str| g.get(&format!("{a}.{k}")).and_then(|v| v.as_f64()).map(|x| tidy(x as f32));
        let float = |k: &str| -> Result<f64> {
            let key = format!("{a}.{k}");
            let v = g.get(&key).ok_or_else(|| bad(format!("missing metadata {key}")))?;
            v.as_f64().map(|x| tidy(x as f32)).ok_or_else(|| bad(format!("metadata {key} = {v} is not a number")))
        };
        let d_model = uint("embedding_length")?;
        let n_heads = uint("attention.head_count")?;
        let n_kv_heads = opt_uint("attention.head_count_kv").unwrap_or(n_heads);
        if n_heads % n_kv_heads != 0 {
            return Err(bad(format!("{n_heads} attention heads do not split into {n_kv_heads} KV groups")));
        }
        let head_dim = match opt_uint("attention.key_length") {
            Some(h) => h,
            None if d_model % n_heads == 0 => d_model / n_heads,
            None => return Err(bad(format!("embedding length {d_model} is not a multiple of {n_heads} heads"))),
        };
        let tokens = || g.get("tokenizer.ggml.tokens").and_then(|t| t.as_array()).map(|t| t.len());
        let vocab_size = opt_uint("vocab_size")
            .or_else(tokens)
            .ok_or_else(|| bad("missing metadata tokenizer.ggml.tokens".into()))?;
        let eps_key = spec.norm.gguf_eps_key();
        let rope_scaling = gguf_rope_scaling(g, a)?;
        let softcap = |k: &str| opt_float(k).filter(|v| *v != 0.0);
        let (attn_softcap, final_softcap) = (softcap("attn_logit_softcapping"), softcap("final_logit_softcapping"));
        if !spec.softcap && (attn_softcap.is_some() || final_softcap.is_some()) {
            return Err(Error::unsupported(
                g.path(),
                format!("soft-capping in a {a} model (the description has none)"),
            ));
        }
        let (sliding_window, sliding_window_pattern) = sliding(spec.sliding, opt_uint("attention.sliding_window"));
        let parallel = g.get(&format!("{a}.use_parallel_residual")).and_then(|v| v.as_bool());
        Ok(HParams {
            arch,
            n_layers: uint("block_count")?,
            d_model,
            d_ff: uint("feed_forward_length")?,
            n_heads,
            n_kv_heads,
            head_dim,
            vocab_size,
            ctx_len: uint("context_length")?,
            norm_eps: float(eps_key)?,
            rope_theta: float("rope.freq_base").unwrap_or(10_000.0),
            rotary_dim: if spec.position == Position::Rope {
                opt_uint("rope.dimension_count").unwrap_or(head_dim)
            } else {
                0
            },
            rope_scaling,
            rope_theta_local: spec.rope_local_base,
            sliding_window,
            sliding_window_pattern,
            // llama.cpp scales Gemma queries by 1/sqrt(head_dim) for all but the 27B models.
            query_pre_attn_scalar: spec.query_pre_attn_scalar.then_some(head_dim as f64),
            attn_softcap,
            final_softcap,
            act: spec.act,
            parallel_residual: parallel.unwrap_or(spec.parallel_residual),
            tied_embeddings: !has_output,
        })
    }

    /// From a Hugging Face `config.json` (transformers 4.x or 5.x style), read as its
    /// `model_type`'s description says.
    pub fn from_hf_config(cfg: &Value) -> Result<Self, ConfigError> {
        let model_type = cfg
            .get("model_type")
            .and_then(Value::as_str)
            .ok_or_else(|| ConfigError::Malformed("config.json has no model_type".into()))?;
        let arch =
            Arch::from_hf_model_type(model_type).ok_or_else(|| ConfigError::Architecture(model_type.to_string()))?;
        (arch.spec().read_config)(&super::arch::Cfg(cfg), arch)
    }

    /// Whether layer `i` attends over a sliding window.
    pub fn is_sliding(&self, layer: usize) -> bool {
        matches!(self.sliding_window_pattern, Some(p) if (layer + 1) % p != 0)
    }

    /// A `config.json` for transformers. Both the 4.x fields (`rope_theta`, ...) and 5.x's
    /// `rope_parameters` are written, so either version reads it.
    pub fn to_hf_config(&self, special: &SpecialIds, dtype: &str) -> Value {
        let mut o = super::arch::hf_config_base(self, special, dtype);
        (self.arch.spec().write_config)(self, &mut o);
        Value::Object(o)
    }

    /// config.json's `rope_scaling` object for the global layers' RoPE, if scaled.
    pub fn rope_scaling_hf(&self) -> Option<Value> {
        self.rope_scaling.as_ref().and_then(|s| s.to_hf(self.rotary_dim, self.rope_theta))
    }

    /// `rope_parameters` of a config.json for one RoPE base (`rope_scaling`'s keys included).
    pub fn rope_parameters(&self, theta: f64) -> Value {
        let mut p = json!({"rope_theta": theta, "rope_type": "default"});
        if let Some(Value::Object(s)) = self.rope_scaling_hf() {
            let m: &mut Map<String, Value> = p.as_object_mut().expect("object");
            m.extend(s);
        }
        p
    }
}

/// Special token ids shared by config.json, generation_config.json and the tokenizer.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SpecialIds {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub pad: Option<u32>,
    pub unk: Option<u32>,
}
