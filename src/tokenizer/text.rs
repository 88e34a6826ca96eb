//! Tokenizing calibration and evaluation text the way llama.cpp's perplexity tool does: the
//! model's own tokenizer, BOS prepended when the model adds one, special-token strings in the
//! text treated as plain text (`parse_special = false`), one trailing newline of the file dropped.

use crate::error::{Error, Result};
use crate::model::{Model, Source};
use std::collections::HashMap;
use std::path::Path;
use tokenizers::Tokenizer;

pub struct TextTokenizer {
    tok: Tokenizer,
    pub bos: Option<u32>,
    pub add_bos: bool,
}

impl TextTokenizer {
    /// The tokenizer of a model: rebuilt from a GGUF's vocabulary, or `tokenizer.json` beside
    /// safetensors weights.
    pub fn for_model(model: &Model) -> Result<Self> {
        let mut tok = match &model.source {
            Source::Gguf(g) => crate::tokenizer::from_gguf(g)?.tokenizer,
            Source::Safetensors(s) => {
                let text = crate::tokenizer::tokenizer_text(&s.dir).map_err(|e| Error::corrupt(&s.dir, e.0))?;
                crate::tokenizer::tokenizer_from_text(&text)
                    .map_err(|e| Error::corrupt(&s.dir, format!("invalid tokenizer: {e}")))?
            }
        };
        // Special-token strings in evaluation text are text, as in llama-perplexity.
        tok.set_encode_special_tokens(true);
        // Whether the model adds BOS: ask the tokenizer's own post-processor.
        let with = tok.encode("a", true).map_err(tok_err)?;
        let without = tok.encode("a", false).map_err(tok_err)?;
        let add_bos = with.get_ids().len() > without.get_ids().len();
        let bos = if add_bos { with.get_ids().first().copied() } else { None };
        Ok(TextTokenizer { tok, bos, add_bos })
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.tok.encode(text, true).map_err(tok_err)?.get_ids().to_vec())
    }

    /// The first tokens of `text`, at least `min_tokens` of them when the text has that many:
    /// only a prefix (cut after a newline) is tokenized, with a margin of 1024 tokens so that
    /// the tokens kept are those the whole text gives (tokenization is local).
    pub fn encode_at_least(&self, text: &str, min_tokens: Option<usize>) -> Result<Vec<u32>> {
        const MARGIN: usize = 1024;
        let Some(min) = min_tokens else { return self.encode(text) };
        let mut len = (min + MARGIN).saturating_mul(8);
        while len < text.len() {
            let cut = text.as_bytes()[len..].iter().position(|&b| b == b'\n').map_or(text.len(), |i| len + i + 1);
            let mut ids = self.encode(&text[..cut])?;
            if ids.len() >= min + MARGIN {
                ids.truncate(min);
                return Ok(ids);
            }
            len = len.saturating_mul(2);
        }
        self.encode(text)
    }

    pub fn token_text(&self, id: u32) -> String {
        self.tok.id_to_token(id).unwrap_or_default()
    }

    /// The text of BOS and of each distinct token of `ids`, to name tokens by once the
    /// tokenizer is dropped (a 262K-token one takes about 290 MiB).
    pub fn texts_of(&self, ids: &[u32]) -> TokenTexts {
        let mut texts = HashMap::new();
        for &id in ids.iter().chain(self.bos.as_slice()) {
            texts.entry(id).or_insert_with(|| self.token_text(id));
        }
        TokenTexts(texts)
    }
}

/// Token texts kept from a tokenizer for the tokens of one text.
pub struct TokenTexts(HashMap<u32, String>);

impl TokenTexts {
    /// The token's text; empty for a token the text did not have.
    pub fn get(&self, id: u32) -> String {
        self.0.get(&id).cloned().unwrap_or_default()
    }
}

fn tok_err(e: tokenizers::Error) -> Error {
    Error::Invalid(format!("tokenizer: {e}"))
}

/// The contents of a text file, checked to be UTF-8 and not empty.
pub type FileText = String;

/// Reads an evaluation or calibration text: UTF-8, not empty, one trailing newline dropped.
pub fn read_text(path: &Path) -> Result<FileText> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut text = String::from_utf8(bytes).map_err(|e| {
        Error::corrupt(path, format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
    })?;
    if text.ends_with('\n') {
        text.pop();
    }
    if text.trim().is_empty() {
        return Err(Error::corrupt(path, "text is empty"));
    }
    Ok(text)
}
