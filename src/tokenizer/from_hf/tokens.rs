//! The token lists of a `tokenizer.json`: added tokens (special or not), byte tokens, merges.

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

/// Merges as pairs, and as llama.cpp's `"a b"` strings.
pub(super) type Merges = (Vec<(String, String)>, Vec<String>);

/// The model's merges: `"a b"` strings or `["a", "b"]` pairs (whose spaces become U+0120 in
/// the strings, as gguf-py writes them).
pub(super) fn merges(model: &Value) -> Result<Merges, TokenizerError> {
    let items = match model.get("merges") {
        None | Some(Value::Null) => return Ok((Vec::new(), Vec::new())),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("tokenizer.json model.merges is not an array".into()),
    };
    let mut pairs = Vec::with_capacity(items.len());
    let mut strings = Vec::with_capacity(items.len());
    for (i, m) in items.iter().enumerate() {
        let bad =
            || TokenizerError(format!("tokenizer.json merge {i} ({}) is neither \"a b\" nor [\"a\", \"b\"]", brief(m)));
        match m {
            Value::String(s) => {
                let (a, b) = s.split_once(' ').ok_or_else(bad)?;
                pairs.push((a.to_owned(), b.to_owned()));
                strings.push(s.clone());
            }
            Value::Array(ab) => match ab.as_slice() {
                [Value::String(a), Value::String(b)] => {
                    let enc = |x: &str| x.replace(' ', "\u{0120}");
                    strings.push(format!("{} {}", enc(a), enc(b)));
                    pairs.push((a.clone(), b.clone()));
                }
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        }
    }
    Ok((pairs, strings))
}
