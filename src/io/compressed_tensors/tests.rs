//! The reader against checkpoints written by the writer: tiny llama directories opened as
//! models, and malformed configs and tensors.

use super::{dequantize, layer_tensors, pack, quantization_config as ct_config, quantize, CompressedTensors};
use super::{Packed, Scheme};
use crate::io::safetensors::writer::{PlannedTensor, SafetensorsWriter};
use crate::model::{LayerTensor, Model, Role};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.1
        })
        .collect()
}

fn llama_config() -> Value {
    serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
        "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 96, "max_position_embeddings": 128,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false, "dtype": "bfloat16",
        "bos_token_id": 1, "eos_token_id": 2
    })
}

/// A tiny llama directory whose linear layers (all but lm_head) are pack-quantized with our
/// writer. Returns the directory and, per role, the f32 weights it should read back.
fn write_fixture(dir: &Path, scheme: &Scheme) -> BTreeMap<String, Vec<f32>> {
    let cfg = llama_config();
    let hp = crate::model::HParams::from_hf_config(&cfg).unwrap();
    let mut plan: Vec<PlannedTensor> = Vec::new();
    let mut data: Vec<Vec<u8>> = Vec::new();
    let mut expect = BTreeMap::new();
    let mut shapes: Vec<(Role, Vec<usize>)> = Vec::new();
    let (d, f, q, kv, v) = (64, 128, 64, 32, 96);
    shapes.push((Role::TokenEmbd, vec![v, d]));
    shapes.push((Role::OutputNorm, vec![d]));
    shapes.push((Role::Output, vec![v, d]));
    for i in 0..2 {
        use LayerTensor::*;
        for (t, s) in [
            (AttnNorm, vec![d]),
            (AttnQ, vec![q, d]),
            (AttnK, vec![kv, d]),
            (AttnV, vec![kv, d]),
            (AttnOutput, vec![d, q]),
            (FfnNorm, vec![d]),
            (FfnGate, vec![f, d]),
            (FfnUp, vec![f, d]),
            (FfnDown, vec![d, f]),
        ] {
            shapes.push((Role::Layer(i, t), s));
        }
    }
    for (k, (role, shape)) in shapes.iter().enumerate() {
        let name = role.hf_name(hp.arch);
        let w = values(k as u64, shape.iter().product());
        let quantized = shape.len() == 2 && *role != Role::Output && *role != Role::TokenEmbd;
        if quantized {
            let p = quantize(&w, shape[0], shape[1], scheme, None).unwrap();
            expect.insert(name.clone(), dequantize(&p, scheme));
            for (t, b) in layer_tensors(name.strip_suffix(".weight").unwrap(), &p, scheme) {
                plan.push(t);
                data.push(b);
            }
        } else {
            let b: Vec<u8> = w.iter().flat_map(|x| half::bf16::from_f32(*x).to_le_bytes()).collect();
            expect.insert(name.clone(), w.iter().map(|x| half::bf16::from_f32(*x).to_f32()).collect());
            plan.push(PlannedTensor { name, dtype: "BF16", shape: shape.clone(), nbytes: b.len() });
            data.push(b);
        }
    }
    let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    let mut wr = SafetensorsWriter::create(&dir.join("model.safetensors"), plan.clone(), &meta).unwrap();
    for (t, b) in plan.iter().zip(&data) {
        wr.write(&t.name, b).unwrap();
    }
    wr.finish().unwrap();
    let mut cfg = cfg;
    cfg["quantization_config"] = ct_config(scheme, &["lm_head".to_string()]);
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    expect
}

const SCHEMES: [Scheme; 4] = [
    Scheme { bits: 4, group_size: Some(32), symmetric: true },
    Scheme { bits: 8, group_size: None, symmetric: true },
    Scheme { bits: 4, group_size: Some(16), symmetric: false },
    Scheme { bits: 8, group_size: Some(32), symmetric: false },
];

