//! The GGUF keys that describe a model, written for llama.cpp: its hyperparameters in
//! llama.cpp's `<arch>.*` keys (the ones `HParams::from_gguf` reads) and `general.*`.

use super::arch::{Arch, Position, Sliding};
use super::hparams::{ROPE_FREQS, ROPE_LONG, ROPE_SHORT};
use super::rope_scaling::RopeScaling;
use super::{HParams, Model};
use crate::io::gguf::llama_meta::ModelKeys;
use crate::io::gguf::MetaValue;

fn s(v: &str) -> MetaValue {
    MetaValue::String(v.to_string())
}

fn u32v(v: usize) -> MetaValue {
    MetaValue::U32(v as u32)
}

/// llama.cpp's hyperparameter keys for the model's architecture: the ones it always reads, and
/// the optional ones where the value differs from what it would infer or the description says
/// llama.cpp's converter writes them.
pub fn hparam_keys(hp: &HParams) -> Vec<(String, MetaValue)> {
    let spec = hp.arch.spec();
    let a = spec.gguf;
    let always = |k: &str| spec.gguf_always.contains(&k);
    let eps = spec.norm.gguf_eps_key();
    let mut out = vec![
        ("block_count", u32v(hp.n_layers)),
        ("context_length", u32v(hp.ctx_len)),
        ("embedding_length", u32v(hp.d_model)),
        ("feed_forward_length", u32v(hp.d_ff)),
        ("attention.head_count", u32v(hp.n_heads)),
        ("attention.head_count_kv", u32v(hp.n_kv_heads)),
        (eps, MetaValue::F32(hp.norm_eps as f32)),
    ];
    let rope = spec.position == Position::Rope;
    if rope {
        out.push(("rope.freq_base", MetaValue::F32(hp.rope_theta as f32)));
    }
    out.push(("vocab_size", u32v(hp.vocab_size)));
    if rope && (always("rope.dimension_count") || hp.rotary_dim != hp.head_dim) {
        out.push(("rope.dimension_count", u32v(hp.rotary_dim)));
    }
    if always("attention.key_length") || hp.head_dim * hp.n_heads != hp.d_model {
        out.push(("attention.key_length", u32v(hp.head_dim)));
        out.push(("attention.value_length", u32v(hp.head_dim)));
    }
    // Only where llama.cpp reads a window for this GGUF architecture (not Mistral-as-llama).
    let reads_window = Arch::from_gguf(a).is_some_and(|r| r.spec().sliding != Sliding::Never);
    if let Some(w) = hp.sliding_window.filter(|_| reads_window) {
        out.push(("attention.sliding_window", u32v(w)));
    }
    if let Some(c) = hp.attn_softcap {
        out.push(("attn_logit_softcapping", MetaValue::F32(c as f32)));
    }
    if let Some(c) = hp.final_softcap {
        out.push(("final_logit_softcapping", MetaValue::F32(c as f32)));
    }
    if always("use_parallel_residual") || hp.parallel_residual != spec.parallel_residual {
        out.push(("use_parallel_residual", MetaValue::Bool(hp.parallel_residual)));
    }
    match &hp.rope_scaling {
        Some(RopeScaling::Linear { factor }) => {
            out.push(("rope.scaling.type", s("linear")));
            out.push(("rope.scaling.factor", MetaValue::F32(*factor as f32)));
        }
        Some(RopeScaling::LongRope { original_ctx, attn_factor, .. }) => {
            out.push(("rope.scaling.attn_factor", MetaValue::F32(*attn_factor as f32)));
            out.push(("rope.scaling.original_context_length", u32v(*original_ctx)));
        }
        _ => {}
    }
    out.into_iter().map(|(k, v)| (format!("{a}.{k}"), v)).collect()
}

/// llama.cpp's RoPE tensors for the model's scaling, F32, first in the file: `rope_freqs`
/// (llama3: one divisor per frequency), or Phi-3's `rope_factors_long` and `_short`.
pub fn rope_tensors(model: &Model) -> Vec<(&'static str, Vec<f32>)> {
    let hp = &model.hparams;
    match &hp.rope_scaling {
        Some(s @ (RopeScaling::Llama3 { .. } | RopeScaling::Factors(_))) => {
            vec![(ROPE_FREQS, s.divisors(hp.rotary_dim, hp.rope_theta).into_iter().map(|x| x as f32).collect())]
        }
        Some(RopeScaling::LongRope { short_factor, long_factor, .. }) => {
            vec![(ROPE_LONG, long_factor.clone()), (ROPE_SHORT, short_factor.clone())]
        }
        _ => vec![],
    }
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
        hparams: hparam_keys(&model.hparams),
        vocab,
    }
}
