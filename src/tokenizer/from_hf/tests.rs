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
        let e = GgufVocab::from_hf_dir(d.path(), "qwen2").unwrap_err();
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
        let e = GgufVocab::from_hf_dir(d.path(), "llama").unwrap_err();
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
fn bad_files_are_errors() {
    let empty = tempfile::tempdir().unwrap();
    assert!(GgufVocab::from_hf_dir(empty.path(), "llama").unwrap_err().contains("no tokenizer.json"));
    std::fs::write(empty.path().join("tokenizer.json"), "{not json").unwrap();
    assert!(GgufVocab::from_hf_dir(empty.path(), "llama").unwrap_err().contains("not valid JSON"));

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
        let e = GgufVocab::from_hf_dir(d.path(), "llama").unwrap_err();
        assert!(e.contains(needle), "{needle:?} not in {e:?}");
    }
}

/// GPT-2's byte-to-unicode table.
fn gpt2_bytes() -> Vec<String> {
    let mut keep: Vec<u32> = (0x21..=0x7E).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut chars = keep.clone();
    for b in 0..256u32 {
        if !keep.contains(&b) {
            keep.push(b);
            chars.push(256 + chars.len() as u32 - 188);
        }
    }
    let mut table = vec![String::new(); 256];
    for (b, c) in keep.iter().zip(chars) {
        table[*b as usize] = char::from_u32(c).unwrap().to_string();
    }
    table
}

fn gpt2_vocab(pre: &str) -> GgufVocab {
    let mut tokens = gpt2_bytes();
    let merges: Vec<String> =
        ["\u{0120} t", "h e", "\u{0120}t he", "i n", "1 2", "' s"].iter().map(|s| s.to_string()).collect();
    tokens.extend(merges.iter().map(|m| m.replace(' ', "")));
    tokens.extend(["<|endoftext|>", "<tool_call>", "[PAD264]"].map(String::from));
    let mut types = vec![token_type::NORMAL; tokens.len()];
    let n = types.len();
    types[n - 3] = token_type::CONTROL;
    types[n - 2] = token_type::USER_DEFINED;
    types[n - 1] = token_type::UNUSED;
    GgufVocab {
        kind: VocabKind::BytePairGpt2,
        pre: Some(pre.into()),
        scores: Vec::new(),
        types,
        merges,
        special: SpecialIds { bos: Some(262), eos: Some(262), pad: None, unk: None },
        add_bos: false,
        add_eos: false,
        add_space_prefix: false,
        chat_template: Some("{{ m }}".into()),
        tokens,
    }
}

/// A SentencePiece vocabulary like Gemma's: specials, bytes, and pieces whose scores tie
/// and do not follow the ids.
fn spm_vocab() -> GgufVocab {
    let mut tokens: Vec<String> = ["<pad>", "<eos>", "<bos>", "<unk>", "\n\n"].map(String::from).to_vec();
    let mut scores = vec![-1000.0; 5];
    let mut types = vec![token_type::CONTROL, token_type::CONTROL, token_type::CONTROL, token_type::CONTROL];
    types.push(token_type::USER_DEFINED);
    for b in 0..256 {
        tokens.push(format!("<0x{b:02X}>"));
        scores.push(0.0);
        types.push(token_type::BYTE);
    }
    let pieces = [
        ("\u{2581}", -100.0),
        ("a", -101.0),
        ("b", -102.0),
        ("c", -103.0),
        ("d", -104.0),
        ("\n", -105.0),
        ("cd", -5.0),
        ("ab", -5.0),
        ("\u{2581}a", -1.0),
        ("abcd", -2.0),
        ("bc", -3.0),
        ("abc", -4.0),
        ("\u{2581}ab", -6.0),
        ("d\u{2581}", -0.5),
        ("\u{2581}\u{2581}", -7.0),
    ];
    for (p, s) in pieces {
        tokens.push(p.into());
        scores.push(s);
        types.push(token_type::NORMAL);
    }
    GgufVocab {
        kind: VocabKind::SentencePiece,
        pre: Some("default".into()),
        tokens,
        scores,
        types,
        merges: Vec::new(),
        special: SpecialIds { bos: Some(2), eos: Some(1), pad: Some(0), unk: Some(3) },
        add_bos: true,
        add_eos: false,
        add_space_prefix: false,
        chat_template: None,
    }
}

/// Writes `v` as sinkquant's export does and reads it back.
fn through_hf(v: &GgufVocab, arch: &str) -> GgufVocab {
    let tj = hf_json::tokenizer_json(v).unwrap();
    let tc = hf_json::tokenizer_config_json(v, 4096);
    let d = hf_dir(&[("tokenizer.json", &tj), ("tokenizer_config.json", &tc)]);
    GgufVocab::from_hf_dir(d.path(), arch).unwrap()
}

fn assert_same_vocab(got: &GgufVocab, want: &GgufVocab) {
    assert_eq!(got.kind, want.kind);
    assert_eq!(got.pre, want.pre);
    assert_eq!(got.tokens, want.tokens);
    assert_eq!(got.types, want.types);
    assert_eq!(got.merges, want.merges);
    assert_eq!(got.special, want.special);
    assert_eq!((got.add_bos, got.add_eos, got.add_space_prefix), (want.add_bos, want.add_eos, want.add_space_prefix));
    assert_eq!(got.chat_template, want.chat_template);
}

fn load(v: &GgufVocab) -> Tokenizer {
    Tokenizer::from_str(&hf_json::tokenizer_json(v).unwrap().to_string()).unwrap()
}

