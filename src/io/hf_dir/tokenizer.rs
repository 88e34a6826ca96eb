//! The tokenizer files of a Hugging Face directory: copied from a Hugging Face source, or
//! written from a tokenizer rebuilt from a GGUF's vocabulary (by `crate::tokenizer`).

use super::{CHAT_TEMPLATE, GENERATION_CONFIG, SPECIAL_TOKENS_MAP, TOKENIZER, TOKENIZER_CONFIG};
use crate::error::{Error, Result};
use crate::io::atomic::AtomicDir;
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
/// `tokenizer_config.json` (`config`).
pub fn write_rebuilt_tokenizer(dir: &AtomicDir, json: &str, config: &serde_json::Value) -> Result<()> {
    dir.write_bytes(TOKENIZER, json)?;
    dir.write_json(TOKENIZER_CONFIG, config)
}
