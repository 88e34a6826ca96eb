//! Hyperparameters, read from GGUF metadata or a Hugging Face `config.json`, and written back
//! as a `config.json` that transformers loads.

use super::arch::Arch;
use crate::error::{Error, Result};
use crate::io::gguf::GgufFile;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;

/// Gemma-3 interleaves five sliding-window layers with one global layer; llama.cpp hard-codes
/// the pattern (`set_swa_pattern(6)`) and the local RoPE base (10000) for gemma3.
pub const GEMMA3_SWA_PATTERN: usize = 6;
pub const GEMMA3_ROPE_LOCAL_BASE: f64 = 10_000.0;

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
    pub rms_eps: f64,
    pub rope_theta: f64,
    /// Gemma-3: RoPE base of the sliding-window layers.
    pub rope_theta_local: Option<f64>,
    /// Gemma-3: window of the local layers.
    pub sliding_window: Option<usize>,
    /// Gemma-3: every `n`-th layer is global.
    pub sliding_window_pattern: Option<usize>,
    /// Gemma-3: attention logits are scaled by `query_pre_attn_scalar^-0.5`.
    pub query_pre_attn_scalar: Option<f64>,
    pub tied_embeddings: bool,
}

/// Why a `config.json` gives no hyperparameters; [`ConfigError::at`] names the file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A `model_type` sinkquant does not handle.
    #[error("architecture {0:?} (supported: llama, qwen2, gemma3)")]
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

fn malformed(msg: impl Into<String>) -> ConfigError {
    ConfigError::Malformed(msg.into())
}

/// f32 values from GGUF (1e-6 is stored as 9.99999997e-07) to the shortest decimal.
fn tidy(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(v as f64)
}

