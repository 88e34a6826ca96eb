//! The token lists of a `tokenizer.json`: added tokens (special or not), byte tokens, merges.

use super::lean::{Merge, TokenizerFile};
use super::pre::brief;
use crate::tokenizer::TokenizerError;
use serde_json::Value;

pub(super) struct Added {
    pub(super) id: u64,
    pub(super) content: String,
    pub(super) special: bool,
}

/// `tokenizer.json`'s `added_tokens`, then any other id of `tokenizer_config.json`'s
/// `added_tokens_decoder` (transformers adds both).
pub(super) fn added_tokens(tj: &Value, tc: Option<&Value>) -> Result<Vec<Added>, TokenizerError> {
    let mut out = Vec::new();
    match tj.get("added_tokens") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, t) in items.iter().enumerate() {
                let id = t.get("id").and_then(Value::as_u64);
                let content = t.get("content").and_then(Value::as_str);
                let (Some(id), Some(content)) = (id, content) else {
                    return Err(TokenizerError(format!(
                        "tokenizer.json added_tokens[{i}] lacks an integer id or a content string"
                    )));
                };
                let special = t.get("special").and_then(Value::as_bool).unwrap_or(false);
                out.push(Added { id, content: content.to_owned(), special });
            }
        }
        Some(_) => return Err("tokenizer.json added_tokens is not an array".into()),
    }
    if let Some(decoder) = tc.and_then(|c| c.get("added_tokens_decoder")).and_then(Value::as_object) {
        for (key, t) in decoder {
            let id = key.parse::<u64>().ok();
            let content = t.get("content").and_then(Value::as_str);
            let (Some(id), Some(content)) = (id, content) else {
                return Err(TokenizerError(format!(
                    "tokenizer_config.json added_tokens_decoder entry {key:?} is not an id with content"
                )));
            };
            if !out.iter().any(|a| a.id == id) {
                let special = t.get("special").and_then(Value::as_bool).unwrap_or(false);
                out.push(Added { id, content: content.to_owned(), special });
            }
        }
    }
    Ok(out)
}

/// Added tokens that are not marked special but that llama.cpp's converter makes control
/// tokens anyway (`does_token_look_special` in convert_hf_to_gguf.py).
pub(super) fn looks_special(t: &str) -> bool {
    matches!(t, "<pad>" | "<mask>" | "<2mass>" | "[@BOS@]")
        || (t.starts_with("<|") && t.ends_with("|>"))
        || (t.starts_with("<\u{ff5c}") && t.ends_with("\u{ff5c}>"))
        || (t.starts_with("<unused") && t.ends_with('>'))
}

/// `<0xXX>`: a byte-fallback token.
pub(super) fn is_byte_token(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 6
        && t.starts_with("<0x")
        && b[5] == b'>'
        && b[3..5].iter().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
}

/// The model's merges (none when it has none).
pub(super) fn merge_items(file: &TokenizerFile) -> Result<&[Merge], TokenizerError> {
    if let Some(m) = &file.merges {
        return Ok(m);
    }
    match file.tree.get("model").and_then(|m| m.get("merges")) {
        None | Some(Value::Null) => Ok(&[]),
        Some(_) => Err("tokenizer.json model.merges is not an array".into()),
    }
}

/// Merge `i`'s two sides: `"a b"` or `["a", "b"]`.
pub(super) fn merge_pair(i: usize, m: &Merge) -> Result<(&str, &str), TokenizerError> {
    let bad = |v: &Value| {
        TokenizerError(format!("tokenizer.json merge {i} ({}) is neither \"a b\" nor [\"a\", \"b\"]", brief(v)))
    };
    match m {
        Merge::Joined(s) => s.split_once(' ').ok_or_else(|| bad(&Value::String(s.clone()))),
        Merge::Pair(a, b) => Ok((a, b)),
        Merge::Other(v) => Err(bad(v)),
    }
}

/// The merges as llama.cpp's `"a b"` strings (the spaces inside `["a", "b"]` pairs become
/// U+0120, as gguf-py writes them).
pub(super) fn merge_strings(items: &[Merge]) -> Result<Vec<String>, TokenizerError> {
    let enc = |x: &str| x.replace(' ', "\u{0120}");
    let mut out = Vec::with_capacity(items.len());
    for (i, m) in items.iter().enumerate() {
        let (a, b) = merge_pair(i, m)?;
        out.push(match m {
            Merge::Joined(s) => s.clone(),
            _ => format!("{} {}", enc(a), enc(b)),
        });
    }
    Ok(out)
}
