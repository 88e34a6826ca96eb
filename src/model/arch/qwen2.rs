//! Qwen2 / Qwen2.5: the llama family with Q, K and V biases; llama.cpp keeps Q/K rows in
//! Hugging Face order (NeoX RoPE). A sliding window (`use_sliding_window`) is refused.

use super::llama::{family, rope_keys};
use super::names::layer;
use super::ArchSpec;
use crate::model::hparams::HParams;
use crate::model::roles::LayerTensor as T;
use serde_json::{json, Map, Value};

pub static SPEC: ArchSpec = ArchSpec {
    name: "qwen2",
    gguf: "qwen2",
    hf_model_types: &["qwen2"],
    hf_class: "Qwen2ForCausalLM",
    gguf_permutes_qk: false,
    gguf_always: &[],
    tensors: || {
        family(&[
            layer(T::AttnQBias, "model.layers.{i}.self_attn.q_proj.bias"),
            layer(T::AttnKBias, "model.layers.{i}.self_attn.k_proj.bias"),
            layer(T::AttnVBias, "model.layers.{i}.self_attn.v_proj.bias"),
        ])
    },
    write_config,
    ..super::llama::BASE
};

fn write_config(hp: &HParams, o: &mut Map<String, Value>) {
    o.insert("hidden_act".into(), json!(hp.act.hf_name()));
    o.insert("use_sliding_window".into(), json!(false));
    o.insert("sliding_window".into(), Value::Null);
    o.insert("max_window_layers".into(), json!(hp.n_layers));
    rope_keys(hp, o);
}
