//! Tokenizers: the vocabulary a GGUF carries, rebuilt as Hugging Face tokenizer files, and the
//! text tokenizer of a model ([`text`]) that calibration and evaluation use.

mod from_hf;
pub mod hf_json;
pub mod text;
pub mod vocab;

pub use vocab::GgufVocab;

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
        Some(g) => GgufVocab::from_gguf(g).map_err(|m| Error::unsupported(g.path(), m)),
        None => {
            GgufVocab::from_hf_dir(&model.path, model.arch().gguf_name()).map_err(|m| Error::corrupt(&model.path, m))
        }
    }
}

pub fn from_gguf(g: &GgufFile) -> Result<Rebuilt> {
    let vocab = GgufVocab::from_gguf(g).map_err(|m| Error::unsupported(g.path(), m))?;
    // The JSON tree (large for 262K-token vocabularies) lives only inside this block.
    let json = {
        let tree = hf_json::tokenizer_json(&vocab).map_err(|m| Error::unsupported(g.path(), m))?;
        serde_json::to_string(&tree).expect("JSON values serialize")
    };
    let tokenizer = <Tokenizer as std::str::FromStr>::from_str(&json)
        .map_err(|e| Error::Invalid(format!("{}: rebuilt tokenizer does not load: {e}", g.path().display())))?;
    Ok(Rebuilt { vocab, json, tokenizer })
}
