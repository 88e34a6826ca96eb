//! The three real models (SmolLM2-135M, Gemma-3-270M, Qwen2.5-Coder-0.5B), fetched by
//! scripts/fetch-models.sh (scripts/test.sh runs it first). Missing models fail the tests with
//! a hint instead of skipping them.

use crate::util::*;
use sinkquant::model::Model;
use std::path::PathBuf;

pub fn models_dir() -> PathBuf {
    std::env::var_os("SINKQUANT_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"))
}

pub fn real_gguf(name: &str) -> PathBuf {
    let p = models_dir().join("gguf").join(format!("{name}.gguf"));
    assert!(p.is_file(), "{} is missing: run scripts/fetch-models.sh (or set SINKQUANT_MODELS)", p.display());
    p
}

/// name, architecture, layers, d_model, heads, kv heads, vocab, tied, parameters
const REAL: [(&str, &str, usize, usize, usize, usize, usize, bool, u64); 3] = [
    ("smollm2-135m", "llama", 30, 576, 9, 3, 49152, true, 134_515_008),
    ("gemma3-270m", "gemma3", 18, 640, 4, 1, 262144, true, 268_098_176),
    ("qwen2.5-coder-0.5b", "qwen2", 24, 896, 14, 2, 151936, false, 630_167_424),
];

#[test]
fn real_models_are_described() {
    for (name, arch, layers, d, heads, kv, vocab, tied, params) in REAL {
        let m = Model::open(real_gguf(name)).unwrap();
        let hp = &m.hparams;
        assert_eq!(
            (hp.arch.name(), hp.n_layers, hp.d_model, hp.n_heads, hp.n_kv_heads, hp.vocab_size, hp.tied_embeddings),
            (arch, layers, d, heads, kv, vocab, tied),
            "{name}"
        );
        assert_eq!(m.size().0, params, "{name} parameters");
        assert!(m.unrecognised.is_empty(), "{name}: {:?}", m.unrecognised);
    }
}

#[test]
fn real_models_export_and_reload() {
    let dir = tempdir();
    for (name, ..) in REAL {
        let src = real_gguf(name);
        let out = dir.path().join(name);
        let o = quantize(&["export", src.to_str().unwrap(), out.to_str().unwrap()]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let g = Model::open(&src).unwrap();
        let hf = Model::open(&out).unwrap();
        assert_eq!(hf.hparams, g.hparams, "{name}: config.json round trip");
        for (role, _) in g.roles() {
            if g.hparams.tied_embeddings && role == sinkquant::model::Role::Output {
                continue;
            }
            let want: Vec<f32> =
                g.read_canonical(role).unwrap().1.into_iter().map(|x| half::f16::from_f32(x).to_f32()).collect();
            let got = hf.read_canonical(role).unwrap().1;
            assert!(want == got, "{name} {role}: exported F16 differs from the GGUF's dequantized values");
        }
        // The rebuilt tokenizer loads and round-trips real text.
        let tok = tokenizers::Tokenizer::from_file(out.join("tokenizer.json")).unwrap();
        let text = std::fs::read_to_string(models_dir().join("text/wiki.utf8")).unwrap();
        let sample: String = text.chars().take(20_000).collect();
        let enc = tok.encode(sample.as_str(), false).unwrap();
        assert!(enc.get_ids().len() > 3000, "{name}: {} tokens", enc.get_ids().len());
        assert_eq!(tok.decode(enc.get_ids(), false).unwrap(), sample, "{name}: decode(encode(x)) != x");
        std::fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn prefix_tokenization_equals_whole_text_tokenization() {
    let text = std::fs::read_to_string(models_dir().join("text/wiki.utf8")).unwrap();
    for name in ["smollm2-135m", "gemma3-270m"] {
        let m = Model::open(real_gguf(name)).unwrap();
        let tok = sinkquant::tokenizer::text::TextTokenizer::for_model(&m).unwrap();
        let whole = tok.encode(&text).unwrap();
        let prefix = tok.encode_at_least(&text, Some(8 * 512)).unwrap();
        assert_eq!(prefix.len(), 8 * 512);
        assert_eq!(prefix[..], whole[..8 * 512], "{name}");
    }
}
