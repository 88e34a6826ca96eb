//! The GGUF keys that describe a model, written for llama.cpp: its hyperparameters in
//! llama.cpp's `<arch>.*` keys (the ones `HParams::from_gguf` reads) and `general.*`.

use super::{Arch, Model};
use crate::io::gguf::llama_meta::ModelKeys;
use crate::io::gguf::MetaValue;

fn s(v: &str) -> MetaValue {
    MetaValue::String(v.to_string())
}

fn u32v(v: usize) -> MetaValue {
    MetaValue::U32(v as u32)
}

/// llama.cpp's hyperparameter keys for the model's architecture.
pub fn hparam_keys(model: &Model) -> Vec<(String, MetaValue)> {
    let hp = &model.hparams;
    let a = hp.arch.gguf_name();
    let mut out = vec![
        (format!("{a}.block_count"), u32v(hp.n_layers)),
        (format!("{a}.context_length"), u32v(hp.ctx_len)),
        (format!("{a}.embedding_length"), u32v(hp.d_model)),
        (format!("{a}.feed_forward_length"), u32v(hp.d_ff)),
        (format!("{a}.attention.head_count"), u32v(hp.n_heads)),
        (format!("{a}.attention.head_count_kv"), u32v(hp.n_kv_heads)),
        (format!("{a}.attention.layer_norm_rms_epsilon"), MetaValue::F32(hp.rms_eps as f32)),
        (format!("{a}.rope.freq_base"), MetaValue::F32(hp.rope_theta as f32)),
        (format!("{a}.vocab_size"), u32v(hp.vocab_size)),
    ];
    if hp.arch == Arch::Llama {
        out.push((format!("{a}.rope.dimension_count"), u32v(hp.head_dim)));
    }
    if hp.arch == Arch::Gemma3 || hp.head_dim * hp.n_heads != hp.d_model {
        out.push((format!("{a}.attention.key_length"), u32v(hp.head_dim)));
        out.push((format!("{a}.attention.value_length"), u32v(hp.head_dim)));
    }
    if let Some(w) = hp.sliding_window {
        out.push((format!("{a}.attention.sliding_window"), u32v(w)));
    }
    out
}

/// `general.*` keys: copied from a GGUF source (all but the type-dependent ones), otherwise a
/// name from the source's folder.
pub fn general_keys(model: &Model) -> Vec<(String, MetaValue)> {
    let skip = ["general.architecture", "general.file_type", "general.quantization_version", "general.alignment"];
    match model.gguf() {
        Some(g) => g
            .metadata()
            .iter()
            .filter(|(k, _)| k.starts_with("general.") && !skip.contains(&k.as_str()))
            .cloned()
            .collect(),
        None => {
            let name = model.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            vec![("general.type".into(), s("model")), ("general.name".into(), s(&name))]
        }
    }
}

/// Every key that describes `model` in a GGUF, with its vocabulary's `tokenizer.*` keys (from
/// `crate::tokenizer::GgufVocab::to_metadata`).
pub fn model_keys(model: &Model, vocab: Vec<(String, MetaValue)>) -> ModelKeys {
    ModelKeys {
        architecture: model.arch().gguf_name(),
        general: general_keys(model),
        hparams: hparam_keys(model),
        vocab,
    }
}
