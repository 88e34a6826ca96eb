//! Vocabularies written as sinkquant's export writes them and read back; the GGUF metadata
//! llama.cpp reads.

use super::*;

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
