//! Gemma-2: Gemma's sandwich norms (`1 + w`), scaled embeddings and GELU-tanh gating, with
//! attention-score and final-logit soft-capping (`cap * tanh(x / cap)`) and local
//! (sliding-window) and global layers alternating, one RoPE base for both, no Q/K norms.

use super::gemma3::{gemma_like, layer_types, query_scalar, sandwich, GEMMA_FOLDING};
use super::llama::family;
use super::{ArchSpec, Sliding};
use crate::model::hparams::{Act, HParams};
use serde_json::{json, Map, Value};

pub static SPEC: ArchSpec = ArchSpec {
    name: "gemma2",
    gguf: "gemma2",
    hf_model_types: &["gemma2"],
    hf_class: "Gemma2ForCausalLM",
    norm_offset: 1.0,
    sliding: Sliding::Pattern(2),
    embed_scale: true,
    act: Act::GeluTanh,
    softcap: true,
    query_pre_attn_scalar: true,
    gguf_permutes_qk: false,
    gguf_always: &["attention.key_length", "attention.value_length"],
    tensors: || family(&sandwich()),
    read_config: gemma_like,
    write_config,
    folding: GEMMA_FOLDING,
    ..super::llama::BASE
};

fn write_config(hp: &HParams, o: &mut Map<String, Value>) {
    o.insert("hidden_activation".into(), json!(hp.act.hf_name()));
    o.insert("hidden_act".into(), json!(hp.act.hf_name()));
    o.insert("attention_bias".into(), json!(false));
    o.insert("attn_logit_softcapping".into(), json!(hp.attn_softcap));
    o.insert("final_logit_softcapping".into(), json!(hp.final_softcap));
    o.insert("query_pre_attn_scalar".into(), query_scalar(hp));
    o.insert("sliding_window".into(), json!(hp.sliding_window));
    o.insert("layer_types".into(), layer_types(hp));
    if let Some(s) = hp.rope_scaling_hf() {
        o.insert("rope_scaling".into(), s);
    }
    o.insert("rope_parameters".into(), hp.rope_parameters(hp.rope_theta));
}
