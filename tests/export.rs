//! GGUF -> Hugging Face export on tiny synthetic models of every architecture: the weights come
//! back in HF layout, the config round-trips, the tokenizer loads and tokenizes.

use crate::util::*;
use sinkquant::model::{HParams, LayerTensor, Model, Role};
use std::str::FromStr;

fn export(arch: &str, dtype: &str) -> (tempfile::TempDir, Model, Model) {
    let dir = tempdir();
    let src = tiny_model(arch).write(&dir.path().join(format!("{arch}.gguf")));
    let out = dir.path().join("hf");
    let o = quantize(&["export", src.to_str().unwrap(), out.to_str().unwrap(), "--dtype", dtype]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let g = Model::open(&src).unwrap();
    let hf = Model::open(&out).unwrap();
    (dir, g, hf)
}

#[test]
fn f32_export_is_exact_and_in_hf_layout() {
    for arch in ["llama", "qwen2", "gemma3"] {
        let (_d, g, hf) = export(arch, "f32");
        assert_eq!(hf.hparams, g.hparams, "{arch}: config.json does not round-trip");
        let n = hf.roles().count();
        assert_eq!(n, g.roles().filter(|(r, _)| !(g.hparams.tied_embeddings && *r == Role::Output)).count());
        for (role, _) in hf.roles() {
            assert_eq!(hf.read_canonical(role).unwrap(), g.read_canonical(role).unwrap(), "{arch} {role}");
        }
        // Independently of the conversion code: what the HF tensors must hold.
        let raw = |r: Role| g.store().read_f32(g.tensor(r).unwrap()).unwrap();
        let exported = |r: Role| hf.read_canonical(r).unwrap().1;
        let q = Role::Layer(1, LayerTensor::AttnQ);
        let (d, hd) = (TINY.d, TINY.head_dim);
        if arch == "llama" {
            // convert_hf_to_gguf.py interleaves the two rotary halves of each head's rows.
            let (r, e) = (raw(q), exported(q));
            for h in 0..TINY.heads {
                for i in 0..hd / 2 {
                    let hf_row = h * hd + i;
                    let gguf_row = h * hd + 2 * i;
                    assert_eq!(e[hf_row * d..(hf_row + 1) * d], r[gguf_row * d..(gguf_row + 1) * d]);
                    let hf_row2 = h * hd + hd / 2 + i;
                    assert_eq!(e[hf_row2 * d..(hf_row2 + 1) * d], r[(gguf_row + 1) * d..(gguf_row + 2) * d]);
                }
            }
        } else {
            assert_eq!(raw(q), exported(q), "{arch} does not permute Q");
        }
        let norm = Role::Layer(0, LayerTensor::AttnNorm);
        let offset = if arch == "gemma3" { 1.0 } else { 0.0 };
        let want: Vec<f32> = raw(norm).iter().map(|x| x - offset).collect();
        assert_eq!(exported(norm), want, "{arch} norm offset");
        assert_eq!(hf.tensor(Role::Output).is_some(), arch == "qwen2", "{arch}: lm_head only when untied");
    }
}

#[test]
fn f16_and_bf16_exports_round_to_nearest() {
    for (dtype, round) in [
        ("f16", (|x: f32| half::f16::from_f32(x).to_f32()) as fn(f32) -> f32),
        ("bf16", |x| half::bf16::from_f32(x).to_f32()),
    ] {
        let (_d, g, hf) = export("llama", dtype);
        let role = Role::Layer(0, LayerTensor::FfnDown);
        let want: Vec<f32> = g.read_canonical(role).unwrap().1.into_iter().map(round).collect();
        assert_eq!(hf.read_canonical(role).unwrap().1, want, "{dtype}");
        assert_eq!(hf.tensor(role).unwrap().dtype.to_string(), dtype.to_uppercase());
    }
}

#[test]
fn exported_tokenizers_load_and_tokenize() {
    let (d, _, _) = export("llama", "f16");
    let tok = tokenizers::Tokenizer::from_file(d.path().join("hf/tokenizer.json")).unwrap();
    let enc = tok.encode(" the 42", true).unwrap();
    // "Ġthe" is one merged token; digits are split one by one (llama.cpp's smollm regex).
    assert_eq!(enc.get_tokens(), &["Ġthe", "Ġ", "4", "2"]);
    let enc = tok.encode("<|endoftext|>", true).unwrap();
    assert_eq!(enc.get_ids().len(), 1, "control tokens stay whole");

    let (d, _, _) = export("gemma3", "f16");
    let tok = tokenizers::Tokenizer::from_file(d.path().join("hf/tokenizer.json")).unwrap();
    let enc = tok.encode(" the ~", true).unwrap();
    // BOS added; the highest-scoring merges win; '~' falls back to its byte token.
    assert_eq!(enc.get_tokens(), &["<bos>", "▁the", "▁", "<0x7E>"]);
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("hf/tokenizer_config.json")).unwrap()).unwrap();
    assert_eq!(cfg["bos_token"], "<bos>");
    assert_eq!(cfg["add_bos_token"], true);
    let hp = HParams::from_hf_config(
        &serde_json::Value::from_str(&std::fs::read_to_string(d.path().join("hf/config.json")).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(hp.sliding_window, Some(8));
    assert!(hp.is_sliding(0) && !hp.is_sliding(5));
}

#[test]
fn output_directory_rules() {
    let dir = tempdir();
    let src = tiny_model("llama").write(&dir.path().join("m.gguf"));
    let s = src.to_str().unwrap();
    let out = dir.path().join("hf");
    let o = out.to_str().unwrap();
    assert!(quantize(&["export", s, o]).status.success());
    // An existing directory is not replaced without --force.
    assert_clean_error(&quantize(&["export", s, o]), &["already exists", "--force"]);
    assert!(quantize(&["export", s, o, "--force"]).status.success());
    // An output whose parent is a file cannot be written: clean error, nothing left behind.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let bad = blocker.join("hf");
    assert_clean_error(&quantize(&["export", s, bad.to_str().unwrap()]), &["file/hf"]);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 3, "only m.gguf, hf and file may exist: {names:?}");
    // An unsupported architecture.
    let mut g = tiny_model("llama");
    g.kv[0] = ("general.architecture".into(), ty::STRING, gguf_string("mamba"));
    let p = g.write(&dir.path().join("mamba.gguf"));
    assert_clean_error(
        &quantize(&["export", p.to_str().unwrap(), dir.path().join("m2").to_str().unwrap()]),
        &["mamba.gguf", "unsupported architecture \"mamba\""],
    );
    assert!(!dir.path().join("m2").exists());
}
