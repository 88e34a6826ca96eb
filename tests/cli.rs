//! The command line: inspect output, JSON, help.

use crate::util::*;

#[test]
fn inspect_text_and_json() {
    let dir = tempdir();
    let p = tiny_model("qwen2").write(&dir.path().join("q.gguf"));
    let o = quantize(&["inspect", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("architecture:  qwen2"), "{text}");
    assert!(text.contains("blk.1.attn_q.bias"), "{text}");
    let o = quantize(&["inspect", p.to_str().unwrap(), "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["architecture"], "qwen2");
    assert_eq!(j["hparams"]["n_layers"], 2);
    let params: u64 = j["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).product::<u64>())
        .sum();
    assert_eq!(j["parameters"], params);
    assert_eq!(j["bits_per_weight"], 32.0, "all tensors are F32");
    assert_eq!(j["metadata"]["general.architecture"], "qwen2");
}

#[test]
fn help_explains_commands() {
    let o = quantize(&["--help"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("inspect") && text.contains("export"), "{text}");
    let o = quantize(&["export", "--help"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("--dtype") && text.contains("permutation"), "{text}");
}
