use super::*;
use serde_json::json;

/// The same ids, vocabulary and added tokens as the library's own loading.
fn assert_same(text: &str, samples: &[&str]) {
    let (ours, theirs) = (tokenizer_from_text(text).unwrap(), Tokenizer::from_str(text).unwrap());
    assert_eq!(ours.get_vocab_size(true), theirs.get_vocab_size(true));
    assert_eq!(ours.get_added_tokens_decoder(), theirs.get_added_tokens_decoder());
    for s in samples {
        for special in [false, true] {
            let (a, b) = (ours.encode(*s, special).unwrap(), theirs.encode(*s, special).unwrap());
            assert_eq!(a.get_ids(), b.get_ids(), "{s:?}");
        }
    }
}

#[test]
fn the_real_models_tokenize_as_the_library_loads_them() {
    let models = std::env::var("SINKQUANT_MODELS").unwrap_or_else(|_| "models".into());
    let models = std::path::Path::new(&models);
    let wiki = std::fs::read_to_string(models.join("text/wiki.utf8")).expect("run scripts/fetch-models.sh first");
    let wiki: String = wiki.chars().take(20_000).collect();
    let tricky = "<bos>  tabs\tand <|im_start|> ünïcödé 日本語 <start_of_turn>user\n```rust\nfn x() {}\n``` 12345";
    for name in ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"] {
        let text = std::fs::read_to_string(models.join("hf").join(name).join("tokenizer.json")).unwrap();
        assert!(lean_parts(lean::parse(&text).unwrap()).is_some(), "{name} is built from flat lists");
        assert_same(&text, &[&wiki, tricky]);
    }
}

#[test]
fn small_files_of_every_shape_load_as_the_library_loads_them() {
    let base = json!({
        "version": "1.0",
        "added_tokens": [
            {"id": 5, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 6, "content": "xyz", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}
        ],
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null,
        "decoder": null,
        "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": true,
                  "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3, "abb": 4},
                  "merges": ["#version: 0.2", "a b", "ab b"]}
    });
    assert_same(&base.to_string(), &["ab abb ba <s> xyz c", "abab"]);
    let mut pairs = base.clone();
    pairs["model"]["merges"] = json!([["a", "b"], ["ab", "b"]]);
    assert_same(&pairs.to_string(), &["ab abb ba <s> xyz c"]);
    // Shapes left to the library: its result or its error.
    let mut mixed = base.clone();
    mixed["model"]["merges"] = json!([["a", "b"], "ab b"]);
    let mut wide = base.clone();
    wide["model"]["merges"] = json!(["a b c"]);
    let mut unigram = base.clone();
    unigram["model"] = json!({"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", -1.0]]});
    for t in [mixed, wide, unigram] {
        let text = t.to_string();
        assert!(lean::parse(&text).ok().and_then(lean_parts).is_none());
        match (tokenizer_from_text(&text), Tokenizer::from_str(&text)) {
            (Ok(a), Ok(b)) => assert_eq!(a.get_vocab(true), b.get_vocab(true)),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("not the library's outcome for {text}"),
        }
    }
}
