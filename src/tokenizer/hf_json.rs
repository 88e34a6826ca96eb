//! Hugging Face `tokenizer.json` and `tokenizer_config.json` rebuilt from a GGUF vocabulary, so
//! that the exported tokenizer gives the ids llama.cpp gives on the source GGUF.
//!
//! - Byte-level BPE (`gpt2`): the GGUF's vocabulary and merges verbatim, with the pre-tokenizer
//!   regexes llama.cpp uses for the file's `tokenizer.ggml.pre` (src/llama-vocab.cpp).
//! - SentencePiece (`llama`): llama.cpp merges the adjacent pair whose joined piece has the
//!   highest score; a BPE whose merges are ranked by that score does the same. The merges are
//!   derived from the vocabulary as transformers' `SentencePieceExtractor` does, with byte
//!   fallback to the `<0xXX>` tokens and spaces written as U+2581.

use super::vocab::{token_type, GgufVocab, VocabKind};
use super::TokenizerError;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The Qwen2 and Llama 3 pre-tokenizer patterns (llama.cpp's `qwen2` and `llama-bpe`).
pub(super) const QWEN2_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
pub(super) const LLAMA3_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn byte_level(use_regex: bool) -> Value {
    json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex})
}

fn split_isolated(regex: &str) -> Value {
    json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false})
}

/// The pre-tokenizer for a byte-level BPE `tokenizer.ggml.pre` value, and whether merges are
/// skipped for whole-word vocabulary hits (`ignore_merges`, Llama 3).
fn bpe_pre_tokenizer(pre: Option<&str>) -> Result<(Value, bool), TokenizerError> {
    Ok(match pre.unwrap_or("default") {
        "default" | "gpt2" | "gpt-2" => (byte_level(true), false),
        // llama.cpp: "\p{N}" then GPT-2's expression.
        "smollm" | "starcoder" | "refact" | "codeshell" => (
            json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level(true)]}),
            false,
        ),
        "qwen2" => {
            (json!({"type": "Sequence", "pretokenizers": [split_isolated(QWEN2_REGEX), byte_level(false)]}), false)
        }
        "llama3" | "llama-v3" | "llama-bpe" => {
            (json!({"type": "Sequence", "pretokenizers": [split_isolated(LLAMA3_REGEX), byte_level(false)]}), true)
        }
        other => {
            return Err(TokenizerError(format!(
                "unsupported BPE pre-tokenizer {other:?} (supported: default, gpt2, smollm, qwen2, llama-bpe)"
            )))
        }
    })
}

/// Vocabulary as a JSON object in id order; a repeated string keeps its first id.
fn vocab_object(tokens: &[String]) -> Map<String, Value> {
    let mut vocab = Map::new();
    for (id, t) in tokens.iter().enumerate() {
        if !vocab.contains_key(t) {
            vocab.insert(t.clone(), json!(id));
        }
    }
    vocab
}

/// SentencePiece merges derived from the vocabulary: every split of a piece into two pieces
/// that are both in the vocabulary, ranked by the joined piece's score (highest first), ties
/// by the ids of the left and right pieces (`SentencePieceExtractor.extract` in transformers).
fn spm_merges(v: &GgufVocab) -> Vec<Value> {
    let ids: HashMap<&str, usize> = v.tokens.iter().enumerate().rev().map(|(i, t)| (t.as_str(), i)).collect();
    let mut merges: Vec<(f32, usize, usize, usize)> = Vec::new();
    for (id, piece) in v.tokens.iter().enumerate() {
        if ids.get(piece.as_str()) != Some(&id) {
            continue;
        }
        for (cut, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(cut);
            if let (Some(&il), Some(&ir)) = (ids.get(l), ids.get(r)) {
                merges.push((v.scores[id], id, il, ir));
            }
        }
    }
    // Highest score first; stable ties in vocabulary order, then by the pieces' ids.
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then((a.2, a.3).cmp(&(b.2, b.3))));
    merges.into_iter().map(|(_, _, l, r)| json!([v.tokens[l], v.tokens[r]])).collect()
}

