//! GGUF metadata for a quantized model: hyperparameters in llama.cpp's keys, the tokenizer,
//! `general.*`, and sinkquant's provenance keys.

use super::value::type_id;
use super::MetaValue;
use crate::model::{Arch, Model};
use crate::tokenizer::GgufVocab;
use serde::Serialize;

/// Where the file came from and how it was made (`sinkquant.*` keys).
#[derive(Clone, Debug, Serialize)]
pub struct Provenance {
    pub preset: String,
    pub outliers: String,
    /// Calibration file name (or "built-in"), its sha256, chunks and tokens per chunk;
    /// `None` without calibration.
    pub calibration: Option<(String, String, usize, usize)>,
    pub massive_dims: Vec<usize>,
}

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
fn general_keys(model: &Model) -> Vec<(String, MetaValue)> {
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

/// Every metadata key of the output, in the order llama.cpp's converter writes them.
pub fn metadata(model: &Model, vocab: &GgufVocab, file_type: u32, prov: &Provenance) -> Vec<(String, MetaValue)> {
    let mut out = vec![("general.architecture".to_string(), s(model.arch().gguf_name()))];
    out.extend(general_keys(model));
    out.extend(hparam_keys(model));
    out.push(("general.file_type".into(), MetaValue::U32(file_type)));
    out.push(("general.quantization_version".into(), MetaValue::U32(2)));
    out.extend(vocab.to_metadata());
    out.push(("sinkquant.version".into(), s(env!("CARGO_PKG_VERSION"))));
    out.push(("sinkquant.preset".into(), s(&prov.preset)));
    out.push(("sinkquant.outliers".into(), s(&prov.outliers)));
    if let Some((file, sha, chunks, ctx)) = &prov.calibration {
        out.push(("sinkquant.calibration.file".into(), s(file)));
        out.push(("sinkquant.calibration.sha256".into(), s(sha)));
        out.push(("sinkquant.calibration.chunks".into(), u32v(*chunks)));
        out.push(("sinkquant.calibration.ctx".into(), u32v(*ctx)));
    }
    out.push((
        "sinkquant.massive_dims".into(),
        MetaValue::Array(type_id::U32, prov.massive_dims.iter().map(|&d| u32v(d)).collect()),
    ));
    out
}
