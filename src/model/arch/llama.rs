//! Llama 1/2/3.x (and SmolLM2): RMSNorm, SiLU-gated feed-forward, RoPE with optional linear or
//! llama3 scaling, optional attention/MLP biases (`attention_bias`, `mlp_bias`). llama.cpp
//! stores Q and K rows permuted for its interleaved RoPE. Its tensor names are the llama
//! family's, which Mistral, Qwen and Gemma reuse.

use super::names::{global, layer, TensorName};
use super::{ArchSpec, Ffn, Norm, Position, Sliding};
use crate::model::hparams::{Act, HParams};
use crate::model::roles::{LayerTensor as T, Role};
use serde_json::{json, Map, Value};

/// The llama family's description; the family's other members change what differs.
pub const BASE: ArchSpec = ArchSpec {
    name: "llama",
    gguf: "llama",
    hf_model_types: &["llama"],
    hf_class: "LlamaForCausalLM",
    norm: Norm::Rms,
    norm_offset: 0.0,
    ffn: Ffn::Gated,
    position: Position::Rope,
    sliding: Sliding::Never,
    embed_scale: false,
    act: Act::Silu,
    softcap: false,
    query_pre_attn_scalar: false,
    rope_local_base: None,
    parallel_residual: false,
    gguf_permutes_qk: true,
    gguf_always: &["rope.dimension_count"],
    tensors: || family(&[]),
    read_config: |cfg, arch| cfg.llama_like(arch),
    write_config,
    folding: FAMILY_FOLDING,
};

pub static SPEC: ArchSpec = BASE;

/// What folding does in the llama family (RMSNorm, gated feed-forward).
pub const FAMILY_FOLDING: &str = "attn_norm into Q, K, V; ffn_norm into gate and up; up rows into down \
    (RMSNorm is linear in its gain and act(gate x) * (up x) is linear in up x: all exact)";

/// The llama family's tensors plus `extra` (Q/K/V/O and MLP biases are optional).
pub fn family(extra: &[TensorName]) -> Vec<TensorName> {
    let mut v = vec![
        global(Role::TokenEmbd, "model.embed_tokens.weight"),
        global(Role::OutputNorm, "model.norm.weight"),
        global(Role::Output, "lm_head.weight").optional(),
        layer(T::AttnNorm, "model.layers.{i}.input_layernorm.weight"),
        layer(T::AttnQ, "model.layers.{i}.self_attn.q_proj.weight"),
        layer(T::AttnK, "model.layers.{i}.self_attn.k_proj.weight"),
        layer(T::AttnV, "model.layers.{i}.self_attn.v_proj.weight"),
        layer(T::AttnOutput, "model.layers.{i}.self_attn.o_proj.weight"),
        layer(T::FfnGate, "model.layers.{i}.mlp.gate_proj.weight"),
        layer(T::FfnUp, "model.layers.{i}.mlp.up_proj.weight"),
        layer(T::FfnDown, "model.layers.{i}.mlp.down_proj.weight"),
    ];
    // Replaced, not added, when `extra` names the same role (Qwen2's required biases).
    let optional = [
        layer(T::AttnQBias, "model.layers.{i}.self_attn.q_proj.bias").optional(),
        layer(T::AttnKBias, "model.layers.{i}.self_attn.k_proj.bias").optional(),
        layer(T::AttnVBias, "model.layers.{i}.self_attn.v_proj.bias").optional(),
        layer(T::AttnOutputBias, "model.layers.{i}.self_attn.o_proj.bias").optional(),
    ];
    v.extend(optional.into_iter().filter(|o| !extra.iter().any(|e| e.slot == o.slot)));
    // llama.cpp's ffn_norm is the norm before the MLP: Gemma names it pre_feedforward_layernorm
    // and uses post_attention_layernorm for the norm that follows attention.
    if !extra.iter().any(|e| e.slot == super::Slot::Layer(T::FfnNorm)) {
        v.push(layer(T::FfnNorm, "model.layers.{i}.post_attention_layernorm.weight"));
    }
    v.extend_from_slice(extra);
    v
}

/// The keys a llama-family config.json carries for RoPE and biases.
pub fn rope_keys(hp: &HParams, o: &mut Map<String, Value>) {
    if let Some(s) = hp.rope_scaling_hf() {
        o.insert("rope_scaling".into(), s);
    }
    o.insert("rope_parameters".into(), hp.rope_parameters(hp.rope_theta));
}

fn write_config(hp: &HParams, o: &mut Map<String, Value>) {
    o.insert("hidden_act".into(), json!(hp.act.hf_name()));
    o.insert("attention_bias".into(), json!(false));
    o.insert("mlp_bias".into(), json!(false));
    rope_keys(hp, o);
}