#[test]
fn model_reads_packed_layers() {
    for s in SCHEMES {
        let dir = tempfile::tempdir().unwrap();
        let expect = write_fixture(dir.path(), &s);
        let m = Model::open(dir.path()).unwrap();
        let c = m.compressed.as_ref().unwrap();
        assert_eq!(c.len(), 14);
        assert!(m.unrecognised.is_empty(), "{:?}", m.unrecognised);
        for (role, _) in m.expected_roles() {
            let (shape, w) = m.read_canonical(role).unwrap();
            assert_eq!(Some(shape.clone()), m.canonical_shape(role));
            assert_eq!(&w, &expect[&role.hf_name(m.arch())], "{s:?} {role}");
        }
    }
}

/// The dequantized values are bit-exact with compressed-tensors' decompression of a
/// hand-built layer: (q - zp) * scale rounded to BF16.
#[test]
fn dequantize_rounds_like_torch_bf16() {
    let s = Scheme { bits: 8, group_size: None, symmetric: true };
    let p = Packed {
        packed: pack(&[127, -128, 3, 1], 1, 4, 8),
        scale: vec![half::bf16::from_f32(0.0123)],
        zero_point: None,
        rows: 1,
        cols: 4,
    };
    let sc = half::bf16::from_f32(0.0123).to_f32();
    let want: Vec<f32> = [127.0f32, -128.0, 3.0, 1.0].iter().map(|q| half::bf16::from_f32(q * sc).to_f32()).collect();
    assert_eq!(dequantize(&p, &s), want);
}

fn rewrite_config(dir: &Path, f: impl Fn(&mut Value)) {
    let p = dir.join("config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut cfg);
    std::fs::write(&p, serde_json::to_string(&cfg).unwrap()).unwrap();
}

fn open_err(dir: &Path) -> String {
    match Model::open(dir) {
        Ok(_) => panic!("accepted"),
        Err(e) => {
            let m = e.to_string();
            assert!(!m.contains('\n'), "{m}");
            m
        }
    }
}

#[test]
fn malformed_configs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), &SCHEMES[0]);
    let d = dir.path();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|c| c["quantization_config"]["config_groups"]["group_0"]["weights"]["num_bits"] = 3.into()), "3-bit"),
        (
            Box::new(|c| c["quantization_config"]["config_groups"]["group_0"]["weights"]["group_size"] = 64.into()),
            "matches no config group",
        ),
        (
            Box::new(|c| c["quantization_config"]["config_groups"]["group_0"]["weights"]["symmetric"] = false.into()),
            "matches no config group",
        ),
        (Box::new(|c| c["quantization_config"]["config_groups"] = 1.into()), "no config_groups"),
        (
            Box::new(|c| c["quantization_config"]["config_groups"]["group_0"]["format"] = "int-quantized".into()),
            "int-quantized",
        ),
        (
            Box::new(|c| c["quantization_config"]["config_groups"]["group_0"]["weights"]["type"] = "float".into()),
            "weight type",
        ),
        (
            Box::new(|c| c["quantization_config"]["config_groups"]["group_0"]["weights"]["strategy"] = "block".into()),
            "strategy",
        ),
        (
            Box::new(|c| c["quantization_config"]["transform_config"] = serde_json::json!({"config_groups": {}})),
            "transform_config",
        ),
        (
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("quantization_config");
            }),
            "missing",
        ),
    ];
    for (edit, want) in cases {
        write_fixture(d, &SCHEMES[0]);
        rewrite_config(d, edit);
        let m = open_err(d);
        assert!(m.contains(want) && (m.contains("config.json") || m.contains("model.safetensors")), "{want}: {m}");
    }
}

