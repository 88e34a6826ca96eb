//! The tokenizer a GGUF carries (`tokenizer.ggml.*` metadata), as plain data.

use super::TokenizerError;
use crate::error::{Error, Result};
use crate::io::gguf::GgufFile;
use crate::model::SpecialIds;

/// llama.cpp's token types (`enum llama_token_type`).
pub mod token_type {
    pub const NORMAL: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const CONTROL: i32 = 3;
    pub const USER_DEFINED: i32 = 4;
    pub const UNUSED: i32 = 5;
    pub const BYTE: i32 = 6;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VocabKind {
    /// `gpt2`: byte-level BPE with merges (SmolLM2, Qwen2.5, Llama 3).
    BytePairGpt2,
    /// `llama`: SentencePiece-style vocabulary with scores and byte fallback (Gemma).
    SentencePiece,
}

#[derive(Clone, Debug)]
pub struct GgufVocab {
    pub kind: VocabKind,
    /// `tokenizer.ggml.pre`: selects the pre-tokenizer regexes of byte-level BPE.
    pub pre: Option<String>,
    pub tokens: Vec<String>,
    pub scores: Vec<f32>,
    pub types: Vec<i32>,
    pub merges: Vec<String>,
    pub special: SpecialIds,
    pub add_bos: bool,
    pub add_eos: bool,
    pub add_space_prefix: bool,
    pub chat_template: Option<String>,
}

impl GgufVocab {
    /// The vocabulary of a GGUF's `tokenizer.ggml.*` metadata; anything missing or malformed is
    /// `Error::Unsupported` naming the file.
    pub fn from_gguf(g: &GgufFile) -> Result<Self> {
        Self::read_gguf(g).map_err(|e| Error::unsupported(g.path(), e.0))
    }

    fn read_gguf(g: &GgufFile) -> std::result::Result<Self, TokenizerError> {
        let model = g.get("tokenizer.ggml.model").and_then(|v| v.as_str()).ok_or("no tokenizer.ggml.model metadata")?;
        let kind = match model {
            "gpt2" => VocabKind::BytePairGpt2,
            "llama" => VocabKind::SentencePiece,
            other => {
                return Err(TokenizerError(format!("unsupported tokenizer model {other:?} (supported: gpt2, llama)")))
            }
        };
        let tokens = gguf_strings(g, "tokenizer.ggml.tokens")?;
        if tokens.is_empty() {
            return Err("tokenizer.ggml.tokens is missing or empty".into());
        }
        let scores: Vec<f32> =
            gguf_numbers(g, "tokenizer.ggml.scores", tokens.len())?.into_iter().map(|x| x as f32).collect();
        let mut types: Vec<i32> =
            gguf_numbers(g, "tokenizer.ggml.token_type", tokens.len())?.into_iter().map(|x| x as i32).collect();
        if types.is_empty() {
            types = vec![token_type::NORMAL; tokens.len()];
        }
        let merges = gguf_strings(g, "tokenizer.ggml.merges")?;
        if kind == VocabKind::BytePairGpt2 && merges.is_empty() {
            return Err("byte-level BPE vocabulary without tokenizer.ggml.merges".into());
        }
        if kind == VocabKind::SentencePiece && scores.is_empty() {
            return Err("SentencePiece vocabulary without tokenizer.ggml.scores".into());
        }
        let id = |key: &str| -> Result<Option<u32>, TokenizerError> {
            match g.get(key).map(|v| v.as_i64()) {
                None => Ok(None),
                Some(Some(i)) if i >= 0 && (i as usize) < tokens.len() => Ok(Some(i as u32)),
                Some(_) => Err(TokenizerError(format!("{key} is not a token id below {}", tokens.len()))),
            }
        };
        let flag = |key: &str, default: bool| g.get(key).and_then(|v| v.as_bool()).unwrap_or(default);
        let spm = kind == VocabKind::SentencePiece;
        Ok(GgufVocab {
            pre: g.get("tokenizer.ggml.pre").and_then(|v| v.as_str()).map(str::to_owned),
            special: SpecialIds {
                bos: id("tokenizer.ggml.bos_token_id")?,
                eos: id("tokenizer.ggml.eos_token_id")?,
                pad: id("tokenizer.ggml.padding_token_id")?,
                unk: id("tokenizer.ggml.unknown_token_id")?,
            },
            // llama.cpp's defaults: SPM vocabularies add BOS and a space prefix, BPE ones do not.
            add_bos: flag("tokenizer.ggml.add_bos_token", spm),
            add_eos: flag("tokenizer.ggml.add_eos_token", false),
            add_space_prefix: flag("tokenizer.ggml.add_space_prefix", spm),
            chat_template: g.get("tokenizer.chat_template").and_then(|v| v.as_str()).map(str::to_owned),
            kind,
            tokens,
            scores,
            types,
            merges,
        })
    }

    pub fn token(&self, id: Option<u32>) -> Option<&str> {
        id.and_then(|i| self.tokens.get(i as usize)).map(String::as_str)
    }
}

/// The strings of a GGUF array.
type Strings = Vec<String>;

/// The strings of an array key (empty when the key is absent).
fn gguf_strings(g: &GgufFile, key: &str) -> std::result::Result<Strings, TokenizerError> {
    match g.get(key) {
        None => Ok(Vec::new()),
        Some(v) => v
            .as_array()
            .ok_or(format!("{key} is not an array"))?
            .iter()
            .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| TokenizerError(format!("{key} holds a non-string"))))
            .collect(),
    }
}

/// The numbers of an array key with one entry per token (empty when the key is absent).
fn gguf_numbers(g: &GgufFile, key: &str, n_tokens: usize) -> std::result::Result<Vec<f64>, TokenizerError> {
    let Some(v) = g.get(key) else { return Ok(Vec::new()) };
    let items = v.as_array().ok_or(format!("{key} is not an array"))?;
    if items.len() != n_tokens {
        return Err(TokenizerError(format!("{key} has {} entries for {n_tokens} tokens", items.len())));
    }
    items.iter().map(|x| x.as_f64().ok_or_else(|| TokenizerError(format!("{key} holds a non-number")))).collect()
}
