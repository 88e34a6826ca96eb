//! Which pre-tokenizer a `tokenizer.json` uses, in llama.cpp's terms: the `tokenizer.ggml.pre`
//! name for byte-level BPE, or the SentencePiece-style space handling.

use super::super::hf_json::{LLAMA3_REGEX, QWEN2_REGEX};
use super::SPACE_MARK;
use crate::tokenizer::TokenizerError;
use serde_json::Value;

/// The contraction group of upstream pre-tokenizer regexes, and the spelling hf_json writes
/// (the same matches: the tokenizers library's regex engine lacks `(?i:...)` on some builds).
pub(super) const CONTRACTIONS_CASELESS: &str = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
pub(super) const CONTRACTIONS_CLASSES: &str = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

pub(super) fn type_of(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

/// The components of a normalizer, pre-tokenizer, decoder or post-processor (`Sequence`s
/// flattened; `null` is none).
pub(super) fn components(v: &Value) -> Vec<&Value> {
    if v.is_null() {
        return Vec::new();
    }
    if type_of(v) == Some("Sequence") {
        let lists = ["normalizers", "pretokenizers", "decoders", "processors"];
        if let Some(items) = lists.iter().find_map(|k| v.get(k).and_then(Value::as_array)) {
            return items.iter().flat_map(components).collect();
        }
    }
    vec![v]
}

pub(super) fn has_component(v: &Value, ty: &str) -> bool {
    components(v).iter().any(|c| type_of(c) == Some(ty))
}

/// Compact JSON for messages, cut to a readable length.
pub(super) fn brief(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// A `Replace` whose pattern is the literal `from` and whose content is `to`.
pub(super) fn is_replace(v: &Value, from: &str, to: &str) -> bool {
    type_of(v) == Some("Replace")
        && v.get("pattern").and_then(|p| p.get("String")).and_then(Value::as_str) == Some(from)
        && v.get("content").and_then(Value::as_str) == Some(to)
}

/// `tokenizer.ggml.pre` for a byte-level BPE pre-tokenizer.
pub(super) fn detect_pre(pt: &Value) -> Result<&'static str, TokenizerError> {
    let byte_level = |v: &Value, use_regex: bool| {
        type_of(v) == Some("ByteLevel")
            && v.get("use_regex").and_then(Value::as_bool).unwrap_or(true) == use_regex
            && !v.get("add_prefix_space").and_then(Value::as_bool).unwrap_or(false)
    };
    let split_regex = |v: &Value| -> Option<String> {
        if type_of(v) != Some("Split")
            || v.get("behavior").and_then(Value::as_str) != Some("Isolated")
            || v.get("invert").and_then(Value::as_bool).unwrap_or(false)
        {
            return None;
        }
        let re = v.get("pattern")?.get("Regex")?.as_str()?;
        Some(re.replacen(CONTRACTIONS_CASELESS, CONTRACTIONS_CLASSES, 1))
    };
    let parts = components(pt);
    let pre = match parts.as_slice() {
        [b] if byte_level(b, true) => Some("gpt-2"),
        [d, b]
            if type_of(d) == Some("Digits")
                && d.get("individual_digits").and_then(Value::as_bool) == Some(true)
                && byte_level(b, true) =>
        {
            Some("smollm")
        }
        [s, b] if byte_level(b, false) => match split_regex(s).as_deref() {
            Some(QWEN2_REGEX) => Some("qwen2"),
            Some(LLAMA3_REGEX) => Some("llama-bpe"),
            _ => None,
        },
        _ => None,
    };
    pre.ok_or_else(|| {
        TokenizerError(format!(
            "unsupported byte-level BPE pre-tokenizer {} (supported: ByteLevel alone (gpt-2), Digits + ByteLevel \
             (smollm), Split with the Qwen2 or Llama 3 regex + ByteLevel (qwen2, llama-bpe))",
            brief(pt)
        ))
    })
}

/// Whether a byte-fallback BPE is SentencePiece-style (spaces become U+2581), and whether it
/// prepends a U+2581 to the text. Normalizer and pre-tokenizer steps that llama.cpp's SPM
/// tokenizer does not reproduce are errors.
pub(super) fn spm_style(normalizer: &Value, pre_tokenizer: &Value) -> Result<Option<bool>, TokenizerError> {
    let mut marks_spaces = false;
    let mut prefix = false;
    for n in components(normalizer) {
        if is_replace(n, " ", SPACE_MARK) {
            marks_spaces = true;
        } else if type_of(n) == Some("Prepend") && n.get("prepend").and_then(Value::as_str) == Some(SPACE_MARK) {
            prefix = true;
        } else {
            return Err(TokenizerError(format!(
                "unsupported normalizer step {} for a SentencePiece-style vocabulary",
                brief(n)
            )));
        }
    }
    for p in components(pre_tokenizer) {
        match type_of(p) {
            Some("Metaspace") => {
                if p.get("replacement").and_then(Value::as_str).is_some_and(|r| r != SPACE_MARK) {
                    return Err(TokenizerError(format!("unsupported Metaspace replacement in {}", brief(p))));
                }
                marks_spaces = true;
                prefix |= match p.get("prepend_scheme").and_then(Value::as_str) {
                    Some(scheme) => scheme != "never",
                    None => p.get("add_prefix_space").and_then(Value::as_bool).unwrap_or(true),
                };
            }
            // Gemma's Split on " " after the normalizer turned every space into U+2581: a no-op.
            Some("Split") if p.get("pattern").and_then(|x| x.get("String")).and_then(Value::as_str) == Some(" ") => {}
            _ => {
                return Err(TokenizerError(format!(
                    "unsupported pre-tokenizer step {} for a SentencePiece-style vocabulary",
                    brief(p)
                )))
            }
        }
    }
    Ok(marks_spaces.then_some(prefix))
}
