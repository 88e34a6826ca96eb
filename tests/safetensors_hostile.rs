//! Hostile safetensors files and Hugging Face directories.

use crate::util::*;
use sinkquant::io::safetensors::SafetensorsModel;
use sinkquant::model::Model;
use std::path::Path;

fn st_bytes(header: &str, data_len: usize) -> Vec<u8> {
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend(header.as_bytes());
    b.resize(b.len() + data_len, 0);
    b
}

fn open_err(path: &Path) -> String {
    match SafetensorsModel::open(path) {
        Ok(_) => panic!("hostile file {} was accepted", path.display()),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{msg}");
            msg
        }
    }
}

#[test]
fn hostile_headers() {
    let dir = tempdir();
    let p = dir.path().join("x.safetensors");
    let ok = r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
    std::fs::write(&p, st_bytes(ok, 16)).unwrap();
    let m = SafetensorsModel::open(&p).unwrap();
    assert_eq!(m.store.get("w").unwrap().shape, vec![2, 2]);

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (u64::MAX.to_le_bytes().to_vec(), "header too large"),
        (st_bytes(ok, 8), "invalid safetensors file"),
        (
            st_bytes(r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,99999999999]}}"#, 16),
            "invalid safetensors file",
        ),
        (st_bytes(r#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#, 16), "invalid"),
        (st_bytes(r#"{"w":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}}"#, 8), "invalid"),
        (st_bytes("{not json", 0), "invalid"),
        (vec![1, 2, 3], "invalid"),
    ];
    for (bytes, want) in cases {
        std::fs::write(&p, bytes).unwrap();
        let msg = open_err(&p);
        assert!(msg.contains("x.safetensors") && msg.contains(want), "{msg}");
    }
}

#[test]
fn hostile_sharded_directories() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(
        d.join("model.safetensors.index.json"),
        r#"{"weight_map":{"w":"model-00001-of-00002.safetensors"}}"#,
    )
    .unwrap();
    let msg = open_err(d);
    assert!(msg.contains("model-00001-of-00002.safetensors"), "{msg}");
    std::fs::write(d.join("model.safetensors.index.json"), r#"{"weight_map":{"w":"../../etc/passwd"}}"#).unwrap();
    assert!(open_err(d).contains("not a plain file name"));
    std::fs::write(d.join("model.safetensors.index.json"), r#"{"weights":{}}"#).unwrap();
    assert!(open_err(d).contains("weight_map"));
    let empty = tempdir();
    assert!(open_err(empty.path()).contains("no .safetensors file"));
}

#[test]
fn sharded_directory_reads_all_shards() {
    let dir = tempdir();
    let d = dir.path();
    let a = r#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
    let b = r#"{"b":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#;
    let mut fa = st_bytes(a, 0);
    fa.extend(half::f16::from_f32(1.5).to_le_bytes());
    fa.extend(half::f16::from_f32(-2.0).to_le_bytes());
    let mut fb = st_bytes(b, 0);
    fb.extend(half::bf16::from_f32(3.0).to_le_bytes());
    std::fs::write(d.join("s1.safetensors"), fa).unwrap();
    std::fs::write(d.join("s2.safetensors"), fb).unwrap();
    std::fs::write(
        d.join("model.safetensors.index.json"),
        r#"{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}"#,
    )
    .unwrap();
    let m = SafetensorsModel::open(d).unwrap();
    assert_eq!(m.store.read_f32(m.store.get("a").unwrap()).unwrap(), vec![1.5, -2.0]);
    assert_eq!(m.store.read_f32(m.store.get("b").unwrap()).unwrap(), vec![3.0]);
    // The same through the index file's path.
    let m = SafetensorsModel::open(d.join("model.safetensors.index.json")).unwrap();
    assert_eq!(m.store.entries().len(), 2);
}

#[test]
fn unsupported_architecture_and_lying_config() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(
        d.join("model.safetensors"),
        st_bytes(r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 4),
    )
    .unwrap();
    std::fs::write(d.join("config.json"), r#"{"model_type":"mamba"}"#).unwrap();
    let err = Model::open(d).err().expect("refused").to_string();
    assert!(err.contains("config.json") && err.contains("unsupported architecture \"mamba\""), "{err}");
    let o = quantize(&["inspect", d.to_str().unwrap()]);
    assert_clean_error(&o, &["config.json", "mamba"]);
    // A llama config whose tensors are missing.
    std::fs::write(
        d.join("config.json"),
        r#"{"model_type":"llama","hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,
            "num_attention_heads":2,"vocab_size":4,"max_position_embeddings":16,"rms_norm_eps":1e-6}"#,
    )
    .unwrap();
    let err = Model::open(d).err().expect("refused").to_string();
    assert!(err.contains("model.embed_tokens.weight is missing"), "{err}");
}
