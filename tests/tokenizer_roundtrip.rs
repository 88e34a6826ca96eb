//! The vocabularies of the three real models recovered from the Hugging Face directories
//! exported from them (models/hf/, by `quantize export`) equal what their GGUFs hold, and
//! `to_metadata` writes back the GGUFs' own tokenizer metadata. Skipped when models/ lacks
//! the files (scripts/fetch-models.sh fetches them).

use crate::real_models::models_dir;
use sinkquant::io::gguf::{GgufFile, MetaValue};
use sinkquant::tokenizer::vocab::VocabKind;
use sinkquant::tokenizer::{self, hf_json, GgufVocab};
use std::path::PathBuf;
use std::str::FromStr;

const MODELS: [&str; 3] = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"];

/// The model's GGUF and HF directory, or `None` (the model is skipped) when either is missing.
fn real_pair(name: &str) -> Option<(PathBuf, PathBuf)> {
    let root = models_dir();
    let gguf = root.join("gguf").join(format!("{name}.gguf"));
    let hf = root.join("hf").join(name);
    if gguf.is_file() && hf.join("tokenizer.json").is_file() {
        Some((gguf, hf))
    } else {
        eprintln!("skipping {name}: {} or {} is missing", gguf.display(), hf.join("tokenizer.json").display());
        None
    }
}

fn open(name: &str) -> Option<(GgufFile, GgufVocab, GgufVocab)> {
    let (gguf, hf) = real_pair(name)?;
    let g = GgufFile::open(&gguf).unwrap();
    let arch = g.get("general.architecture").and_then(|v| v.as_str()).unwrap().to_owned();
    let want = GgufVocab::from_gguf(&g).unwrap();
    let got = GgufVocab::from_hf_dir(&hf, &arch).unwrap_or_else(|e| panic!("{name}: {e}"));
    Some((g, want, got))
}

/// Equal sequences, or a message naming the first difference (not a dump of 262K tokens).
fn assert_same<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T], what: &str) {
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!("{what}: first difference at {i}: {:?} != {:?}", got[i], want[i]);
    }
    assert_eq!(got.len(), want.len(), "{what}: lengths");
}

#[test]
fn hf_directories_give_the_gguf_vocabularies() {
    for name in MODELS {
        let Some((_g, want, got)) = open(name) else { continue };
        assert_eq!(got.kind, want.kind, "{name}");
        assert_same(&got.tokens, &want.tokens, &format!("{name} tokens"));
        assert_same(&got.types, &want.types, &format!("{name} token types"));
        assert_eq!(got.special, want.special, "{name} special ids");
        assert_eq!(got.pre, want.pre, "{name} pre");
        assert_eq!(
            (got.add_bos, got.add_eos, got.add_space_prefix),
            (want.add_bos, want.add_eos, want.add_space_prefix),
            "{name} add_bos, add_eos, add_space_prefix"
        );
        assert_eq!(got.chat_template, want.chat_template, "{name} chat template");
        if want.kind == VocabKind::BytePairGpt2 {
            assert_same(&got.merges, &want.merges, &format!("{name} merges"));
            assert!(got.scores.is_empty());
            // Nothing llama.cpp reads differs.
            assert!(got.to_metadata() == want.to_metadata(), "{name}: metadata differs");
        }
    }
}

#[test]
fn gemma_vocabulary_from_hf_tokenizes_like_the_gguf() {
    let Some((g, want, got)) = open("gemma3-270m") else { return };
    assert_eq!(got.kind, VocabKind::SentencePiece);
    let text = match std::fs::read_to_string(models_dir().join("text/wiki.utf8")) {
        Ok(t) => t,
        Err(e) => return eprintln!("skipping: models/text/wiki.utf8: {e}"),
    };
    let mut cut = text.len().min(200_000);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let text = &text[..cut];

    let original = tokenizer::from_gguf(&g).unwrap().tokenizer;
    let got_json = hf_json::tokenizer_json(&got).unwrap();
    let recovered = tokenizers::Tokenizer::from_str(&got_json.to_string()).unwrap();
    let want_ids = original.encode(text, true).unwrap().get_ids().to_vec();
    let got_ids = recovered.encode(text, true).unwrap().get_ids().to_vec();
    assert!(want_ids.len() > 30_000, "{} tokens", want_ids.len());
    assert_same(&got_ids, &want_ids, "token ids");
    drop((original, recovered));
    // Scores from merge ranks order the merges exactly as the GGUF's scores do.
    let want_json = hf_json::tokenizer_json(&want).unwrap();
    assert!(got_json["model"]["merges"] == want_json["model"]["merges"], "merges differ");
}

#[test]
fn metadata_of_gguf_vocabularies_reproduces_the_files() {
    for name in MODELS {
        let Some((gguf, _)) = real_pair(name) else { continue };
        let g = GgufFile::open(&gguf).unwrap();
        let ours = GgufVocab::from_gguf(&g).unwrap().to_metadata();
        let spm = g.get("tokenizer.ggml.model").and_then(|v| v.as_str()) == Some("llama");
        for (key, value) in g.metadata().iter().filter(|(k, _)| k.starts_with("tokenizer.")) {
            match ours.iter().find(|(k, _)| k == key) {
                Some((_, v)) => assert!(
                    v == value,
                    "{name}: {key} = {v} (type {}) but the file holds {value} (type {})",
                    v.type_id(),
                    value.type_id()
                ),
                // The one key llama.cpp reads that GgufVocab does not keep: BERT's separator.
                None => assert_eq!(key, "tokenizer.ggml.add_sep_token", "{name}: {key} is not written"),
            }
        }
        // Keys the file lacks are written with llama.cpp's defaults for them.
        for (key, v) in ours.iter().filter(|(k, _)| g.get(k).is_none()) {
            let default = match key.as_str() {
                "tokenizer.ggml.add_bos_token" | "tokenizer.ggml.add_space_prefix" => MetaValue::Bool(spm),
                "tokenizer.ggml.add_eos_token" => MetaValue::Bool(false),
                _ => panic!("{name}: {key} = {v} is not in the file"),
            };
            assert_eq!(v, &default, "{name}: {key}");
        }
    }
}
