//! Phi-3 / Phi-3.5 / Phi-4-mini: the llama family's math with Q, K and V fused into one
//! `qkv_proj` (rows q, k, v) and gate and up into one `gate_up_proj` (rows gate, up), both kept
//! fused in GGUF (`attn_qkv`, `ffn_up`); optional partial rotary (`partial_rotary_factor`) and
//! a sliding window over every layer; LongRoPE scaling on its short-context path (chunks up to
//! the original context; longer ones are refused).

use super::names::{global, layer};
use super::{ArchSpec, Sliding};
use crate::model::hparams::HParams;
use crate::model::roles::{LayerTensor as T, Role};
use serde_json::{json, Map, Value};

pub static SPEC: ArchSpec = ArchSpec {
    name: "phi3",
    gguf: "phi3",
    hf_model_types: &["phi3"],
    hf_class: "Phi3ForCausalLM",
    sliding: Sliding::All,
    gguf_permutes_qk: false,
    tensors: || {
        vec![
            global(Role::TokenEmbd, "model.embed_tokens.weight"),
            global(Role::OutputNorm, "model.norm.weight"),
            global(Role::Output, "lm_head.weight").optional(),
            layer(T::AttnNorm, "model.layers.{i}.input_layernorm.weight"),
            layer(T::AttnQkv, "model.layers.{i}.self_attn.qkv_proj.weight"),
            layer(T::AttnOutput, "model.layers.{i}.self_attn.o_proj.weight"),
            layer(T::FfnNorm, "model.layers.{i}.post_attention_layernorm.weight"),
            layer(T::FfnGateUp, "model.layers.{i}.mlp.gate_up_proj.weight"),
            layer(T::FfnDown, "model.layers.{i}.mlp.down_proj.weight"),
        ]
    },
    write_config,
    folding: "attn_norm into the fused Q/K/V columns; ffn_norm into the fused gate/up columns; the up \
        half's rows into down (all exact, as in the llama family)",
    ..super::llama::BASE
};

fn write_config(hp: &HParams, o: &mut Map<String, Value>) {
    o.insert("hidden_act".into(), json!(hp.act.hf_name()));
    o.insert("sliding_window".into(), json!(hp.sliding_window));
    let original = hp.rope_scaling.as_ref().and_then(|s| s.max_tokens()).unwrap_or(hp.ctx_len);
    o.insert("original_max_position_embeddings".into(), json!(original));
    o.insert("partial_rotary_factor".into(), json!(hp.rotary_dim as f64 / hp.head_dim as f64));
    super::llama::rope_keys(hp, o);
}
