//! A Hugging Face tokenizer directory read back as a GGUF vocabulary (the inverse of
//! [`super::hf_json`]), written the way llama.cpp's convert_hf_to_gguf.py and gguf-py's
//! `SpecialVocab` write the same files, so that stock llama.cpp loads and tokenizes the result.
//!
//! - Byte-level BPE (`gpt2`): the tokens in id order (model vocabulary and added tokens, holes
//!   filled with `[PAD{id}]`), the merges, and the `tokenizer.ggml.pre` whose regexes llama.cpp
//!   applies for the file's pre-tokenizer. (convert_hf_to_gguf.py hashes a test tokenization to
//!   pick `pre`; here the pre-tokenizer JSON is matched against the ones llama.cpp implements.)
//! - SentencePiece written as a byte-fallback BPE (Gemma): llama.cpp's SPM tokenizer merges the
//!   adjacent pair whose joined token has the highest score, and a BPE merges the pair of lowest
//!   rank, so the token produced by merge rank `r` gets score `-r`; tokens no merge produces
//!   score below all of them.
//! - Special ids from `tokenizer_config.json` (then `special_tokens_map.json`), falling back to
//!   the ids in `config.json` and `generation_config.json`; `add_bos`/`add_eos` from
//!   `tokenizer_config.json`, else from the post-processor's template.

use super::hf_json::{LLAMA3_REGEX, QWEN2_REGEX};
use super::vocab::{token_type, GgufVocab, VocabKind};
use crate::io::gguf::value::{type_id, MetaValue};
use crate::model::SpecialIds;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Ids a vocabulary may leave unused (filled with `[PAD{id}]`) before it is taken for a bad
/// file rather than a vocabulary (and before anything is allocated for it).
const MAX_HOLES: usize = 1 << 20;

/// The contraction group of upstream pre-tokenizer regexes, and the spelling hf_json writes
/// (the same matches: the tokenizers library's regex engine lacks `(?i:...)` on some builds).
const CONTRACTIONS_CASELESS: &str = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
const CONTRACTIONS_CLASSES: &str = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

const SPACE_MARK: &str = "\u{2581}";

/// The files of a Hugging Face directory the vocabulary is read from.
struct HfFiles {
    tokenizer: Value,
    tokenizer_config: Option<Value>,
    special_tokens_map: Option<Value>,
    config: Option<Value>,
    generation_config: Option<Value>,
    /// `chat_template.jinja`, else `chat_template.json`'s `chat_template`.
    chat_template_file: Option<String>,
}

fn read_text(dir: &Path, name: &str) -> Result<Option<String>, String> {
    let path = dir.join(name);
    if !path.is_file() {
        return Ok(None);
    }
    std::fs::read_to_string(&path).map(Some).map_err(|e| format!("cannot read {name}: {e}"))
}

fn read_json(dir: &Path, name: &str) -> Result<Option<Value>, String> {
    match read_text(dir, name)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| format!("{name} is not valid JSON: {e}")),
    }
}

impl GgufVocab {
    /// The vocabulary of a Hugging Face model directory (`tokenizer.json`, with
    /// `tokenizer_config.json`, `special_tokens_map.json`, `config.json`,
    /// `generation_config.json` and `chat_template.jinja` when present). `arch` is the GGUF
    /// architecture name (`gemma3` never adds a space prefix, as convert_hf_to_gguf.py writes).
    pub fn from_hf_dir(dir: &Path, arch: &str) -> Result<GgufVocab, String> {
        let tokenizer = read_json(dir, "tokenizer.json")?
            .ok_or("no tokenizer.json (only tokenizers in the tokenizer.json format are supported)")?;
        let chat_template_file = match read_text(dir, "chat_template.jinja")? {
            Some(t) => Some(t),
            None => read_json(dir, "chat_template.json")?
                .and_then(|j| j.get("chat_template").and_then(Value::as_str).map(str::to_owned)),
        };
        let files = HfFiles {
            tokenizer,
            tokenizer_config: read_json(dir, "tokenizer_config.json")?,
            special_tokens_map: read_json(dir, "special_tokens_map.json")?,
            config: read_json(dir, "config.json")?,
            generation_config: read_json(dir, "generation_config.json")?,
            chat_template_file,
        };
        from_hf_files(&files, arch)
    }

    /// Every `tokenizer.ggml.*` key llama.cpp's loader reads (and `tokenizer.chat_template`),
    /// as GGUF metadata. `pre` is always written for byte-level BPE (llama.cpp warns and
    /// guesses without it) and for SentencePiece when the vocabulary has one; scores are
    /// written when present (SentencePiece needs them, byte-level BPE does not).
    pub fn to_metadata(&self) -> Vec<(String, MetaValue)> {
        let mut m: Vec<(String, MetaValue)> = Vec::new();
        let mut put = |k: &str, v: MetaValue| m.push((format!("tokenizer.{k}"), v));
        let string = |s: &str| MetaValue::String(s.to_owned());
        let model = match self.kind {
            VocabKind::BytePairGpt2 => "gpt2",
            VocabKind::SentencePiece => "llama",
        };
        put("ggml.model", string(model));
        match (&self.kind, self.pre.as_deref()) {
            (VocabKind::BytePairGpt2, pre) => put("ggml.pre", string(pre.unwrap_or("default"))),
            (VocabKind::SentencePiece, Some(pre)) => put("ggml.pre", string(pre)),
            (VocabKind::SentencePiece, None) => {}
        }
        put("ggml.tokens", MetaValue::Array(type_id::STRING, self.tokens.iter().map(|t| string(t)).collect()));
        put("ggml.token_type", MetaValue::Array(type_id::I32, self.types.iter().map(|&t| MetaValue::I32(t)).collect()));
        if !self.scores.is_empty() {
            put(
                "ggml.scores",
                MetaValue::Array(type_id::F32, self.scores.iter().map(|&s| MetaValue::F32(s)).collect()),
            );
        }
        if !self.merges.is_empty() {
            put("ggml.merges", MetaValue::Array(type_id::STRING, self.merges.iter().map(|t| string(t)).collect()));
        }
        for (key, id) in [
            ("ggml.bos_token_id", self.special.bos),
            ("ggml.eos_token_id", self.special.eos),
            ("ggml.unknown_token_id", self.special.unk),
            ("ggml.padding_token_id", self.special.pad),
        ] {
            if let Some(id) = id {
                put(key, MetaValue::U32(id));
            }
        }
        put("ggml.add_bos_token", MetaValue::Bool(self.add_bos));
        put("ggml.add_eos_token", MetaValue::Bool(self.add_eos));
        put("ggml.add_space_prefix", MetaValue::Bool(self.add_space_prefix));
        if let Some(t) = &self.chat_template {
            put("chat_template", string(t));
        }
        m
    }
}

