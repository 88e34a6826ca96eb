//! The tokenizers library's `Tokenizer` built from a `tokenizer.json` text, with less memory
//! than `Tokenizer::from_str`.
//!
//! The library's deserializer reads a BPE model's merges through an untagged enum, which
//! buffers the whole list as generic JSON content and then again as `Value`s: for Gemma-3's
//! 262K tokens and 515K merges that is about 300 MiB at its peak. Here the vocabulary and
//! merges come from [`super::from_hf::lean`] and go to the library's BPE builder; the rest of
//! the file (normalizer, pre-tokenizer, post-processor, decoder, padding, truncation) is
//! deserialized by the library itself, and the added tokens are added the way its
//! deserializer adds them. Whatever this path does not handle (another model type, merges of
//! mixed or bad shapes, ids that are not `u32`) goes through `Tokenizer::from_str`, so that
//! the library's own result or error is what the caller gets.

use super::from_hf::lean::{self, Merge};
use serde_json::{json, Value};
use std::str::FromStr;
use tokenizers::models::bpe::BPE;
use tokenizers::{AddedToken, Tokenizer};

/// `Tokenizer::from_str(text)`, built from flat lists when it is a BPE tokenizer.
pub fn tokenizer_from_text(text: &str) -> tokenizers::Result<Tokenizer> {
    match lean::parse(text).ok().and_then(lean_parts) {
        Some(parts) => build(parts),
        None => Tokenizer::from_str(text),
    }
}

struct Parts {
    /// The file with an empty BPE model and no added tokens.
    shell: Value,
    model: serde_json::Map<String, Value>,
    vocab: ahash::AHashMap<String, u32>,
    merges: Vec<(String, String)>,
    added: Value,
}

fn lean_parts(f: lean::TokenizerFile) -> Option<Parts> {
    let (Value::Object(mut shell), Some(vocab), Some(merges)) = (f.tree, f.vocab, f.merges) else { return None };
    let Some(Value::Object(model)) = shell.remove("model") else { return None };
    if model.get("type").is_some_and(|t| t != "BPE") {
        return None;
    }
    let vocab = vocab
        .into_iter()
        .map(|(t, id)| Some((t, u32::try_from(id.as_u64()?).ok()?)))
        .collect::<Option<ahash::AHashMap<_, _>>>()?;
    let merges = pairs(merges)?;
    let added = shell.remove("added_tokens").unwrap_or(Value::Null);
    shell.insert("model".to_owned(), json!({"type": "BPE", "vocab": {}, "merges": []}));
    Some(Parts { shell: Value::Object(shell), model, vocab, merges, added })
}

/// The merges as the library reads them: all `["a", "b"]` pairs, or all `"a b"` strings
/// (split at their one space, `#version` lines skipped).
fn pairs(merges: Vec<Merge>) -> Option<Vec<(String, String)>> {
    let joined = merges.first().is_some_and(|m| matches!(m, Merge::Joined(_)));
    let mut out = Vec::with_capacity(merges.len());
    for m in merges {
        match (m, joined) {
            (Merge::Pair(a, b), false) => out.push((a, b)),
            (Merge::Joined(s), true) if s.starts_with("#version") => {}
            (Merge::Joined(s), true) => {
                let (a, b) = s.split_once(' ')?;
                if b.contains(' ') {
                    return None;
                }
                out.push((a.to_owned(), b.to_owned()));
            }
            _ => return None,
        }
    }
    Some(out)
}

fn build(p: Parts) -> tokenizers::Result<Tokenizer> {
    let mut tok: Tokenizer = serde_json::from_value(p.shell)?;
    let mut b = BPE::builder().vocab_and_merges(p.vocab, p.merges);
    let text = |k: &str| p.model.get(k).and_then(Value::as_str).map(str::to_owned);
    let flag = |k: &str| p.model.get(k).and_then(Value::as_bool);
    if let Some(d) = p.model.get("dropout").and_then(Value::as_f64) {
        b = b.dropout(d as f32);
    }
    if let Some(u) = text("unk_token") {
        b = b.unk_token(u);
    }
    if let Some(s) = text("continuing_subword_prefix") {
        b = b.continuing_subword_prefix(s);
    }
    if let Some(s) = text("end_of_word_suffix") {
        b = b.end_of_word_suffix(s);
    }
    if let Some(f) = flag("fuse_unk") {
        b = b.fuse_unk(f);
    }
    if let Some(f) = flag("byte_fallback") {
        b = b.byte_fallback(f);
    }
    if let Some(f) = flag("ignore_merges") {
        b = b.ignore_merges(f);
    }
    tok.with_model(b.build()?);
    let added: Vec<AddedToken> = match p.added {
        Value::Null => Vec::new(),
        v => serde_json::from_value(v)?,
    };
    tok.add_tokens(added)?;
    Ok(tok)
}

#[cfg(test)]
mod tests;
