//! Configurations whose math the forward pass does not implement: refused when the model is
//! opened, never silently computed without (a Llama-3 `rope_scaling` ignored gives a wrong
//! perplexity that grows with the context). RoPE scaling of any type, attention or final-logit
//! soft-capping, sliding-window attention outside Gemma-3, llama.cpp's `rope_freqs` tensor.

use super::hparams::ConfigError;
use crate::error::{Error, Result};
use crate::io::gguf::GgufFile;
use serde_json::Value;

/// The RoPE types a Hugging Face config names: `rope_scaling` (transformers 4: `type` or
/// `rope_type`) and `rope_parameters` (transformers 5: flat, or one object per layer type).
fn rope_types(cfg: &Value) -> Vec<String> {
    let of = |r: &Value| r.get("rope_type").or_else(|| r.get("type")).and_then(Value::as_str).map(str::to_owned);
    let mut types = Vec::new();
    if let Some(r) = cfg.get("rope_scaling").filter(|r| !r.is_null()) {
        types.push(of(r).unwrap_or_else(|| "(unnamed)".into()));
    }
    if let Some(r) = cfg.get("rope_parameters").and_then(Value::as_object) {
        if r.contains_key("rope_type") || r.contains_key("rope_theta") {
            types.extend(of(&Value::Object(r.clone())));
        } else {
            types.extend(r.values().filter_map(of));
        }
    }
    types
}

/// Refuses a `config.json` that asks for math the forward pass does not have.
pub fn check_hf_config(cfg: &Value, sliding_window_ok: bool) -> Result<(), ConfigError> {
    let refuse = |what: String| Err(ConfigError::Unimplemented(what));
    if let Some(t) = rope_types(cfg).into_iter().find(|t| t != "default") {
        return refuse(format!("RoPE scaling of type {t:?} (the forward pass computes plain RoPE)"));
    }
    for k in ["attn_logit_softcapping", "final_logit_softcapping"] {
        if let Some(v) = cfg.get(k).filter(|v| !v.is_null()) {
            return refuse(format!("{k} = {v} (the forward pass has no soft-capping)"));
        }
    }
    if !sliding_window_ok && cfg.get("use_sliding_window").and_then(Value::as_bool) == Some(true) {
        return refuse("sliding-window attention (use_sliding_window = true) for this architecture".into());
    }
    Ok(())
}

/// Refuses a GGUF whose metadata or tensors ask for math the forward pass does not have.
pub fn check_gguf(g: &GgufFile, arch: &str) -> Result<()> {
    let refuse = |what: String| Err(Error::unsupported(g.path(), what));
    if let Some(t) = g.get(&format!("{arch}.rope.scaling.type")).and_then(|v| v.as_str()).filter(|t| *t != "none") {
        return refuse(format!("RoPE scaling of type {t:?} (the forward pass computes plain RoPE)"));
    }
    for k in ["attn_logit_softcapping", "final_logit_softcapping"] {
        if let Some(v) = g.get(&format!("{arch}.{k}")).and_then(|v| v.as_f64()).filter(|v| *v != 0.0) {
            return refuse(format!("{arch}.{k} = {v} (the forward pass has no soft-capping)"));
        }
    }
    if g.store.get("rope_freqs.weight").is_some() {
        return refuse("tensor rope_freqs.weight (RoPE frequency factors, llama3 scaling)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scaled_rope_and_soft_capping_are_refused() {
        let ok = |c: Value, swa| check_hf_config(&c, swa).is_ok();
        let why = |c: Value| check_hf_config(&c, false).unwrap_err().to_string();
        assert!(ok(
            json!({"rope_scaling": null, "rope_parameters": {"rope_theta": 1e4, "rope_type": "default"}}),
            false
        ));
        let per_layer = json!({"rope_parameters": {"full_attention": {"rope_type": "default"}, "sliding_attention": {"rope_type": "default"}}});
        assert!(ok(per_layer, true));
        let llama3 = json!({"rope_scaling": {"rope_type": "llama3", "factor": 8.0}});
        assert!(why(llama3).contains("\"llama3\""));
        let v5 = json!({"rope_parameters": {"rope_theta": 5e5, "rope_type": "yarn", "factor": 4.0}});
        assert!(why(v5).contains("\"yarn\""));
        let linear = json!({"rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 8.0}, "sliding_attention": {"rope_type": "default"}}});
        assert!(why(linear).contains("\"linear\""));
        assert!(why(json!({"final_logit_softcapping": 30.0})).contains("soft-capping"));
        assert!(ok(json!({"attn_logit_softcapping": null, "use_sliding_window": false}), false));
        assert!(why(json!({"use_sliding_window": true})).contains("sliding-window"));
        assert!(ok(json!({"use_sliding_window": true}), true));
    }

    #[test]
    fn a_gguf_with_scaled_rope_or_rope_freqs_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let plain = crate::fixtures::tiny_model("llama").write(&dir.path().join("plain.gguf"));
        assert!(crate::model::Model::open(&plain).is_ok());
        let mut b = crate::fixtures::tiny_model("llama");
        b.str("llama.rope.scaling.type", "linear");
        let p = b.write(&dir.path().join("linear.gguf"));
        let e = crate::model::Model::open(&p).err().expect("refused").to_string();
        assert!(e.contains("linear.gguf") && e.contains("RoPE scaling of type \"linear\""), "{e}");
        let mut b = crate::fixtures::tiny_model("llama");
        b.tensor_f32("rope_freqs.weight", &[4], &[1.0; 4]);
        let e = crate::model::Model::open(&b.write(&dir.path().join("freqs.gguf"))).err().expect("refused").to_string();
        assert!(e.contains("rope_freqs.weight"), "{e}");
    }
}
