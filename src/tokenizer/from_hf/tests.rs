//! Conversions of Hugging Face tokenizer folders checked against the tokenizers library and llama.cpp's conventions.

use super::*;
use crate::tokenizer::hf_json::{self, LLAMA3_REGEX, QWEN2_REGEX};
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
        let e = GgufVocab::from_hf_dir(d.path(), "qwen2").unwrap_err().to_string();
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
    let metaspace = json!({"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "first", "split": false});
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
        let e = GgufVocab::from_hf_dir(d.path(), "llama").unwrap_err().to_string();
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
fn a_model_without_a_type_is_bpe_when_it_has_merges() {
    let mut tj = bpe_json(byte_level(true), json!(["a b"]));
    tj["model"].as_object_mut().unwrap().remove("type");
    let d = hf_dir(&[("tokenizer.json", &tj)]);
    assert_eq!(GgufVocab::from_hf_dir(d.path(), "llama").unwrap().merges, ["a b"]);
    tj["model"].as_object_mut().unwrap().remove("merges");
    write(d.path(), "tokenizer.json", &tj);
    assert!(GgufVocab::from_hf_dir(d.path(), "llama").unwrap_err().to_string().contains("model type \"(none)\""));
}

#[test]
fn bad_files_are_errors() {
    let empty = tempfile::tempdir().unwrap();
    assert!(GgufVocab::from_hf_dir(empty.path(), "llama").unwrap_err().to_string().contains("no tokenizer.json"));
    std::fs::write(empty.path().join("tokenizer.json"), "{not json").unwrap();
    assert!(GgufVocab::from_hf_dir(empty.path(), "llama").unwrap_err().to_string().contains("not valid JSON"));

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
        let e = GgufVocab::from_hf_dir(d.path(), "llama").unwrap_err().to_string();
        assert!(e.contains(needle), "{needle:?} not in {e:?}");
    }
}

mod roundtrip;