#[test]
fn malformed_tensors_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A weight_shape that disagrees with the packed rows, then a missing scale.
    let s = SCHEMES[0];
    let p = quantize(&values(3, 64 * 64), 64, 64, &s, None).unwrap();
    let mut tensors = layer_tensors("model.layers.0.self_attn.q_proj", &p, &s);
    let shape = tensors.iter_mut().find(|(t, _)| t.name.ends_with("weight_shape")).unwrap();
    shape.1 = [63i64, 64].iter().flat_map(|x| x.to_le_bytes()).collect();
    let st = d.join("x.safetensors");
    let write = |ts: &[(PlannedTensor, Vec<u8>)]| {
        let mut w = SafetensorsWriter::create(&st, ts.iter().map(|t| t.0.clone()).collect(), &BTreeMap::new()).unwrap();
        for (t, b) in ts {
            w.write(&t.name, b).unwrap();
        }
        w.finish().unwrap();
    };
    write(&tensors);
    let mut cfg = llama_config();
    cfg["quantization_config"] = ct_config(&s, &[]);
    let st_model = crate::io::safetensors::SafetensorsModel::open(&st).unwrap();
    let e = CompressedTensors::from_config(&cfg, Path::new("config.json"), &st_model.store).unwrap_err();
    assert!(e.to_string().contains("does not fit"), "{e}");
    tensors.retain(|(t, _)| !t.name.ends_with("weight_shape") && !t.name.ends_with("weight_scale"));
    write(&tensors);
    let st_model = crate::io::safetensors::SafetensorsModel::open(&st).unwrap();
    let e = CompressedTensors::from_config(&cfg, Path::new("config.json"), &st_model.store).unwrap_err();
    assert!(e.to_string().contains("weight_scale is missing") && e.to_string().contains("x.safetensors"), "{e}");
}

/// Not a test: writes sinkquant's f32 reading of the model at $SINKQUANT_DUMP_IN (any
/// Model::open input) to the safetensors file $SINKQUANT_DUMP_OUT, tensors under their
/// Hugging Face names. scripts/check_compressed_tensors.py runs it:
/// `cargo test --release --lib io::compressed_tensors::tests::dump_f32 -- --ignored --exact`.
#[test]
#[ignore]
fn dump_f32() {
    let (Ok(input), Ok(out)) = (std::env::var("SINKQUANT_DUMP_IN"), std::env::var("SINKQUANT_DUMP_OUT")) else {
        panic!("set SINKQUANT_DUMP_IN and SINKQUANT_DUMP_OUT");
    };
    let m = Model::open(&input).unwrap();
    let roles: Vec<Role> = m.roles().map(|(r, _)| r).collect();
    let plan: Vec<PlannedTensor> = roles
        .iter()
        .map(|r| {
            let shape = m.canonical_shape(*r).unwrap();
            let nbytes = shape.iter().product::<usize>() * 4;
            PlannedTensor { name: r.hf_name(m.arch()), dtype: "F32", shape, nbytes }
        })
        .collect();
    let mut w = SafetensorsWriter::create(Path::new(&out), plan.clone(), &BTreeMap::new()).unwrap();
    for (r, t) in roles.iter().zip(&plan) {
        let (_, data) = m.read_canonical(*r).unwrap();
        w.write(&t.name, bytemuck::cast_slice(&data)).unwrap();
    }
    w.finish().unwrap();
}

/// Not a test: writes a tiny pack-quantized llama directory with sinkquant's writer to
/// $SINKQUANT_FIXTURE_OUT, scheme from $SINKQUANT_FIXTURE_SCHEME ("4:32:sym", "8:channel:asym").
#[test]
#[ignore]
fn write_fixture_dir() {
    let out = std::env::var("SINKQUANT_FIXTURE_OUT").expect("set SINKQUANT_FIXTURE_OUT");
    let spec = std::env::var("SINKQUANT_FIXTURE_SCHEME").unwrap_or_else(|_| "4:32:sym".into());
    let p: Vec<&str> = spec.split(':').collect();
    let s = Scheme {
        bits: p[0].parse().unwrap(),
        group_size: p[1].parse().ok(),
        symmetric: p.get(2).is_none_or(|x| *x == "sym"),
    };
    std::fs::create_dir_all(&out).unwrap();
    write_fixture(Path::new(&out), &s);
}