impl HParams {
    /// From GGUF metadata. `has_output` says whether the file carries a separate output matrix.
    /// Missing or malformed keys are `Error::Corrupt` naming the file.
    pub fn from_gguf(arch: Arch, g: &GgufFile, has_output: bool) -> Result<Self> {
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
        let vocab_size = match opt_uint("vocab_size") {
            Some(v) => v,
            None => g
                .get("tokenizer.ggml.tokens")
                .and_then(|t| t.as_array())
                .map(|t| t.len())
                .ok_or_else(|| bad("missing metadata tokenizer.ggml.tokens".into()))?,
        };
        let gemma = arch == Arch::Gemma3;
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
            rms_eps: float("attention.layer_norm_rms_epsilon")?,
            rope_theta: float("rope.freq_base").unwrap_or(10_000.0),
            rope_theta_local: gemma.then_some(GEMMA3_ROPE_LOCAL_BASE),
            sliding_window: if gemma { opt_uint("attention.sliding_window") } else { None },
            sliding_window_pattern: gemma.then_some(GEMMA3_SWA_PATTERN),
            // llama.cpp scales Gemma-3 queries by 1/sqrt(head_dim) for all but the 27B model.
            query_pre_attn_scalar: gemma.then_some(head_dim as f64),
            tied_embeddings: !has_output,
        })
    }

    /// From a Hugging Face `config.json` (transformers 4.x or 5.x style).
    pub fn from_hf_config(cfg: &Value) -> Result<Self, ConfigError> {
        let model_type =
            cfg.get("model_type").and_then(Value::as_str).ok_or_else(|| malformed("config.json has no model_type"))?;
        let arch =
            Arch::from_hf_model_type(model_type).ok_or_else(|| ConfigError::Architecture(model_type.to_string()))?;
        super::unimplemented::check_hf_config(cfg, arch == Arch::Gemma3)?;
        let uint = |k: &str| -> Result<usize, ConfigError> {
            cfg.get(k)
                .and_then(Value::as_u64)
                .filter(|&x| x > 0)
                .map(|x| x as usize)
                .ok_or_else(|| malformed(format!("config.json: {k} missing or not a positive integer")))
        };
        let opt_uint = |k: &str| cfg.get(k).and_then(Value::as_u64).filter(|&x| x > 0).map(|x| x as usize);
        let rope = cfg.get("rope_parameters");
        let rope_of = |layer_type: &str| -> Option<f64> {
            let r = rope?;
            r.get(layer_type).unwrap_or(r).get("rope_theta")?.as_f64()
        };
        let d_model = uint("hidden_size")?;
        let n_heads = uint("num_attention_heads")?;
        let gemma = arch == Arch::Gemma3;
        let head_dim = opt_uint("head_dim").unwrap_or(d_model / n_heads);
        let pattern = cfg
            .get("layer_types")
            .and_then(Value::as_array)
            .and_then(|t| t.iter().position(|x| x == "full_attention"))
            .map(|p| p + 1);
        Ok(HParams {
            arch,
            n_layers: uint("num_hidden_layers")?,
            d_model,
            d_ff: uint("intermediate_size")?,
            n_heads,
            n_kv_heads: opt_uint("num_key_value_heads").unwrap_or(n_heads),
            head_dim,
            vocab_size: uint("vocab_size")?,
            ctx_len: uint("max_position_embeddings")?,
            rms_eps: cfg
                .get("rms_norm_eps")
                .and_then(Value::as_f64)
                .ok_or_else(|| malformed("config.json: rms_norm_eps missing"))?,
            rope_theta: rope_of("full_attention")
                .or_else(|| cfg.get("rope_theta").and_then(Value::as_f64))
                .unwrap_or(10_000.0),
            rope_theta_local: if gemma {
                Some(
                    rope_of("sliding_attention")
                        .or_else(|| cfg.get("rope_local_base_freq").and_then(Value::as_f64))
                        .unwrap_or(GEMMA3_ROPE_LOCAL_BASE),
                )
            } else {
                None
            },
            sliding_window: if gemma { opt_uint("sliding_window") } else { None },
            sliding_window_pattern: if gemma {
                Some(
                    pattern
                        .or_else(|| opt_uint("sliding_window_pattern"))
                        .or_else(|| opt_uint("_sliding_window_pattern"))
                        .unwrap_or(GEMMA3_SWA_PATTERN),
                )
            } else {
                None
            },
            query_pre_attn_scalar: if gemma {
                Some(cfg.get("query_pre_attn_scalar").and_then(Value::as_f64).unwrap_or(head_dim as f64))
            } else {
                None
            },
            tied_embeddings: cfg.get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(arch == Arch::Gemma3),
        })
    }

    /// Whether layer `i` attends over a sliding window (Gemma-3's local layers).
    pub fn is_sliding(&self, layer: usize) -> bool {
        matches!(self.sliding_window_pattern, Some(p) if (layer + 1) % p != 0)
    }

    /// A `config.json` for transformers. Both the 4.x fields (`rope_theta`, ...) and 5.x's
    /// `rope_parameters` are written, so either version reads it.
    pub fn to_hf_config(&self, special: &SpecialIds, dtype: &str) -> Value {
        let mut c = json!({
            "architectures": [self.arch.hf_class()],
            "model_type": self.arch.hf_model_type(),
            "hidden_size": self.d_model,
            "intermediate_size": self.d_ff,
            "num_hidden_layers": self.n_layers,
            "num_attention_heads": self.n_heads,
            "num_key_value_heads": self.n_kv_heads,
            "head_dim": self.head_dim,
            "vocab_size": self.vocab_size,
            "max_position_embeddings": self.ctx_len,
            "rms_norm_eps": self.rms_eps,
            "rope_theta": self.rope_theta,
            "tie_word_embeddings": self.tied_embeddings,
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
            "use_cache": true,
            "torch_dtype": dtype,
            "dtype": dtype,
        });
        let o = c.as_object_mut().expect("object");
        for (k, v) in [("bos_token_id", special.bos), ("eos_token_id", special.eos), ("pad_token_id", special.pad)] {
            if let Some(v) = v {
                o.insert(k.into(), json!(v));
            }
        }
        match self.arch {
            Arch::Llama => {
                o.insert("hidden_act".into(), json!("silu"));
                o.insert("attention_bias".into(), json!(false));
                o.insert("mlp_bias".into(), json!(false));
                o.insert("rope_parameters".into(), json!({"rope_theta": self.rope_theta, "rope_type": "default"}));
            }
            Arch::Qwen2 => {
                o.insert("hidden_act".into(), json!("silu"));
                o.insert("use_sliding_window".into(), json!(false));
                o.insert("sliding_window".into(), Value::Null);
                o.insert("max_window_layers".into(), json!(self.n_layers));
                o.insert("rope_parameters".into(), json!({"rope_theta": self.rope_theta, "rope_type": "default"}));
            }
            Arch::Gemma3 => {
                let local = self.rope_theta_local.unwrap_or(GEMMA3_ROPE_LOCAL_BASE);
                let pattern = self.sliding_window_pattern.unwrap_or(GEMMA3_SWA_PATTERN);
                let types: Vec<&str> = (0..self.n_layers)
                    .map(|i| if self.is_sliding(i) { "sliding_attention" } else { "full_attention" })
                    .collect();
                o.insert("hidden_activation".into(), json!("gelu_pytorch_tanh"));
                o.insert("attention_bias".into(), json!(false));
                o.insert("attn_logit_softcapping".into(), Value::Null);
                o.insert("final_logit_softcapping".into(), Value::Null);
                // transformers 5 validates this field as an integer.
                let scalar = self.query_pre_attn_scalar.unwrap_or(self.head_dim as f64);
                let scalar = if scalar.fract() == 0.0 { json!(scalar as u64) } else { json!(scalar) };
                o.insert("query_pre_attn_scalar".into(), scalar);
                o.insert("sliding_window".into(), json!(self.sliding_window));
                o.insert("sliding_window_pattern".into(), json!(pattern));
                o.insert("layer_types".into(), json!(types));
                o.insert("rope_local_base_freq".into(), json!(local));
                o.insert("rope_scaling".into(), Value::Null);
                o.insert(
                    "rope_parameters".into(),
                    json!({
                        "full_attention": {"rope_theta": self.rope_theta, "rope_type": "default"},
                        "sliding_attention": {"rope_theta": local, "rope_type": "default"},
                    }),
                );
                o.insert("use_bidirectional_attention".into(), json!(false));
            }
        }
        c
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
