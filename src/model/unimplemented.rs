//! Configurations whose math the forward pass does not implement are refused when the model is
//! opened, never silently computed without (a Llama-3 `rope_scaling` ignored gives a wrong
//! perplexity that grows with the context). The refusals live where the configuration is read
//! (`super::arch::Cfg`, `HParams::from_gguf`, `super::rope_scaling`); these are their tests.

use super::hparams::HParams;
use serde_json::{json, Value};

fn llama(extra: Value) -> Value {
    let mut c = json!({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
        "max_position_embeddings": 256, "rms_norm_eps": 1e-5});
    c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    c
}

fn why(extra: Value) -> String {
    HParams::from_hf_config(&llama(extra)).unwrap_err().to_string()
}

#[test]
fn unimplemented_rope_scaling_and_soft_capping_are_refused() {
    let ok = |c: Value| HParams::from_hf_config(&llama(c)).is_ok();
    assert!(ok(json!({"rope_scaling": null, "rope_parameters": {"rope_theta": 1e4, "rope_type": "default"}})));
    let llama3 = json!({"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 64}});
    assert!(ok(llama3));
    let v5 = json!({"rope_parameters": {"rope_theta": 5e5, "rope_type": "yarn", "factor": 4.0}});
    assert!(why(v5).contains("\"yarn\""));
    assert!(why(json!({"rope_scaling": {"type": "dynamic", "factor": 2.0}})).contains("\"dynamic\""));
    assert!(why(json!({"final_logit_softcapping": 30.0})).contains("soft-capping"));
    assert!(ok(json!({"attn_logit_softcapping": null, "use_sliding_window": false})));
    assert!(why(json!({"use_sliding_window": true})).contains("sliding-window"));
    assert!(why(json!({"hidden_act": "relu2"})).contains("activation"));
    let e = HParams::from_hf_config(&json!({"model_type": "mixtral"})).unwrap_err().to_string();
    assert!(e.contains("\"mixtral\"") && e.contains("gpt_neox") && e.contains("qwen3"), "{e}");
}

#[test]
fn a_gguf_with_unimplemented_scaling_is_refused_and_rope_freqs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let plain = crate::fixtures::tiny_model("llama").write(&dir.path().join("plain.gguf"));
    assert_eq!(crate::model::Model::open(&plain).unwrap().hparams.rope_scaling, None);
    let mut b = crate::fixtures::tiny_model("llama");
    b.str("llama.rope.scaling.type", "yarn");
    let p = b.write(&dir.path().join("yarn.gguf"));
    let e = crate::model::Model::open(&p).err().expect("refused").to_string();
    assert!(e.contains("yarn.gguf") && e.contains("RoPE scaling of type \"yarn\""), "{e}");
    let mut b = crate::fixtures::tiny_model("llama");
    b.tensor_f32("rope_freqs.weight", &[4], &[1.0, 1.5, 2.0, 4.0]);
    let m = crate::model::Model::open(&b.write(&dir.path().join("freqs.gguf"))).unwrap();
    assert_eq!(m.hparams.rope_scaling, Some(super::rope_scaling::RopeScaling::Factors(vec![1.0, 1.5, 2.0, 4.0])));
    assert!(m.unrecognised.is_empty(), "rope_freqs is read, not an unrecognised tensor");
}
