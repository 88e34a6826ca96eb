//! Qwen3 (dense): the llama family with RMSNorm on each head's queries and keys before RoPE
//! and no Q/K/V biases; llama.cpp keeps Q/K rows in Hugging Face order.

use super::llama::{family, rope_keys};
use super::names::layer;
use super::ArchSpec;
use crate::model::hparams::HParams;
use crate::model::roles::LayerTensor as T;
use serde_json::{json, Map, Value};

pub static SPEC: ArchSpec = ArchSpec {
    name: "qwen3",
    gguf: "qwen3",
    hf_model_types: &["qwen3"],
    hf_class: "Qwen3ForCausalLM",
    gguf_permutes_qk: false,
    gguf_always: &[],
    tensors: || {
        family(&[
            layer(T::AttnQNorm, "model.layers.{i}.self_attn.q_norm.weight"),
            layer(T::AttnKNorm, "model.layers.{i}.self_attn.k_norm.weight"),
        ])
    },
    write_config,
    ..super::llama::BASE
};

fn write_config(hp: &HParams, o: &mut Map<String, Value>) {
    o.insert("hidden_act".into(), json!(hp.act.hf_name()));
    o.insert("attention_bias".into(), json!(false));
    o.insert("use_sliding_window".into(), json!(false));
    o.insert("sliding_window".into(), Value::Null);
    o.insert("max_window_layers".into(), json!(hp.n_layers));
    rope_keys(hp, o);
}
