//! Special tokens named by the tokenizer and model configs and the post-processor template.

use serde_json::Value;

/// A special token named in a tokenizer config: a string or `{"content": ...}`.
pub(super) fn named_token(v: Option<&Value>) -> Option<&str> {
    match v? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("content").and_then(Value::as_str),
        _ => None,
    }
}

/// A key of `config.json` (or of its `text_config`), ignoring nulls.
pub(super) fn config_value<'a>(cfg: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let cfg = cfg?;
    cfg.get(key)
        .filter(|v| !v.is_null())
        .or_else(|| cfg.get("text_config").and_then(|t| t.get(key)).filter(|v| !v.is_null()))
}

/// The first special token of a template (`[{"SpecialToken": {"id": ...}}, ...]`).
pub(super) fn template_special(item: Option<&Value>) -> Option<&str> {
    item?.get("SpecialToken")?.get("id")?.as_str()
}