/// Control and user-defined tokens become added tokens, so they are matched whole.
fn added_tokens(v: &GgufVocab) -> Vec<Value> {
    v.types
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(**t, token_type::CONTROL | token_type::USER_DEFINED | token_type::UNKNOWN))
        .map(|(id, t)| {
            json!({
                "id": id, "content": v.tokens[id], "single_word": false, "lstrip": false, "rstrip": false,
                "normalized": false, "special": *t != token_type::USER_DEFINED,
            })
        })
        .collect()
}

fn post_processor(v: &GgufVocab) -> Value {
    let mut specials = Map::new();
    let bos = v.token(v.special.bos).filter(|_| v.add_bos);
    let eos = v.token(v.special.eos).filter(|_| v.add_eos);
    for (tok, id) in [(bos, v.special.bos), (eos, v.special.eos)] {
        if let (Some(t), Some(id)) = (tok, id) {
            specials.insert(t.to_owned(), json!({"id": t, "ids": [id], "tokens": [t]}));
        }
    }
    let piece = |seq: &str, type_id: u32| {
        let mut out = Vec::new();
        if let Some(b) = bos {
            out.push(json!({"SpecialToken": {"id": b, "type_id": type_id}}));
        }
        out.push(json!({"Sequence": {"id": seq, "type_id": type_id}}));
        if let Some(e) = eos {
            out.push(json!({"SpecialToken": {"id": e, "type_id": type_id}}));
        }
        out
    };
    let single = piece("A", 0);
    let pair = [piece("A", 0), piece("B", 1)].concat();
    json!({"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials})
}

/// `tokenizer.json`.
pub fn tokenizer_json(v: &GgufVocab) -> Result<Value, TokenizerError> {
    let (model, normalizer, pre_tokenizer, decoder) = match v.kind {
        VocabKind::BytePairGpt2 => {
            let (pre, ignore_merges) = bpe_pre_tokenizer(v.pre.as_deref())?;
            let merges: Vec<Value> = v
                .merges
                .iter()
                .map(|m| {
                    let (a, b) = m.split_once(' ').ok_or_else(|| format!("merge {m:?} has no space"))?;
                    Ok(json!([a, b]))
                })
                .collect::<Result<_, TokenizerError>>()?;
            let model = json!({
                "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                "ignore_merges": ignore_merges, "vocab": vocab_object(&v.tokens), "merges": merges,
            });
            let decoder =
                json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true});
            (model, Value::Null, pre, decoder)
        }
        VocabKind::SentencePiece => {
            let model = json!({
                "type": "BPE", "dropout": null, "unk_token": v.token(v.special.unk), "continuing_subword_prefix": null,
                "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                "vocab": vocab_object(&v.tokens), "merges": spm_merges(v),
            });
            let mut norm = vec![json!({"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"})];
            if v.add_space_prefix {
                norm.insert(0, json!({"type": "Prepend", "prepend": "\u{2581}"}));
            }
            let mut dec = vec![
                json!({"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "}),
                json!({"type": "ByteFallback"}),
                json!({"type": "Fuse"}),
            ];
            if v.add_space_prefix {
                dec.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
            }
            (
                model,
                json!({"type": "Sequence", "normalizers": norm}),
                Value::Null,
                json!({"type": "Sequence", "decoders": dec}),
            )
        }
    };
    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added_tokens(v),
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post_processor(v),
        "decoder": decoder,
        "model": model,
    }))
}

/// `tokenizer_config.json`.
pub fn tokenizer_config_json(v: &GgufVocab, model_max_length: usize) -> Value {
    let mut c = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "add_bos_token": v.add_bos,
        "add_eos_token": v.add_eos,
        "clean_up_tokenization_spaces": false,
        "model_max_length": model_max_length,
    });
    let o = c.as_object_mut().expect("object");
    for (key, id) in [
        ("bos_token", v.special.bos),
        ("eos_token", v.special.eos),
        ("pad_token", v.special.pad),
        ("unk_token", v.special.unk),
    ] {
        if let Some(t) = v.token(id) {
            o.insert(key.into(), json!(t));
        }
    }
    if let Some(t) = &v.chat_template {
        o.insert("chat_template".into(), json!(t));
    }
    c
}
