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

use super::vocab::{token_type, GgufVocab, VocabKind};
use crate::io::gguf::value::{type_id, MetaValue};
use crate::model::SpecialIds;
use crate::tokenizer::TokenizerError;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

pub(super) mod lean;
mod pre;
mod special;
mod spm_model;
mod tokens;

use pre::*;
use special::*;
use tokens::*;

/// Ids a vocabulary may leave unused (filled with `[PAD{id}]`) before it is taken for a bad
/// file rather than a vocabulary (and before anything is allocated for it).
const MAX_HOLES: usize = 1 << 20;

const SPACE_MARK: &str = "\u{2581}";

/// The files of a Hugging Face directory the vocabulary is read from.
struct HfFiles {
    tokenizer: lean::TokenizerFile,
    tokenizer_config: Option<Value>,
    special_tokens_map: Option<Value>,
    config: Option<Value>,
    generation_config: Option<Value>,
    /// `chat_template.jinja`, else `chat_template.json`'s `chat_template`.
    chat_template_file: Option<String>,
}

/// What reading a file of the directory gives.
type Read<T> = Result<T, TokenizerError>;

fn read_text(dir: &Path, name: &str) -> Read<Option<String>> {
    let path = dir.join(name);
    if !path.is_file() {
        return Ok(None);
    }
    std::fs::read_to_string(&path).map(Some).map_err(|e| TokenizerError(format!("cannot read {name}: {e}")))
}

fn read_json(dir: &Path, name: &str) -> Result<Option<Value>, TokenizerError> {
    match read_text(dir, name)? {
        None => Ok(None),
        Some(text) => {
            serde_json::from_str(&text).map(Some).map_err(|e| TokenizerError(format!("{name} is not valid JSON: {e}")))
        }
    }
}

/// The `tokenizer.json` text of a Hugging Face directory, or the one a SentencePiece
/// `tokenizer.model` stands for when the directory has only that (BOS prepended as
/// `tokenizer_config.json`'s `add_bos_token` says, by default).
pub fn tokenizer_text(dir: &Path) -> Result<String, TokenizerError> {
    if let Some(t) = read_text(dir, "tokenizer.json")? {
        return Ok(t);
    }
    let path = dir.join("tokenizer.model");
    if !path.is_file() {
        return Err("no tokenizer.json or tokenizer.model".into());
    }
    let bytes = std::fs::read(&path).map_err(|e| TokenizerError(format!("cannot read tokenizer.model: {e}")))?;
    let tc = read_json(dir, "tokenizer_config.json")?;
    let tc = tc.as_ref();
    let add_bos = tc.and_then(|c| c.get("add_bos_token")).and_then(Value::as_bool).unwrap_or(true);
    let bos = tc.and_then(|c| named_token(c.get("bos_token"))).filter(|_| add_bos);
    let tree = spm_model::tokenizer_json(&bytes, bos.or(add_bos.then_some("<s>")))?;
    Ok(serde_json::to_string(&tree).expect("JSON values serialize"))
}

impl GgufVocab {
    /// The vocabulary of a Hugging Face model directory (`tokenizer.json`, with
    /// `tokenizer_config.json`, `special_tokens_map.json`, `config.json`,
    /// `generation_config.json` and `chat_template.jinja` when present). `arch` is the GGUF
    /// architecture name (`gemma3` never adds a space prefix, as convert_hf_to_gguf.py writes).
    /// Anything missing or malformed is `Error::Corrupt` naming the directory.
    pub fn from_hf_dir(dir: &Path, arch: &str) -> crate::error::Result<GgufVocab> {
        Self::read_hf_dir(dir, arch).map_err(|e| crate::error::Error::corrupt(dir, e.0))
    }