fn type_of(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

/// The components of a normalizer, pre-tokenizer, decoder or post-processor (`Sequence`s
/// flattened; `null` is none).
fn components(v: &Value) -> Vec<&Value> {
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

fn has_component(v: &Value, ty: &str) -> bool {
    components(v).iter().any(|c| type_of(c) == Some(ty))
}

/// Compact JSON for messages, cut to a readable length.
fn brief(v: &Value) -> String {
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
fn is_replace(v: &Value, from: &str, to: &str) -> bool {
    type_of(v) == Some("Replace")
        && v.get("pattern").and_then(|p| p.get("String")).and_then(Value::as_str) == Some(from)
        && v.get("content").and_then(Value::as_str) == Some(to)
}

/// `tokenizer.ggml.pre` for a byte-level BPE pre-tokenizer.
fn detect_pre(pt: &Value) -> Result<&'static str, String> {
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
        format!(
            "unsupported byte-level BPE pre-tokenizer {} (supported: ByteLevel alone (gpt-2), Digits + ByteLevel \
             (smollm), Split with the Qwen2 or Llama 3 regex + ByteLevel (qwen2, llama-bpe))",
            brief(pt)
        )
    })
}

/// Whether a byte-fallback BPE is SentencePiece-style (spaces become U+2581), and whether it
/// prepends a U+2581 to the text. Normalizer and pre-tokenizer steps that llama.cpp's SPM
/// tokenizer does not reproduce are errors.
fn spm_style(normalizer: &Value, pre_tokenizer: &Value) -> Result<Option<bool>, String> {
    let mut marks_spaces = false;
    let mut prefix = false;
    for n in components(normalizer) {
        if is_replace(n, " ", SPACE_MARK) {
            marks_spaces = true;
        } else if type_of(n) == Some("Prepend") && n.get("prepend").and_then(Value::as_str) == Some(SPACE_MARK) {
            prefix = true;
        } else {
            return Err(format!("unsupported normalizer step {} for a SentencePiece-style vocabulary", brief(n)));
        }
    }
    for p in components(pre_tokenizer) {
        match type_of(p) {
            Some("Metaspace") => {
                if p.get("replacement").and_then(Value::as_str).is_some_and(|r| r != SPACE_MARK) {
                    return Err(format!("unsupported Metaspace replacement in {}", brief(p)));
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
                return Err(format!("unsupported pre-tokenizer step {} for a SentencePiece-style vocabulary", brief(p)))
            }
        }
    }
    Ok(marks_spaces.then_some(prefix))
}

struct Added {
    id: u64,
    content: String,
    special: bool,
}

/// `tokenizer.json`'s `added_tokens`, then any other id of `tokenizer_config.json`'s
/// `added_tokens_decoder` (transformers adds both).
fn added_tokens(tj: &Value, tc: Option<&Value>) -> Result<Vec<Added>, String> {
    let mut out = Vec::new();
    match tj.get("added_tokens") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, t) in items.iter().enumerate() {
                let id = t.get("id").and_then(Value::as_u64);
                let content = t.get("content").and_then(Value::as_str);
                let (Some(id), Some(content)) = (id, content) else {
                    return Err(format!("tokenizer.json added_tokens[{i}] lacks an integer id or a content string"));
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
                return Err(format!(
                    "tokenizer_config.json added_tokens_decoder entry {key:?} is not an id with content"
                ));
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
fn looks_special(t: &str) -> bool {
    matches!(t, "<pad>" | "<mask>" | "<2mass>" | "[@BOS@]")
        || (t.starts_with("<|") && t.ends_with("|>"))
        || (t.starts_with("<\u{ff5c}") && t.ends_with("\u{ff5c}>"))
        || (t.starts_with("<unused") && t.ends_with('>'))
}

/// `<0xXX>`: a byte-fallback token.
fn is_byte_token(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 6
        && t.starts_with("<0x")
        && b[5] == b'>'
        && b[3..5].iter().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
}

/// Merges as pairs, and as llama.cpp's `"a b"` strings.
type Merges = (Vec<(String, String)>, Vec<String>);

/// The model's merges: `"a b"` strings or `["a", "b"]` pairs (whose spaces become U+0120 in
/// the strings, as gguf-py writes them).
fn merges(model: &Value) -> Result<Merges, String> {
    let items = match model.get("merges") {
        None | Some(Value::Null) => return Ok((Vec::new(), Vec::new())),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("tokenizer.json model.merges is not an array".into()),
    };
    let mut pairs = Vec::with_capacity(items.len());
    let mut strings = Vec::with_capacity(items.len());
    for (i, m) in items.iter().enumerate() {
        let bad = || format!("tokenizer.json merge {i} ({}) is neither \"a b\" nor [\"a\", \"b\"]", brief(m));
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

/// A special token named in a tokenizer config: a string or `{"content": ...}`.
fn named_token(v: Option<&Value>) -> Option<&str> {
    match v? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("content").and_then(Value::as_str),
        _ => None,
    }
}

/// A key of `config.json` (or of its `text_config`), ignoring nulls.
fn config_value<'a>(cfg: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let cfg = cfg?;
    cfg.get(key)
        .filter(|v| !v.is_null())
        .or_else(|| cfg.get("text_config").and_then(|t| t.get(key)).filter(|v| !v.is_null()))
}

/// The first special token of a template (`[{"SpecialToken": {"id": ...}}, ...]`).
fn template_special(item: Option<&Value>) -> Option<&str> {
    item?.get("SpecialToken")?.get("id")?.as_str()
}

fn from_hf_files(f: &HfFiles, arch: &str) -> Result<GgufVocab, String> {
    let tj = &f.tokenizer;
    let tc = f.tokenizer_config.as_ref();
    let null = Value::Null;
    let model = tj.get("model").filter(|m| m.is_object()).ok_or("tokenizer.json has no model object")?;
    let model_type = model.get("type").and_then(Value::as_str).unwrap_or(if model.get("merges").is_some() {
        "BPE"
    } else {
        "(none)"
    });
    if model_type != "BPE" {
        return Err(format!("unsupported tokenizer.json model type {model_type:?} (supported: BPE)"));
    }
    let normalizer = tj.get("normalizer").unwrap_or(&null);
    let pre_tokenizer = tj.get("pre_tokenizer").unwrap_or(&null);
    let decoder = tj.get("decoder").unwrap_or(&null);

    let byte_level = has_component(pre_tokenizer, "ByteLevel") || has_component(decoder, "ByteLevel");
    let byte_fallback = model.get("byte_fallback").and_then(Value::as_bool).unwrap_or(false);
    let (kind, pre, add_space_prefix) = if byte_level {
        (VocabKind::BytePairGpt2, detect_pre(pre_tokenizer)?.to_owned(), false)
    } else if byte_fallback {
        let prefix = spm_style(normalizer, pre_tokenizer)?.ok_or(
            "byte-fallback BPE that neither replaces spaces with U+2581 nor has a Metaspace pre-tokenizer \
             (supported: byte-level BPE, SentencePiece-style BPE)",
        )?;
        // convert_hf_to_gguf.py writes add_space_prefix = false for Gemma 3 whatever the files say.
        (VocabKind::SentencePiece, "default".to_owned(), prefix && arch != "gemma3")
    } else {
        return Err(format!(
            "unsupported BPE tokenizer: no ByteLevel pre-tokenizer or decoder and no byte_fallback \
             (pre-tokenizer {}, normalizer {})",
            brief(pre_tokenizer),
            brief(normalizer)
        ));
    };
    let spm = kind == VocabKind::SentencePiece;

    // Tokens in id order.
    let vocab = model.get("vocab").and_then(Value::as_object).ok_or("tokenizer.json model has no vocab object")?;
    let added = added_tokens(tj, tc)?;
    let mut entries: Vec<(&str, u64)> = Vec::with_capacity(vocab.len());
    for (t, id) in vocab {
        let id = id.as_u64().ok_or_else(|| format!("tokenizer.json vocab gives {t:?} the id {id}"))?;
        entries.push((t, id));
    }
    let max_id =
        entries.iter().map(|e| e.1).chain(added.iter().map(|a| a.id)).max().ok_or("tokenizer.json has no tokens")?;
    let n = match config_value(f.config.as_ref(), "vocab_size") {
        None => max_id.saturating_add(1),
        Some(v) => {
            let n = v.as_u64().ok_or_else(|| format!("config.json vocab_size {v} is not a token count"))?;
            if max_id >= n {
                return Err(format!("tokenizer.json has token id {max_id} but config.json vocab_size is {n}"));
            }
            n
        }
    };
    let distinct_max = (entries.len() + added.len()) as u64;
    if n > distinct_max.saturating_add(MAX_HOLES as u64) || n > u32::MAX as u64 {
        return Err(format!("a vocabulary of {n} ids holds only {distinct_max} tokens"));
    }
    let n = n as usize;
    let mut slots: Vec<Option<String>> = vec![None; n];
    for &(t, id) in &entries {
        let slot = &mut slots[id as usize];
        if let Some(other) = slot {
            return Err(format!("tokenizer.json vocab gives id {id} to both {other:?} and {t:?}"));
        }
        *slot = Some(t.to_owned());
    }
    // Added tokens: control (special, or looking special) or user-defined, whose U+2581 are
    // spaces in GGUF (convert_hf_to_gguf.py pre-normalizes them).
    let mut added_control: Vec<Option<bool>> = vec![None; n];
    for a in &added {
        let control = a.special || looks_special(&a.content);
        let i = a.id as usize;
        slots[i] = Some(if control { a.content.clone() } else { a.content.replace(SPACE_MARK, " ") });
        added_control[i] = Some(control);
    }
    let holes: Vec<bool> = slots.iter().map(Option::is_none).collect();
    let tokens: Vec<String> =
        slots.into_iter().enumerate().map(|(i, t)| t.unwrap_or_else(|| format!("[PAD{i}]"))).collect();
    let mut index: HashMap<&str, u32> = HashMap::with_capacity(n);
    for (i, t) in tokens.iter().enumerate().rev() {
        index.insert(t, i as u32);
    }
    let lookup = |content: &str| -> Option<u32> {
        added.iter().find(|a| a.content == content).map(|a| a.id as u32).or_else(|| index.get(content).copied())
    };

    // Special ids: named tokens, then config ids.
    let named = |key: &str| -> Option<u32> {
        [tc, f.special_tokens_map.as_ref()].into_iter().flatten().find_map(|c| named_token(c.get(key)).and_then(lookup))
    };
    let numbered = |key: &str| -> Option<u32> {
        [f.config.as_ref(), f.generation_config.as_ref()].into_iter().find_map(|c| {
            let v = config_value(c, key)?;
            let id = v.as_u64().or_else(|| v.as_array()?.first()?.as_u64())?;
            (id < n as u64).then_some(id as u32)
        })
    };
    let model_unk = model.get("unk_token").and_then(Value::as_str).and_then(lookup);
    let mut special = SpecialIds {
        bos: named("bos_token").or_else(|| numbered("bos_token_id")),
        eos: named("eos_token").or_else(|| numbered("eos_token_id")),
        pad: named("pad_token").or_else(|| numbered("pad_token_id")),
        unk: named("unk_token").or(model_unk).or_else(|| numbered("unk_token_id")),
    };

    // add_bos / add_eos: tokenizer_config.json, else the template of the post-processor.
    let template = tj
        .get("post_processor")
        .map(components)
        .unwrap_or_default()
        .into_iter()
        .find(|p| type_of(p) == Some("TemplateProcessing"));
    let single = template.and_then(|t| t.get("single")).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let (first, last) = if single.len() > 1 {
        (template_special(single.first()), template_special(single.last()))
    } else {
        (None, None)
    };
    if special.bos.is_none() {
        special.bos = first.and_then(lookup);
    }
    if special.eos.is_none() {
        special.eos = last.and_then(lookup);
    }
    let token = |id: Option<u32>| id.and_then(|i| tokens.get(i as usize)).map(String::as_str);
    let flag = |key: &str| tc.and_then(|c| c.get(key)).and_then(Value::as_bool);
    let add_bos = flag("add_bos_token").unwrap_or(if template.is_some() {
        first.is_some() && first == token(special.bos)
    } else {
        spm
    });
    let add_eos = flag("add_eos_token").unwrap_or(template.is_some() && last.is_some() && last == token(special.eos));

    let chat_template = match tc.and_then(|c| c.get("chat_template")) {
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Array(named)) => named
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
            .and_then(|t| t.get("template").and_then(Value::as_str))
            .map(str::to_owned),
        _ => None,
    }
    .or_else(|| f.chat_template_file.clone());

    // Token types.
    let types: Vec<i32> = (0..n)
        .map(|i| match added_control[i] {
            Some(true) => token_type::CONTROL,
            Some(false) => token_type::USER_DEFINED,
            None if holes[i] || tokens[i] == format!("[PAD{i}]") => token_type::UNUSED,
            None if spm && is_byte_token(&tokens[i]) => token_type::BYTE,
            None if spm && special.unk == Some(i as u32) => token_type::UNKNOWN,
            None => token_type::NORMAL,
        })
        .collect();

    let (pairs, merge_strings) = merges(model)?;
    let (scores, merges) = if spm {
        // The token each merge produces scores minus its first rank; the rest score lower.
        let mut rank: Vec<Option<usize>> = vec![None; n];
        let mut joined = String::new();
        for (r, (a, b)) in pairs.iter().enumerate() {
            joined.clear();
            joined.push_str(a);
            joined.push_str(b);
            if let Some(&id) = index.get(joined.as_str()) {
                rank[id as usize].get_or_insert(r);
            }
        }
        let scores = rank.iter().enumerate().map(|(i, r)| -(r.unwrap_or(pairs.len() + i) as f32)).collect();
        (scores, Vec::new())
    } else {
        if merge_strings.is_empty() {
            return Err("byte-level BPE tokenizer.json without merges".into());
        }
        (Vec::new(), merge_strings)
    };

    Ok(GgufVocab {
        kind,
        pre: Some(pre),
        tokens,
        scores,
        types,
        merges,
        special,
        add_bos,
        add_eos,
        add_space_prefix,
        chat_template,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::hf_json;
    use serde_json::json;
    use std::str::FromStr;
    use tokenizers::Tokenizer;

    fn write(dir: &Path, name: &str, v: &Value) {
        std::fs::write(dir.join(name), serde_json::to_string(v).unwrap()).unwrap();
    }

    /// A directory holding each `(file name, JSON)`.
    fn hf_dir(files: &[(&str, &Value)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, v) in files {
            write(dir.path(), name, v);
        }
        dir
    }

    fn byte_level(use_regex: bool) -> Value {
        json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex})
    }

    fn split(regex: &str) -> Value {
        json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false})
    }

    fn bpe_json(pre_tokenizer: Value, merges: Value) -> Value {
        json!({
            "version": "1.0",
            "added_tokens": [
                {"id": 0, "content": "<|endoftext|>", "special": true},
                {"id": 6, "content": "<tool\u{2581}call>", "special": false},
                {"id": 7, "content": "<|fim|>", "special": false},
            ],
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": pre_tokenizer,
            "post_processor": null,
            "decoder": byte_level(true),
            "model": {
                "type": "BPE", "byte_fallback": false,
                "vocab": {"<|endoftext|>": 0, "a": 1, "b": 2, "ab": 3, "\u{0120}": 4, "\u{0120}ab": 5},
                "merges": merges,
            },
        })
    }

    fn smollm_pre() -> Value {
        json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level(true)]})
    }

    #[test]
    fn byte_level_bpe_vocabulary() {
        let tj = bpe_json(smollm_pre(), json!(["a b", "\u{0120} ab"]));
        let tc = json!({
            "bos_token": {"content": "<|endoftext|>", "lstrip": false},
            "eos_token": "<|endoftext|>",
            "add_bos_token": false,
            "chat_template": "{{ messages }}",
        });
        let config = json!({"vocab_size": 10, "pad_token_id": 7});
        let d = hf_dir(&[("tokenizer.json", &tj), ("tokenizer_config.json", &tc), ("config.json", &config)]);
        let v = GgufVocab::from_hf_dir(d.path(), "llama").unwrap();
        assert_eq!(v.kind, VocabKind::BytePairGpt2);
        assert_eq!(v.pre.as_deref(), Some("smollm"));
        let want =
            ["<|endoftext|>", "a", "b", "ab", "\u{0120}", "\u{0120}ab", "<tool call>", "<|fim|>", "[PAD8]", "[PAD9]"];
        assert_eq!(v.tokens, want);
        use token_type::*;
        assert_eq!(v.types, [CONTROL, NORMAL, NORMAL, NORMAL, NORMAL, NORMAL, USER_DEFINED, CONTROL, UNUSED, UNUSED]);
        assert_eq!(v.merges, ["a b", "\u{0120} ab"]);
        assert!(v.scores.is_empty());
        assert_eq!(v.special, SpecialIds { bos: Some(0), eos: Some(0), pad: Some(7), unk: None });
        assert!(!v.add_bos && !v.add_eos && !v.add_space_prefix);
        assert_eq!(v.chat_template.as_deref(), Some("{{ messages }}"));

        // Merges as pairs (transformers >= 4.45) give the same strings; spaces become U+0120.
        let tj = bpe_json(smollm_pre(), json!([["a", "b"], ["\u{0120}", "ab"], ["a b", "c"]]));
        let d = hf_dir(&[("tokenizer.json", &tj)]);
        let v = GgufVocab::from_hf_dir(d.path(), "llama").unwrap();
        assert_eq!(v.merges, ["a b", "\u{0120} ab", "a\u{0120}b c"]);
        // Without config.json the vocabulary ends at the highest id.
        assert_eq!(v.tokens.len(), 8);
    }

    #[test]
    fn byte_level_pre_tokenizers() {
        let upstream_qwen2 = QWEN2_REGEX.replacen(CONTRACTIONS_CLASSES, CONTRACTIONS_CASELESS, 1);
        let upstream_llama3 = LLAMA3_REGEX.replacen(CONTRACTIONS_CLASSES, CONTRACTIONS_CASELESS, 1);
        assert_ne!(upstream_qwen2, QWEN2_REGEX);
        let seq = |a: Value, b: Value| json!({"type": "Sequence", "pretokenizers": [a, b]});
        let cases = [
            (byte_level(true), "gpt-2"),
            (smollm_pre(), "smollm"),
            (seq(split(QWEN2_REGEX), byte_level(false)), "qwen2"),
            (seq(split(&upstream_qwen2), byte_level(false)), "qwen2"),
            (seq(split(LLAMA3_REGEX), byte_level(false)), "llama-bpe"),
            (seq(split(&upstream_llama3), byte_level(false)), "llama-bpe"),
        ];
        for (pre, want) in cases {
            let d = hf_dir(&[("tokenizer.json", &bpe_json(pre.clone(), json!(["a b"])))]);
            let v = GgufVocab::from_hf_dir(d.path(), "qwen2").unwrap_or_else(|e| panic!("{pre}: {e}"));
            assert_eq!(v.pre.as_deref(), Some(want), "{pre}");
        }
        let bad = [
            json!({"type": "Whitespace"}),
            byte_level(false),
            seq(split(r"\p{N}+"), byte_level(false)),
            seq(split(QWEN2_REGEX), byte_level(true)),
            json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": false}, byte_level(true)]}),
            json!({"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}),
        ];
        for pre in bad {
            let d = hf_dir(&[("tokenizer.json", &bpe_json(pre.clone(), json!(["a b"])))]);
            let e = GgufVocab::from_hf_dir(d.path(), "qwen2").unwrap_err();
            assert!(e.contains("unsupported byte-level BPE pre-tokenizer"), "{pre}: {e}");
        }
    }

    /// A SentencePiece-style byte-fallback BPE as Gemma's tokenizer.json writes it.
    fn spm_json(normalizer: Value, pre_tokenizer: Value) -> Value {
        let mut vocab = serde_json::Map::new();
        for (i, t) in ["<pad>", "<eos>", "<bos>", "<unk>"].iter().enumerate() {
            vocab.insert(t.to_string(), json!(i));
        }
        for b in 0..256 {
            vocab.insert(format!("<0x{b:02X}>"), json!(4 + b));
        }
        for (i, t) in
            ["\u{2581}", "a", "b", "c", "ab", "\u{2581}a", "\u{2581}ab", "abc", "\u{2581}\u{2581}"].iter().enumerate()
        {
            vocab.insert(t.to_string(), json!(260 + i));
        }
        json!({
            "added_tokens": [
                {"id": 0, "content": "<pad>", "special": true},
                {"id": 1, "content": "<eos>", "special": true},
                {"id": 2, "content": "<bos>", "special": true},
                {"id": 268, "content": "\u{2581}\u{2581}", "special": false},
            ],
            "normalizer": normalizer,
            "pre_tokenizer": pre_tokenizer,
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            },
            "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]},
            "model": {
                "type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true, "vocab": vocab,
                "merges": [["a", "b"], ["\u{2581}", "a"], ["\u{2581}a", "b"], ["\u{2581}", "ab"], ["ab", "c"]],
            },
        })
    }

    fn replace_space() -> Value {
        json!({"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"})
    }

    #[test]
    fn sentencepiece_style_vocabulary() {
        let gemma_split = json!({"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious"});
        let tj = spm_json(replace_space(), gemma_split);
        let config = json!({"text_config": {"vocab_size": 270}, "eos_token_id": [1, 268]});
        let d = hf_dir(&[("tokenizer.json", &tj), ("config.json", &config)]);
        std::fs::write(d.path().join("chat_template.jinja"), "{{ x }}").unwrap();
        let v = GgufVocab::from_hf_dir(d.path(), "gemma3").unwrap();
        assert_eq!(v.kind, VocabKind::SentencePiece);
        assert_eq!(v.pre.as_deref(), Some("default"));
        assert_eq!(v.tokens.len(), 270);
        assert_eq!(v.tokens[268], "  ");
        assert_eq!(v.tokens[269], "[PAD269]");
        use token_type::*;
        assert_eq!(v.types[..5], [CONTROL, CONTROL, CONTROL, UNKNOWN, BYTE]);
        assert_eq!(
            v.types[259..],
            [BYTE, NORMAL, NORMAL, NORMAL, NORMAL, NORMAL, NORMAL, NORMAL, NORMAL, USER_DEFINED, UNUSED]
        );
        // Merge ranks: ab 0, ▁a 1, ▁ab 2 (its first merge), abc 4; the rest below all of them.
        let n = 5.0;
        assert_eq!(v.scores[264..268], [-0.0, -1.0, -2.0, -4.0]);
        assert_eq!(v.scores[260], -(n + 260.0));
        assert_eq!(v.scores[0], -n);
        assert!(v.merges.is_empty());
        assert_eq!(v.special, SpecialIds { bos: Some(2), eos: Some(1), pad: None, unk: Some(3) });
        assert!(v.add_bos && !v.add_eos && !v.add_space_prefix);
        assert_eq!(v.chat_template.as_deref(), Some("{{ x }}"));

        // A space prefix: Prepend in the normalizer, or Metaspace; never for Gemma 3.
        let prepend = json!({"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u{2581}"}, replace_space()]});
        let metaspace =
            json!({"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "first", "split": false});
        for (norm, pre, arch, want) in [
            (prepend.clone(), Value::Null, "llama", true),
            (prepend, Value::Null, "gemma3", false),
            (Value::Null, metaspace.clone(), "llama", true),
            (
                Value::Null,
                json!({"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "never"}),
                "llama",
                false,
            ),
        ] {
            let d = hf_dir(&[("tokenizer.json", &spm_json(norm.clone(), pre.clone()))]);
            let v = GgufVocab::from_hf_dir(d.path(), arch).unwrap();
            assert_eq!(v.add_space_prefix, want, "{norm} {pre} {arch}");
        }

        // What llama.cpp's SPM tokenizer would not reproduce is refused.
        for (norm, pre, needle) in [
            (json!({"type": "NFKC"}), metaspace, "unsupported normalizer step"),
            (replace_space(), json!({"type": "Whitespace"}), "unsupported pre-tokenizer step"),
            (Value::Null, Value::Null, "neither replaces spaces"),
        ] {
            let d = hf_dir(&[("tokenizer.json", &spm_json(norm, pre))]);
            let e = GgufVocab::from_hf_dir(d.path(), "llama").unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn special_ids_and_flags_fall_back() {
        let tj = bpe_json(byte_level(true), json!(["a b"]));
        // special_tokens_map.json names, then config.json ids, then generation_config.json ids;
        // ids out of range are ignored.
        let stm = json!({"eos_token": {"content": "<|fim|>"}, "unk_token": "not a token"});
        let config = json!({"bos_token_id": 3, "eos_token_id": 1, "pad_token_id": 99});
        let gen = json!({"pad_token_id": [5, 1], "unk_token_id": 2});
        let d = hf_dir(&[
            ("tokenizer.json", &tj),
            ("special_tokens_map.json", &stm),
            ("config.json", &config),
            ("generation_config.json", &gen),
        ]);
        let v = GgufVocab::from_hf_dir(d.path(), "llama").unwrap();
        assert_eq!(v.special, SpecialIds { bos: Some(3), eos: Some(7), pad: Some(5), unk: Some(2) });
        assert!(!v.add_bos && !v.add_eos && v.chat_template.is_none());

        // With no tokenizer_config.json, a template putting a token in front names the BOS and
        // adds it; one at the end adds the EOS.
        let mut tj = bpe_json(byte_level(true), json!(["a b"]));
        tj["post_processor"] = json!({"type": "Sequence", "processors": [
            {"type": "ByteLevel"},
            {"type": "TemplateProcessing", "single": [
                {"SpecialToken": {"id": "<|fim|>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}]}]});
        let d = hf_dir(&[("tokenizer.json", &tj), ("config.json", &json!({"eos_token_id": 0}))]);
        let v = GgufVocab::from_hf_dir(d.path(), "llama").unwrap();
        assert_eq!((v.special.bos, v.special.eos, v.add_bos, v.add_eos), (Some(7), Some(0), true, true));
        // tokenizer_config.json's flags win over the template.
        let tc = json!({"add_bos_token": false, "add_eos_token": false, "chat_template": [
            {"name": "tool_use", "template": "t"}, {"name": "default", "template": "d"}]});
        write(d.path(), "tokenizer_config.json", &tc);
        let v = GgufVocab::from_hf_dir(d.path(), "llama").unwrap();
        assert_eq!((v.add_bos, v.add_eos, v.chat_template.as_deref()), (false, false, Some("d")));
        // A template without a leading special token adds no BOS, even to SentencePiece.
        let mut tj = spm_json(replace_space(), Value::Null);
        tj["post_processor"]["single"] = json!([{"Sequence": {"id": "A", "type_id": 0}}]);
        let d = hf_dir(&[("tokenizer.json", &tj)]);
        assert!(!GgufVocab::from_hf_dir(d.path(), "llama").unwrap().add_bos);
        tj["post_processor"] = Value::Null;
        write(d.path(), "tokenizer.json", &tj);
        assert!(GgufVocab::from_hf_dir(d.path(), "llama").unwrap().add_bos, "llama.cpp's SPM default");
    }

    #[test]
    fn bad_files_are_errors() {
        let empty = tempfile::tempdir().unwrap();
        assert!(GgufVocab::from_hf_dir(empty.path(), "llama").unwrap_err().contains("no tokenizer.json"));
        std::fs::write(empty.path().join("tokenizer.json"), "{not json").unwrap();
        assert!(GgufVocab::from_hf_dir(empty.path(), "llama").unwrap_err().contains("not valid JSON"));

        let good = bpe_json(byte_level(true), json!(["a b"]));
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Edit, Option<Value>, &str)> = vec![
            (Box::new(|t| t["model"]["type"] = json!("Unigram")), None, "model type \"Unigram\""),
            (Box::new(|t| t["model"]["type"] = json!("WordPiece")), None, "model type \"WordPiece\""),
            (Box::new(|t| t["model"] = json!([])), None, "no model object"),
            (Box::new(|t| t["model"]["vocab"] = json!([])), None, "no vocab object"),
            (Box::new(|t| t["model"]["vocab"]["b"] = json!(-2)), None, "the id -2"),
            (Box::new(|t| t["model"]["vocab"]["b"] = json!(1)), None, "gives id 1 to both"),
            (Box::new(|t| t["model"]["merges"] = json!(["ab"])), None, "merge 0"),
            (Box::new(|t| t["model"]["merges"] = json!([["a", "b", "c"]])), None, "merge 0"),
            (Box::new(|t| t["model"]["merges"] = json!({})), None, "not an array"),
            (Box::new(|t| t["model"]["merges"] = json!([])), None, "without merges"),
            (Box::new(|t| t["added_tokens"] = json!([{"id": 9}])), None, "added_tokens[0]"),
            (Box::new(|t| t["added_tokens"] = json!({})), None, "added_tokens is not an array"),
            (
                Box::new(|t| {
                    t["decoder"] = Value::Null;
                    t["pre_tokenizer"] = json!({"type": "Whitespace"});
                }),
                None,
                "no ByteLevel",
            ),
            (Box::new(|_| {}), Some(json!({"vocab_size": 4})), "vocab_size is 4"),
            (Box::new(|_| {}), Some(json!({"vocab_size": "many"})), "not a token count"),
            (Box::new(|_| {}), Some(json!({"vocab_size": 1u64 << 40})), "holds only"),
            (Box::new(|t| t["model"]["vocab"]["b"] = json!(1u64 << 40)), None, "holds only"),
        ];
        for (edit, config, needle) in cases {
            let mut tj = good.clone();
            edit(&mut tj);
            let d = hf_dir(&[("tokenizer.json", &tj)]);
            if let Some(c) = &config {
                write(d.path(), "config.json", c);
            }
            let e = GgufVocab::from_hf_dir(d.path(), "llama").unwrap_err();
            assert!(e.contains(needle), "{needle:?} not in {e:?}");
        }
    }

    /// GPT-2's byte-to-unicode table.
    fn gpt2_bytes() -> Vec<String> {
        let mut keep: Vec<u32> = (0x21..=0x7E).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
        let mut chars = keep.clone();
        for b in 0..256u32 {
            if !keep.contains(&b) {
                keep.push(b);
                chars.push(256 + chars.len() as u32 - 188);
            }
        }
        let mut table = vec![String::new(); 256];
        for (b, c) in keep.iter().zip(chars) {
            table[*b as usize] = char::from_u32(c).unwrap().to_string();
        }
        table
    }

    fn gpt2_vocab(pre: &str) -> GgufVocab {
        let mut tokens = gpt2_bytes();
        let merges: Vec<String> =
            ["\u{0120} t", "h e", "\u{0120}t he", "i n", "1 2", "' s"].iter().map(|s| s.to_string()).collect();
        tokens.extend(merges.iter().map(|m| m.replace(' ', "")));
        tokens.extend(["<|endoftext|>", "<tool_call>", "[PAD264]"].map(String::from));
        let mut types = vec![token_type::NORMAL; tokens.len()];
        let n = types.len();
        types[n - 3] = token_type::CONTROL;
        types[n - 2] = token_type::USER_DEFINED;
        types[n - 1] = token_type::UNUSED;
        GgufVocab {
            kind: VocabKind::BytePairGpt2,
            pre: Some(pre.into()),
            scores: Vec::new(),
            types,
            merges,
            special: SpecialIds { bos: Some(262), eos: Some(262), pad: None, unk: None },
            add_bos: false,
            add_eos: false,
            add_space_prefix: false,
            chat_template: Some("{{ m }}".into()),
            tokens,
        }
    }

    /// A SentencePiece vocabulary like Gemma's: specials, bytes, and pieces whose scores tie
    /// and do not follow the ids.
    fn spm_vocab() -> GgufVocab {
        let mut tokens: Vec<String> = ["<pad>", "<eos>", "<bos>", "<unk>", "\n\n"].map(String::from).to_vec();
        let mut scores = vec![-1000.0; 5];
        let mut types = vec![token_type::CONTROL, token_type::CONTROL, token_type::CONTROL, token_type::CONTROL];
        types.push(token_type::USER_DEFINED);
        for b in 0..256 {
            tokens.push(format!("<0x{b:02X}>"));
            scores.push(0.0);
            types.push(token_type::BYTE);
        }
        let pieces = [
            ("\u{2581}", -100.0),
            ("a", -101.0),
            ("b", -102.0),
            ("c", -103.0),
            ("d", -104.0),
            ("\n", -105.0),
            ("cd", -5.0),
            ("ab", -5.0),
            ("\u{2581}a", -1.0),
            ("abcd", -2.0),
            ("bc", -3.0),
            ("abc", -4.0),
            ("\u{2581}ab", -6.0),
            ("d\u{2581}", -0.5),
            ("\u{2581}\u{2581}", -7.0),
        ];
        for (p, s) in pieces {
            tokens.push(p.into());
            scores.push(s);
            types.push(token_type::NORMAL);
        }
        GgufVocab {
            kind: VocabKind::SentencePiece,
            pre: Some("default".into()),
            tokens,
            scores,
            types,
            merges: Vec::new(),
            special: SpecialIds { bos: Some(2), eos: Some(1), pad: Some(0), unk: Some(3) },
            add_bos: true,
            add_eos: false,
            add_space_prefix: false,
            chat_template: None,
        }
    }

    /// Writes `v` as sinkquant's export does and reads it back.
    fn through_hf(v: &GgufVocab, arch: &str) -> GgufVocab {
        let tj = hf_json::tokenizer_json(v).unwrap();
        let tc = hf_json::tokenizer_config_json(v, 4096);
        let d = hf_dir(&[("tokenizer.json", &tj), ("tokenizer_config.json", &tc)]);
        GgufVocab::from_hf_dir(d.path(), arch).unwrap()
    }

    fn assert_same_vocab(got: &GgufVocab, want: &GgufVocab) {
        assert_eq!(got.kind, want.kind);
        assert_eq!(got.pre, want.pre);
        assert_eq!(got.tokens, want.tokens);
        assert_eq!(got.types, want.types);
        assert_eq!(got.merges, want.merges);
        assert_eq!(got.special, want.special);
        assert_eq!(
            (got.add_bos, got.add_eos, got.add_space_prefix),
            (want.add_bos, want.add_eos, want.add_space_prefix)
        );
        assert_eq!(got.chat_template, want.chat_template);
    }

    fn load(v: &GgufVocab) -> Tokenizer {
        Tokenizer::from_str(&hf_json::tokenizer_json(v).unwrap().to_string()).unwrap()
    }

    #[test]
    fn exported_byte_level_vocabularies_come_back() {
        for pre in ["gpt-2", "smollm", "qwen2", "llama-bpe"] {
            let v = gpt2_vocab(pre);
            assert_same_vocab(&through_hf(&v, "llama"), &v);
        }
    }

    #[test]
    fn exported_sentencepiece_vocabulary_tokenizes_the_same() {
        let v = spm_vocab();
        let got = through_hf(&v, "gemma3");
        assert_same_vocab(&got, &v);
        let (want, have) = (load(&v), load(&got));
        for text in ["abcd ab cd abc", " abcd\n\nbcd  a", "dab cab d ab", "x\u{e9}abcd\u{1F600}"] {
            let w = want.encode(text, true).unwrap();
            assert_eq!(have.encode(text, true).unwrap().get_ids(), w.get_ids(), "{text:?}");
            assert!(w.get_ids().len() > 3);
        }
        let (a, b) = (hf_json::tokenizer_json(&v).unwrap(), hf_json::tokenizer_json(&got).unwrap());
        assert_eq!(a["model"]["merges"], b["model"]["merges"]);
    }

    /// GGUF bytes holding only `metadata` (no tensors).
    fn gguf_bytes(metadata: &[(String, MetaValue)]) -> Vec<u8> {
        fn string(b: &mut Vec<u8>, s: &str) {
            b.extend((s.len() as u64).to_le_bytes());
            b.extend(s.as_bytes());
        }
        fn value(b: &mut Vec<u8>, v: &MetaValue) {
            match v {
                MetaValue::U32(x) => b.extend(x.to_le_bytes()),
                MetaValue::I32(x) => b.extend(x.to_le_bytes()),
                MetaValue::F32(x) => b.extend(x.to_le_bytes()),
                MetaValue::Bool(x) => b.push(*x as u8),
                MetaValue::String(s) => string(b, s),
                MetaValue::Array(t, items) => {
                    b.extend(t.to_le_bytes());
                    b.extend((items.len() as u64).to_le_bytes());
                    items.iter().for_each(|i| value(b, i));
                }
                other => panic!("to_metadata wrote {other:?}"),
            }
        }
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend((metadata.len() as u64).to_le_bytes());
        for (k, v) in metadata {
            string(&mut b, k);
            b.extend(v.type_id().to_le_bytes());
            value(&mut b, v);
        }
        b.resize(b.len().div_ceil(32) * 32, 0);
        b
    }

    #[test]
    fn metadata_holds_what_llama_cpp_reads() {
        let v = spm_vocab();
        let m = v.to_metadata();
        let get = |m: &[(String, MetaValue)], k: &str| m.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get(&m, "tokenizer.ggml.model"), Some(MetaValue::String("llama".into())));
        assert_eq!(get(&m, "tokenizer.ggml.pre"), Some(MetaValue::String("default".into())));
        assert!(
            matches!(get(&m, "tokenizer.ggml.tokens"), Some(MetaValue::Array(type_id::STRING, t)) if t.len() == 276)
        );
        assert!(matches!(get(&m, "tokenizer.ggml.scores"), Some(MetaValue::Array(type_id::F32, _))));
        assert!(matches!(get(&m, "tokenizer.ggml.token_type"), Some(MetaValue::Array(type_id::I32, _))));
        assert_eq!(get(&m, "tokenizer.ggml.merges"), None);
        assert_eq!(get(&m, "tokenizer.ggml.bos_token_id"), Some(MetaValue::U32(2)));
        assert_eq!(get(&m, "tokenizer.ggml.unknown_token_id"), Some(MetaValue::U32(3)));
        assert_eq!(get(&m, "tokenizer.ggml.padding_token_id"), Some(MetaValue::U32(0)));
        assert_eq!(get(&m, "tokenizer.ggml.add_bos_token"), Some(MetaValue::Bool(true)));
        assert_eq!(get(&m, "tokenizer.ggml.add_space_prefix"), Some(MetaValue::Bool(false)));
        assert_eq!(get(&m, "tokenizer.chat_template"), None);

        let mut b = gpt2_vocab("qwen2");
        b.pre = None;
        let m = b.to_metadata();
        assert_eq!(get(&m, "tokenizer.ggml.model"), Some(MetaValue::String("gpt2".into())));
        assert_eq!(get(&m, "tokenizer.ggml.pre"), Some(MetaValue::String("default".into())));
        assert_eq!(get(&m, "tokenizer.ggml.scores"), None);
        assert!(matches!(get(&m, "tokenizer.ggml.merges"), Some(MetaValue::Array(type_id::STRING, t)) if t.len() == 6));
        assert_eq!(get(&m, "tokenizer.ggml.unknown_token_id"), None);
        assert_eq!(get(&m, "tokenizer.chat_template"), Some(MetaValue::String("{{ m }}".into())));
        assert!(m.iter().all(|(k, _)| k.starts_with("tokenizer.")));

        // Written to a GGUF and read back, the metadata gives the same vocabulary.
        let dir = tempfile::tempdir().unwrap();
        for v in [spm_vocab(), gpt2_vocab("smollm")] {
            let path = dir.path().join("t.gguf");
            std::fs::write(&path, gguf_bytes(&v.to_metadata())).unwrap();
            let g = crate::io::gguf::GgufFile::open(&path).unwrap();
            let back = GgufVocab::from_gguf(&g).unwrap();
            assert_same_vocab(&back, &v);
            assert_eq!(back.scores, v.scores);
        }
    }
}
