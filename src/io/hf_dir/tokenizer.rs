//! The tokenizer files of a Hugging Face directory: copied from a Hugging Face source, or
//! rebuilt from a GGUF's vocabulary (`crate::tokenizer`).

use super::{CHAT_TEMPLATE, GENERATION_CONFIG, SPECIAL_TOKENS_MAP, TOKENIZER, TOKENIZER_CONFIG};
use crate::error::{Error, Result};
use crate::io::atomic::AtomicDir;
use crate::model::Model;
use crate::tokenizer::{self, hf_json, GgufVocab};
use std::path::Path;

/// Copies the tokenizer files (and `generation_config.json`) that `src` has into `dir`.
pub fn copy_tokenizer_files(src: &Path, dir: &AtomicDir) -> Result<()> {
    for n in [TOKENIZER, TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP, GENERATION_CONFIG, CHAT_TEMPLATE] {
        let from = src.join(n);
        if from.is_file() {
            std::fs::copy(&from, dir.path(n)).map_err(|e| Error::io(&from, e))?;
        }
    }
    Ok(())
}

/// Writes a tokenizer rebuilt from a GGUF vocabulary: `tokenizer.json` (the text `json`) and
/// `tokenizer_config.json` (with `model_max_length`).
pub fn write_rebuilt_tokenizer(dir: &AtomicDir, json: &str, vocab: &GgufVocab, model_max_length: usize) -> Result<()> {
    dir.write_bytes(TOKENIZER, json)?;
    dir.write_json(TOKENIZER_CONFIG, &hf_json::tokenizer_config_json(vocab, model_max_length))
}

/// The tokenizer files of `model`: copied from a Hugging Face source, rebuilt from a GGUF's
/// vocabulary (`vocab`, that GGUF's).
pub fn write_tokenizer(model: &Model, vocab: &GgufVocab, dir: &AtomicDir) -> Result<()> {
    match model.gguf() {
        None => copy_tokenizer_files(&model.path, dir),
        Some(g) => {
            let rebuilt = tokenizer::from_gguf(g)?;
            write_rebuilt_tokenizer(dir, &rebuilt.json, vocab, model.hparams.ctx_len)
        }
    }
}
