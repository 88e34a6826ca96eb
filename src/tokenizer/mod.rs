//! Tokenizers: the vocabulary a GGUF carries, rebuilt as Hugging Face tokenizer files, and the
//! text tokenizer of a model ([`text`]) that calibration and evaluation use.

mod build;
mod from_hf;
pub mod hf_json;
pub mod text;
pub mod vocab;

pub use build::tokenizer_from_text;
pub use from_hf::tokenizer_text;
pub use vocab::GgufVocab;

/// A vocabulary or tokenizer file that cannot be read or rebuilt. The message names the key
/// or field; the public entry points ([`GgufVocab::from_gguf`], [`GgufVocab::from_hf_dir`],
/// [`from_gguf`]) turn it into an [`Error`] naming the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenizerError(pub String);

impl From<String> for TokenizerError {
    fn from(msg: String) -> Self {
        TokenizerError(msg)
    }
}

impl From<&str> for TokenizerError {
    fn from(msg: &str) -> Self {
        TokenizerError(msg.to_string())
    }
}

use crate::error::{Error, Result};
use crate::io::gguf::GgufFile;
use tokenizers::Tokenizer;

/// A GGUF's tokenizer: its vocabulary, the rebuilt `tokenizer.json` text, and that text loaded
/// by the tokenizers library (which also proves it loads).
pub struct Rebuilt {
    pub vocab: GgufVocab,
    pub json: String,
    pub tokenizer: Tokenizer,
}

/// A model's vocabulary in llama.cpp's terms: a GGUF's own, or converted from the
/// `tokenizer.json` of a Hugging Face directory.
pub fn vocab_of(model: &crate::model::Model) -> Result<GgufVocab> {
    match model.gguf() {
        Some(g) => GgufVocab::from_gguf(g),
        None => GgufVocab::from_hf_dir(&model.path, model.arch().gguf_name()),
    }
}

pub fn from_gguf(g: &GgufFile) -> Result<Rebuilt> {
    let vocab = GgufVocab::from_gguf(g)?;
    // The JSON tree (large for 262K-token vocabularies) lives only inside this block.
    let json = {
        let tree = hf_json::tokenizer_json(&vocab).map_err(|e| Error::unsupported(g.path(), e.0))?;
        serde_json::to_string(&tree).expect("JSON values serialize")
    };
    let tokenizer = build::tokenizer_from_text(&json)
        .map_err(|e| Error::Invalid(format!("{}: rebuilt tokenizer does not load: {e}", g.path().display())))?;
    Ok(Rebuilt { vocab, json, tokenizer })
}

/// Writes the tokenizer files of `model` into `dir`: copied from a Hugging Face source, or
/// rebuilt from a GGUF's vocabulary (`vocab`, that GGUF's).
pub fn write_files(model: &crate::model::Model, vocab: &GgufVocab, dir: &crate::io::atomic::AtomicDir) -> Result<()> {
    match model.gguf() {
        None => crate::io::hf_dir::copy_tokenizer_files(&model.path, dir),
        Some(g) => {
            let rebuilt = from_gguf(g)?;
            let config = hf_json::tokenizer_config_json(vocab, model.hparams.ctx_len);
            crate::io::hf_dir::write_rebuilt_tokenizer(dir, &rebuilt.json, &config)
        }
    }
}
