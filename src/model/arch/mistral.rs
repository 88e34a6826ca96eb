//! Mistral: llama's tensors and math, with an optional sliding window over every layer
//! (`sliding_window`; null in v0.2 and later), computed as transformers does. llama.cpp's
//! converter writes it as a llama GGUF (Q/K rows permuted) without the window, and llama.cpp
//! attends over the whole context; sinkquant's GGUF is the same.

use super::llama::rope_keys;
use super::{ArchSpec, Sliding};
use crate::model::hparams::HParams;
use serde_json::{json, Map, Value};

pub static SPEC: ArchSpec = ArchSpec {
    name: "mistral",
    hf_model_types: &["mistral"],
    hf_class: "MistralForCausalLM",
    sliding: Sliding::All,
    write_config,
    ..super::llama::BASE
};

fn write_config(hp: &HParams, o: &mut Map<String, Value>) {
    o.insert("hidden_act".into(), json!(hp.act.hf_name()));
    o.insert("sliding_window".into(), json!(hp.sliding_window));
    rope_keys(hp, o);
}