#[test]
fn exported_byte_level_vocabularies_come_back() {
    for pre in ["gpt-2", "smollm", "qwen2", "llama-bpe"] {
        let v = gpt2_vocab(pre);
        assert_same_vocab(&through_hf(&v, "llama"), &v);
    }
}

#[test]
fn exported_sentencepiece_vocabulary_tokenizes_the_same() {
    let v = spm_vocab();
    let got = through_hf(&v, "gemma3");
    assert_same_vocab(&got, &v);
    let (want, have) = (load(&v), load(&got));
    for text in ["abcd ab cd abc", " abcd\n\nbcd  a", "dab cab d ab", "x\u{e9}abcd\u{1F600}"] {
        let w = want.encode(text, true).unwrap();
        assert_eq!(have.encode(text, true).unwrap().get_ids(), w.get_ids(), "{text:?}");
        assert!(w.get_ids().len() > 3);
    }
    let (a, b) = (hf_json::tokenizer_json(&v).unwrap(), hf_json::tokenizer_json(&got).unwrap());
    assert_eq!(a["model"]["merges"], b["model"]["merges"]);
}

/// GGUF bytes holding only `metadata` (no tensors).
fn gguf_bytes(metadata: &[(String, MetaValue)]) -> Vec<u8> {
    fn string(b: &mut Vec<u8>, s: &str) {
        b.extend((s.len() as u64).to_le_bytes());
        b.extend(s.as_bytes());
    }
    fn value(b: &mut Vec<u8>, v: &MetaValue) {
        match v {
            MetaValue::U32(x) => b.extend(x.to_le_bytes()),
            MetaValue::I32(x) => b.extend(x.to_le_bytes()),
            MetaValue::F32(x) => b.extend(x.to_le_bytes()),
            MetaValue::Bool(x) => b.push(*x as u8),
            MetaValue::String(s) => string(b, s),
            MetaValue::Array(t, items) => {
                b.extend(t.to_le_bytes());
                b.extend((items.len() as u64).to_le_bytes());
                items.iter().for_each(|i| value(b, i));
            }
            other => panic!("to_metadata wrote {other:?}"),
        }
    }
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    b.extend((metadata.len() as u64).to_le_bytes());
    for (k, v) in metadata {
        string(&mut b, k);
        b.extend(v.type_id().to_le_bytes());
        value(&mut b, v);
    }
    b.resize(b.len().div_ceil(32) * 32, 0);
    b
}

#[test]
fn metadata_holds_what_llama_cpp_reads() {
    let v = spm_vocab();
    let m = v.to_metadata();
    let get = |m: &[(String, MetaValue)], k: &str| m.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(get(&m, "tokenizer.ggml.model"), Some(MetaValue::String("llama".into())));
    assert_eq!(get(&m, "tokenizer.ggml.pre"), Some(MetaValue::String("default".into())));
    assert!(matches!(get(&m, "tokenizer.ggml.tokens"), Some(MetaValue::Array(type_id::STRING, t)) if t.len() == 276));
    assert!(matches!(get(&m, "tokenizer.ggml.scores"), Some(MetaValue::Array(type_id::F32, _))));
    assert!(matches!(get(&m, "tokenizer.ggml.token_type"), Some(MetaValue::Array(type_id::I32, _))));
    assert_eq!(get(&m, "tokenizer.ggml.merges"), None);
    assert_eq!(get(&m, "tokenizer.ggml.bos_token_id"), Some(MetaValue::U32(2)));
    assert_eq!(get(&m, "tokenizer.ggml.unknown_token_id"), Some(MetaValue::U32(3)));
    assert_eq!(get(&m, "tokenizer.ggml.padding_token_id"), Some(MetaValue::U32(0)));
    assert_eq!(get(&m, "tokenizer.ggml.add_bos_token"), Some(MetaValue::Bool(true)));
    assert_eq!(get(&m, "tokenizer.ggml.add_space_prefix"), Some(MetaValue::Bool(false)));
    assert_eq!(get(&m, "tokenizer.chat_template"), None);

    let mut b = gpt2_vocab("qwen2");
    b.pre = None;
    let m = b.to_metadata();
    assert_eq!(get(&m, "tokenizer.ggml.model"), Some(MetaValue::String("gpt2".into())));
    assert_eq!(get(&m, "tokenizer.ggml.pre"), Some(MetaValue::String("default".into())));
    assert_eq!(get(&m, "tokenizer.ggml.scores"), None);
    assert!(matches!(get(&m, "tokenizer.ggml.merges"), Some(MetaValue::Array(type_id::STRING, t)) if t.len() == 6));
    assert_eq!(get(&m, "tokenizer.ggml.unknown_token_id"), None);
    assert_eq!(get(&m, "tokenizer.chat_template"), Some(MetaValue::String("{{ m }}".into())));
    assert!(m.iter().all(|(k, _)| k.starts_with("tokenizer.")));

    // Written to a GGUF and read back, the metadata gives the same vocabulary.
    let dir = tempfile::tempdir().unwrap();
    for v in [spm_vocab(), gpt2_vocab("smollm")] {
        let path = dir.path().join("t.gguf");
        std::fs::write(&path, gguf_bytes(&v.to_metadata())).unwrap();
        let g = crate::io::gguf::GgufFile::open(&path).unwrap();
        let back = GgufVocab::from_gguf(&g).unwrap();
        assert_same_vocab(&back, &v);
        assert_eq!(back.scores, v.scores);
    }
}