    fn read_hf_dir(dir: &Path, arch: &str) -> Result<GgufVocab, TokenizerError> {
        let tokenizer = lean::parse(&tokenizer_text(dir)?)
            .map_err(|e| TokenizerError(format!("tokenizer.json is not valid JSON: {e}")))?;
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

fn from_hf_files(f: &HfFiles, arch: &str) -> Result<GgufVocab, TokenizerError> {
    let tj = &f.tokenizer.tree;
    let tc = f.tokenizer_config.as_ref();
    let model = tj.get("model").filter(|m| m.is_object()).ok_or("tokenizer.json has no model object")?;
    // A model without a type is BPE when it has merges (the lean read keeps an array of them
    // out of the tree).
    let has_merges = f.tokenizer.merges.is_some() || model.get("merges").is_some();
    let model_type = model.get("type").and_then(Value::as_str).unwrap_or(if has_merges { "BPE" } else { "(none)" });
    if model_type != "BPE" {
        return Err(TokenizerError(format!("unsupported tokenizer.json model type {model_type:?} (supported: BPE)")));
    }
    let (kind, pre, add_space_prefix) = detect_kind(tj, model, arch)?;
    let spm = kind == VocabKind::SentencePiece;

    let Slots { tokens, holes, added_control, added } = token_slots(&f.tokenizer, tc, f.config.as_ref())?;
    let n = tokens.len();
    let mut index: HashMap<&str, u32> = HashMap::with_capacity(n);
    for (i, t) in tokens.iter().enumerate().rev() {
        index.insert(t, i as u32);
    }
    let lookup = |content: &str| -> Option<u32> {
        added.iter().find(|a| a.content == content).map(|a| a.id as u32).or_else(|| index.get(content).copied())
    };

    let mut special = special_ids(f, model, n, &lookup);
    let (add_bos, add_eos) = bos_eos(f, &mut special, &tokens, spm, &lookup);
    let chat_template = chat_template(tc, f.chat_template_file.as_ref());
    let types = token_types(&tokens, &holes, &added_control, spm, special.unk);
    let (scores, merges) = scores_and_merges(&f.tokenizer, &index, n, spm)?;

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

/// Special ids: named tokens (tokenizer_config.json, special_tokens_map.json), then the ids
/// in config.json and generation_config.json.
fn special_ids(f: &HfFiles, model: &Value, n: usize, lookup: &dyn Fn(&str) -> Option<u32>) -> SpecialIds {
    let tc = f.tokenizer_config.as_ref();
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
    SpecialIds {
        bos: named("bos_token").or_else(|| numbered("bos_token_id")),
        eos: named("eos_token").or_else(|| numbered("eos_token_id")),
        pad: named("pad_token").or_else(|| numbered("pad_token_id")),
        unk: named("unk_token").or(model_unk).or_else(|| numbered("unk_token_id")),
    }
}

/// add_bos / add_eos: tokenizer_config.json, else the template of the post-processor (which
/// also names BOS and EOS when nothing else did).
fn bos_eos(
    f: &HfFiles,
    special: &mut SpecialIds,
    tokens: &[String],
    spm: bool,
    lookup: &dyn Fn(&str) -> Option<u32>,
) -> (bool, bool) {
    let tc = f.tokenizer_config.as_ref();
    let template = f
        .tokenizer
        .tree
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
    (add_bos, add_eos)
}

/// llama.cpp's token type of each id.
fn token_types(
    tokens: &[String],
    holes: &[bool],
    added_control: &[Option<bool>],
    spm: bool,
    unk: Option<u32>,
) -> Vec<i32> {
    (0..tokens.len())
        .map(|i| match added_control[i] {
            Some(true) => token_type::CONTROL,
            Some(false) => token_type::USER_DEFINED,
            None if holes[i] || tokens[i] == format!("[PAD{i}]") => token_type::UNUSED,
            None if spm && is_byte_token(&tokens[i]) => token_type::BYTE,
            None if spm && unk == Some(i as u32) => token_type::UNKNOWN,
            None => token_type::NORMAL,
        })
        .collect()
}

/// The vocabulary's kind, `tokenizer.ggml.pre` and whether a space is prepended, from the
/// tokenizer's pre-tokenizer, decoder and normalizer.
fn detect_kind(tj: &Value, model: &Value, arch: &str) -> Result<(VocabKind, String, bool), TokenizerError> {
    let null = Value::Null;
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
        return Err(TokenizerError(format!(
            "unsupported BPE tokenizer: no ByteLevel pre-tokenizer or decoder and no byte_fallback \
             (pre-tokenizer {}, normalizer {})",
            brief(pre_tokenizer),
            brief(normalizer)
        )));
    };
    Ok((kind, pre, add_space_prefix))
}

/// The tokens in id order (holes filled with `[PAD{id}]`), which ids were holes, which were
/// added tokens (control or not), and the added tokens.
struct Slots {
    tokens: Vec<String>,
    holes: Vec<bool>,
    added_control: Vec<Option<bool>>,
    added: Vec<Added>,
}

fn token_slots(
    file: &lean::TokenizerFile,
    tc: Option<&Value>,
    config: Option<&Value>,
) -> Result<Slots, TokenizerError> {
    // Tokens in id order.
    let vocab = file.vocab.as_ref().ok_or("tokenizer.json model has no vocab object")?;
    let added = added_tokens(&file.tree, tc)?;
    let mut entries: Vec<(&str, u64)> = Vec::with_capacity(vocab.len());
    for (t, id) in vocab {
        let t = t.as_str();
        let id = id.as_u64().ok_or_else(|| format!("tokenizer.json vocab gives {t:?} the id {id}"))?;
        entries.push((t, id));
    }
    let max_id =
        entries.iter().map(|e| e.1).chain(added.iter().map(|a| a.id)).max().ok_or("tokenizer.json has no tokens")?;
    let n = match config_value(config, "vocab_size") {
        None => max_id.saturating_add(1),
        Some(v) => {
            let n = v.as_u64().ok_or_else(|| format!("config.json vocab_size {v} is not a token count"))?;
            if max_id >= n {
                return Err(TokenizerError(format!(
                    "tokenizer.json has token id {max_id} but config.json vocab_size is {n}"
                )));
            }
            n
        }
    };
    let distinct_max = (entries.len() + added.len()) as u64;
    if n > distinct_max.saturating_add(MAX_HOLES as u64) || n > u32::MAX as u64 {
        return Err(TokenizerError(format!("a vocabulary of {n} ids holds only {distinct_max} tokens")));
    }
    let n = n as usize;
    let mut slots: Vec<Option<String>> = vec![None; n];
    for &(t, id) in &entries {
        let slot = &mut slots[id as usize];
        if let Some(other) = slot {
            return Err(TokenizerError(format!("tokenizer.json vocab gives id {id} to both {other:?} and {t:?}")));
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
    Ok(Slots { tokens, holes, added_control, added })
}

/// `tokenizer_config.json`'s chat template (a string, or the one named `default`), else the
/// template file's.
fn chat_template(tc: Option<&Value>, file: Option<&String>) -> Option<String> {
    match tc.and_then(|c| c.get("chat_template")) {
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Array(named)) => named
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
            .and_then(|t| t.get("template").and_then(Value::as_str))
            .map(str::to_owned),
        _ => None,
    }
    .or_else(|| file.cloned())
}

/// Scores and merges: a SentencePiece vocabulary scores each token by the rank of the first
/// merge producing it (no merges kept); byte-level BPE keeps the merges (no scores).
fn scores_and_merges(
    file: &lean::TokenizerFile,
    index: &HashMap<&str, u32>,
    n: usize,
    spm: bool,
) -> Result<(Vec<f32>, Vec<String>), TokenizerError> {
    let items = merge_items(file)?;
    Ok(if spm {
        // The token each merge produces scores minus its first rank; the rest score lower.
        let mut rank: Vec<Option<usize>> = vec![None; n];
        let mut joined = String::new();
        for (r, m) in items.iter().enumerate() {
            let (a, b) = merge_pair(r, m)?;
            joined.clear();
            joined.push_str(a);
            joined.push_str(b);
            if let Some(&id) = index.get(joined.as_str()) {
                rank[id as usize].get_or_insert(r);
            }
        }
        let scores = rank.iter().enumerate().map(|(i, r)| -(r.unwrap_or(items.len() + i) as f32)).collect();
        (scores, Vec::new())
    } else {
        if items.is_empty() {
            return Err("byte-level BPE tokenizer.json without merges".into());
        }
        (Vec::new(), merge_strings(items)?)
    })
}

#[cfg(test)]
mod tests;
