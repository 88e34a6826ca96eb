//! Gemma-3 (text): the llama family with sandwich norms (after attention and after the MLP as
//! well as before each), RMSNorm on queries and keys, norms that multiply by `1 + w` (GGUF
//! stores `1 + w`), embeddings scaled by `sqrt(d_model)`, GELU-tanh gating, five local
//! (sliding-window, RoPE base 10000) layers per global one, queries scaled by
//! `query_pre_attn_scalar^-0.5`, tied embeddings by default.

use super::llama::family;
use super::names::{layer, TensorName};
use super::{Arch, ArchSpec, Cfg, Sliding};
use crate::model::hparams::{Act, ConfigError, HParams, GEMMA3_ROPE_LOCAL_BASE, GEMMA3_SWA_PATTERN};
use crate::model::roles::LayerTensor as T;
use serde_json::{json, Map, Value};

pub static SPEC: ArchSpec = ArchSpec {
    name: "gemma3",
    gguf: "gemma3",
    hf_model_types: &["gemma3_text", "gemma3"],
    hf_class: "Gemma3ForCausalLM",
    norm_offset: 1.0,
    sliding: Sliding::Pattern(GEMMA3_SWA_PATTERN),
    embed_scale: true,
    act: Act::GeluTanh,
    query_pre_attn_scalar: true,
    rope_local_base: Some(GEMMA3_ROPE_LOCAL_BASE),
    gguf_permutes_qk: false,
    gguf_always: &["attention.key_length", "attention.value_length"],
    tensors: || {
        let mut t = sandwich();
        t.push(layer(T::AttnQNorm, "model.layers.{i}.self_attn.q_norm.weight"));
        t.push(layer(T::AttnKNorm, "model.layers.{i}.self_attn.k_norm.weight"));
        family(&t)
    },
    read_config,
    write_config,
    folding: GEMMA_FOLDING,
    ..super::llama::BASE
};

/// What folding does in Gemma-2/3.
pub const GEMMA_FOLDING: &str = "attn_norm into Q, K, V; ffn_norm (the pre-feed-forward norm) into gate and \
    up; up rows into down. Exact: the norms multiply by (1 + w), and 1 + w' = (1 + w) / s; the post-norms \
    normalise outputs and are left alone";

/// Gemma's norms around attention and the MLP.
pub fn sandwich() -> Vec<TensorName> {
    vec![
        layer(T::PostAttnNorm, "model.layers.{i}.post_attention_layernorm.weight"),
        layer(T::FfnNorm, "model.layers.{i}.pre_feedforward_layernorm.weight"),
        layer(T::PostFfnNorm, "model.layers.{i}.post_feedforward_layernorm.weight"),
    ]
}

/// Gemma's reading: tied embeddings by default, `query_pre_attn_scalar` (head size by default).
pub fn gemma_like(cfg: &Cfg, arch: Arch) -> Result<HParams, ConfigError> {
    let mut hp = cfg.llama_like(arch)?;
    hp.tied_embeddings = cfg.opt_bool("tie_word_embeddings").unwrap_or(true);
    hp.query_pre_attn_scalar = Some(cfg.opt_float("query_pre_attn_scalar").unwrap_or(hp.head_dim as f64));
    Ok(hp)
}

fn read_config(cfg: &Cfg, arch: Arch) -> Result<HParams, ConfigError> {
    let mut hp = gemma_like(cfg, arch)?;
    hp.rope_theta_local = Some(cfg.rope_theta("sliding_attention", &["rope_local_base_freq"], GEMMA3_ROPE_LOCAL_BASE));
    Ok(hp)
}

/// `query_pre_attn_scalar` as transformers 5 validates it (an integer when it is one).
pub fn query_scalar(hp: &HParams) -> Value {
    let scalar = hp.query_pre_attn_scalar.unwrap_or(hp.head_dim as f64);
    if scalar.fract() == 0.0 {
        json!(scalar as u64)
    } else {
        json!(scalar)
    }
}

pub fn layer_types(hp: &HParams) -> Value {
    let types: Vec<&str> =
        (0..hp.n_layers).map(|i| if hp.is_sliding(i) { "sliding_attention" } else { "full_attention" }).collect();
    json!(types)
}

fn write_config(hp: &HParams, o: &mut Map<String, Value>) {
    let local = hp.rope_theta_local.unwrap_or(GEMMA3_ROPE_LOCAL_BASE);
    let pattern = hp.sliding_window_pattern.unwrap_or(GEMMA3_SWA_PATTERN);
    o.insert("hidden_activation".into(), json!(hp.act.hf_name()));
    o.insert("attention_bias".into(), json!(false));
    o.insert("attn_logit_softcapping".into(), Value::Null);
    o.insert("final_logit_softcapping".into(), Value::Null);
    o.insert("query_pre_attn_scalar".into(), query_scalar(hp));
    o.insert("sliding_window".into(), json!(hp.sliding_window));
    o.insert("sliding_window_pattern".into(), json!(pattern));
    o.insert("layer_types".into(), layer_types(hp));
    o.insert("rope_local_base_freq".into(), json!(local));
    o.insert("rope_scaling".into(), hp.rope_scaling_hf().unwrap_or(Value::Null));
    o.insert(
        "rope_parameters".into(),
        json!({
            "full_attention": hp.rope_parameters(hp.rope_theta),
            "sliding_attention": {"rope_theta": local, "rope_type": "default"},
        }),
    );
    o.insert("use_bidirectional_attention".into(), json!(false));
}
