//! Reading and writing config.json: typed accessors, the reading the llama family shares
//! (each architecture adjusts it), and the keys every written config.json carries.

use super::{Arch, Sliding};
use crate::model::hparams::{Act, ConfigError, HParams, SpecialIds};
use crate::model::rope_scaling::RopeScaling;
use serde_json::{json, Map, Value};

/// A parsed config.json.
pub struct Cfg<'a>(pub &'a Value);

fn malformed(msg: String) -> ConfigError {
    ConfigError::Malformed(msg)
}

impl Cfg<'_> {
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.0.get(k).filter(|v| !v.is_null())
    }

    /// The first of `keys` present, as a positive integer.
    pub fn uint(&self, keys: &[&str]) -> Result<usize, ConfigError> {
        keys.iter()
            .find_map(|k| self.opt_uint(k))
            .ok_or_else(|| malformed(format!("config.json: {} missing or not a positive integer", keys[0])))
    }

    pub fn opt_uint(&self, k: &str) -> Option<usize> {
        self.get(k).and_then(Value::as_u64).filter(|&x| x > 0).map(|x| x as usize)
    }

    /// The first of `keys` present, as a number.
    pub fn float(&self, keys: &[&str]) -> Result<f64, ConfigError> {
        keys.iter()
            .find_map(|k| self.opt_float(k))
            .ok_or_else(|| malformed(format!("config.json: {} missing", keys[0])))
    }

    pub fn opt_float(&self, k: &str) -> Option<f64> {
        self.get(k).and_then(Value::as_f64)
    }

    pub fn opt_bool(&self, k: &str) -> Option<bool> {
        self.get(k).and_then(Value::as_bool)
    }

    /// `hidden_act` (or Gemma's `hidden_activation`), or the architecture's default.
    pub fn act(&self, arch: Arch) -> Result<Act, ConfigError> {
        match ["hidden_activation", "hidden_act", "activation_function"].iter().find_map(|k| self.get(k)) {
            None => Ok(arch.spec().act),
            Some(v) => {
                let name = v.as_str().unwrap_or_default();
                Act::from_hf(name).ok_or_else(|| {
                    ConfigError::Unimplemented(format!("activation {v} (supported: silu, gelu, gelu_new)"))
                })
            }
        }
    }

    /// The RoPE object for `layer_type` (transformers 5's `rope_parameters`, flat or per layer
    /// type) or transformers 4's `rope_scaling`.
    fn rope_object(&self, layer_type: &str) -> Option<&Value> {
        let r = self.get("rope_parameters")?;
        Some(r.get(layer_type).unwrap_or(r))
    }

    /// RoPE base for `layer_type`.
    pub fn rope_theta(&self, layer_type: &str, fallback_keys: &[&str], default: f64) -> f64 {
        self.rope_object(layer_type)
            .and_then(|r| r.get("rope_theta"))
            .and_then(Value::as_f64)
            .or_else(|| fallback_keys.iter().find_map(|k| self.opt_float(k)))
            .unwrap_or(default)
    }

    /// RoPE scaling of the global layers; every layer type's must be one the forward pass has.
    pub fn rope_scaling(&self) -> Result<Option<RopeScaling>, ConfigError> {
        let ctx = (self.opt_uint("max_position_embeddings"), self.opt_uint("original_max_position_embeddings"));
        let mut found = None;
        if let Some(r) = self.get("rope_scaling") {
            found = RopeScaling::from_hf(r, ctx)?;
        }
        if let Some(r) = self.get("rope_parameters").and_then(Value::as_object) {
            if r.contains_key("rope_type") || r.contains_key("rope_theta") {
                found = found.or(RopeScaling::from_hf(&Value::Object(r.clone()), ctx)?);
            } else {
                for (layer_type, v) in r {
                    let s = RopeScaling::from_hf(v, ctx)?;
                    if layer_type == "full_attention" {
                        found = found.or(s);
                    } else if s.is_some() {
                        return Err(ConfigError::Unimplemented(format!("RoPE scaling of the {layer_type} layers")));
                    }
                }
            }
        }
        Ok(found)
    }

    /// Soft-capping values, refused unless the architecture has soft-capping.
    pub fn softcaps(&self, arch: Arch) -> Result<(Option<f64>, Option<f64>), ConfigError> {
        let a = self.opt_float("attn_logit_softcapping");
        let f = self.opt_float("final_logit_softcapping");
        if !arch.spec().softcap {
            if let Some((k, v)) = [("attn_logit_softcapping", a), ("final_logit_softcapping", f)]
                .into_iter()
                .find_map(|(k, v)| v.map(|v| (k, v)))
            {
                return Err(ConfigError::Unimplemented(format!(
                    "{k} = {v} in a {arch} model (the description has no soft-capping)"
                )));
            }
        }
        Ok((a, f))
    }

    /// Sliding window and layer pattern, as the architecture's description allows.
    pub fn sliding(&self, arch: Arch) -> Result<(Option<usize>, Option<usize>), ConfigError> {
        let window = self.opt_uint("sliding_window");
        let pattern = self
            .get("layer_types")
            .and_then(Value::as_array)
            .and_then(|t| t.iter().position(|x| x == "full_attention"))
            .map(|p| p + 1);
        match arch.spec().sliding {
            Sliding::Never => {
                if self.opt_bool("use_sliding_window") == Some(true) {
                    return Err(ConfigError::Unimplemented(format!(
                        "sliding-window attention (use_sliding_window = true) in a {arch} model"
                    )));
                }
                Ok((None, None))
            }
            Sliding::All => Ok((window, window.map(|_| 1))),
            Sliding::Pattern(n) => Ok((
                window,
                Some(
                    pattern
                        .or_else(|| self.opt_uint("sliding_window_pattern"))
                        .or_else(|| self.opt_uint("_sliding_window_pattern"))
                        .unwrap_or(n),
                ),
            )),
        }
    }

    /// The hyperparameters of a llama-family config.json (llama, qwen2/3, mistral, gemma,
    /// phi3); each architecture's file changes what differs.
    pub fn llama_like(&self, arch: Arch) -> Result<HParams, ConfigError> {
        let d_model = self.uint(&["hidden_size"])?;
        let n_heads = self.uint(&["num_attention_heads"])?;
        let head_dim = self.opt_uint("head_dim").unwrap_or(d_model / n_heads);
        let rotary_dim = match self.opt_float("partial_rotary_factor") {
            Some(f) => ((head_dim as f64 * f) as usize) & !1,
            None => head_dim,
        };
        let (sliding_window, sliding_window_pattern) = self.sliding(arch)?;
        let (attn_softcap, final_softcap) = self.softcaps(arch)?;
        Ok(HParams {
            n_layers: self.uint(&["num_hidden_layers"])?,
            d_model,
            d_ff: self.uint(&["intermediate_size"])?,
            n_heads,
            n_kv_heads: self.opt_uint("num_key_value_heads").unwrap_or(n_heads),
            head_dim,
            vocab_size: self.uint(&["vocab_size"])?,
            ctx_len: self.uint(&["max_position_embeddings"])?,
            norm_eps: self.float(&["rms_norm_eps"])?,
            rope_theta: self.rope_theta("full_attention", &["rope_theta"], 10_000.0),
            rotary_dim,
            rope_scaling: self.rope_scaling()?,
            sliding_window,
            sliding_window_pattern,
            attn_softcap,
            final_softcap,
            act: self.act(arch)?,
            tied_embeddings: self.opt_bool("tie_word_embeddings").unwrap_or(false),
            ..HParams::defaults(arch)
        })
    }
}

/// The keys of a llama-family config.json; the architecture's `write_config` adds its own (or,
/// for GPT-2 and GPT-NeoX, replaces these with its names).
pub fn hf_config_base(hp: &HParams, special: &SpecialIds, dtype: &str) -> Map<String, Value> {
    let c = json!({
        "architectures": [hp.arch.hf_class()],
        "model_type": hp.arch.hf_model_type(),
        "hidden_size": hp.d_model,
        "intermediate_size": hp.d_ff,
        "num_hidden_layers": hp.n_layers,
        "num_attention_heads": hp.n_heads,
        "num_key_value_heads": hp.n_kv_heads,
        "head_dim": hp.head_dim,
        "vocab_size": hp.vocab_size,
        "max_position_embeddings": hp.ctx_len,
        "rms_norm_eps": hp.norm_eps,
        "rope_theta": hp.rope_theta,
        "tie_word_embeddings": hp.tied_embeddings,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "use_cache": true,
        "torch_dtype": dtype,
        "dtype": dtype,
    });
    let Value::Object(mut o) = c else { unreachable!("an object literal") };
    for (k, v) in [("bos_token_id", special.bos), ("eos_token_id", special.eos), ("pad_token_id", special.pad)] {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    }
    o
}
