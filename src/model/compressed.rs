//! Hugging Face directories quantized by llm-compressor in compressed-tensors' `pack-quantized`
//! format: `config.json` has a `quantization_config` with `"quant_method": "compressed-tensors"`,
//! and each quantized linear layer `P` stores `P.weight_packed`, `P.weight_scale`,
//! `P.weight_shape` (and `P.weight_zero_point` when asymmetric) instead of `P.weight`. Layers the
//! config ignores, norms and embeddings keep their plain `.weight`.
//!
//! The scheme of each packed layer is the config group whose settings match the layer's tensor
//! shapes (bits from the packed width, group size from the scale's width, symmetry from the
//! presence of a zero point), so target regexes need not be evaluated.

use crate::error::{Error, Result};
use crate::io::store::{StorageType, TensorEntry, TensorStore};
use crate::quant::compressed::{dequantize_with, unpack_zero_points, ScaleDtype, Scheme};
use crate::quant::formats::GgmlType;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

const PACKED: &str = ".weight_packed";
const SCALE: &str = ".weight_scale";
const SHAPE: &str = ".weight_shape";
const ZERO: &str = ".weight_zero_point";
const G_IDX: &str = ".weight_g_idx";

/// One packed linear layer, validated against the config and its tensors' shapes.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Module name, e.g. `model.layers.0.mlp.down_proj`.
    pub prefix: String,
    pub scheme: Scheme,
    pub rows: usize,
    pub cols: usize,
    scale_dtype: ScaleDtype,
}

/// The packed layers of a compressed-tensors checkpoint.
#[derive(Debug)]
pub struct CompressedTensors {
    /// `config.json`, named in errors.
    pub config: PathBuf,
    /// The supported weight schemes of the config's groups.
    pub schemes: Vec<Scheme>,
    /// Keyed by the name of the `weight_packed` tensor.
    layers: HashMap<String, Layer>,
    /// Names of the scale, shape and zero-point tensors of packed layers.
    companions: HashSet<String>,
}

fn bad(path: &Path, msg: impl Into<String>) -> Error {
    Error::corrupt(path, msg)
}

/// The `quantization_config` of a compressed-tensors checkpoint, if `cfg` declares one.
fn quantization_config(cfg: &Value) -> Option<&Value> {
    let q = cfg.get("quantization_config").or_else(|| cfg.get("compression_config"))?;
    (q.get("quant_method").and_then(Value::as_str) == Some("compressed-tensors")).then_some(q)
}

/// The weight scheme of one config group, `None` for a group that stores weights densely.
fn group_scheme(cfg_path: &Path, name: &str, group: &Value, top_format: Option<&str>) -> Result<Option<Scheme>> {
    let format = group.get("format").and_then(Value::as_str).or(top_format);
    let weights = group.get("weights").filter(|w| !w.is_null());
    let Some(w) = weights else { return Ok(None) };
    match format {
        Some("pack-quantized") => {}
        // compressed-tensors' default format, "fakequant", stores weights densely too.
        Some("dense" | "fakequant") | None => return Ok(None),
        Some(f) => {
            return Err(Error::unsupported(
                cfg_path,
                format!("compressed-tensors format {f:?} of config group {name} (supported: pack-quantized)"),
            ))
        }
    }
    let unsupported = |what: String| Error::unsupported(cfg_path, format!("{what} in config group {name}"));
    let ty = w.get("type").and_then(Value::as_str).unwrap_or("int");
    if ty != "int" {
        return Err(unsupported(format!("weight type {ty:?}")));
    }
    let bits = w
        .get("num_bits")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad(cfg_path, format!("quantization_config: config group {name} has no weights.num_bits")))?;
    if bits != 4 && bits != 8 {
        return Err(unsupported(format!("{bits}-bit weights (supported: 4, 8)")));
    }
    let symmetric = w.get("symmetric").map_or(Some(true), Value::as_bool).ok_or_else(|| {
        bad(cfg_path, format!("quantization_config: weights.symmetric of config group {name} is not a boolean"))
    })?;
    let group_size = w.get("group_size").and_then(Value::as_i64);
    let strategy = w.get("strategy").and_then(Value::as_str);
    let group_size = match (strategy, group_size) {
        (Some("channel"), _) | (None, Some(-1)) => None,
        (Some("group") | None, Some(g)) if g > 0 => Some(g as usize),
        (Some("group"), _) => {
            return Err(bad(cfg_path, format!("quantization_config: config group {name} has no positive group_size")))
        }
        (s, _) => {
            return Err(unsupported(format!("weight strategy {:?} (supported: channel, group)", s.unwrap_or("tensor"))))
        }
    };
    if let Some(a) = w.get("actorder").and_then(Value::as_str) {
        if a == "group" || a == "dynamic" {
            return Err(unsupported(format!("actorder {a:?} (weight_g_idx)")));
        }
    }
    Ok(Some(Scheme { bits: bits as u8, group_size, symmetric }))
}

fn is_empty_config(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty() || m.get("format").and_then(Value::as_str) == Some("dense"),
        _ => false,
    }
}

/// Reads a 2-D tensor's shape, or fails naming it.
fn dims2(store: &TensorStore, e: &TensorEntry) -> Result<(usize, usize)> {
    match e.shape[..] {
        [a, b] => Ok((a, b)),
        _ => Err(bad(store.path_of(e), format!("tensor {} has shape {:?}, expected 2 dimensions", e.name, e.shape))),
    }
}

fn other(e: &TensorEntry, name: &str) -> bool {
    e.dtype == StorageType::Other(name.into())
}

fn scale_dtype(e: &TensorEntry) -> Option<ScaleDtype> {
    match e.dtype {
        StorageType::Ggml(GgmlType::BF16) => Some(ScaleDtype::Bf16),
        StorageType::Ggml(GgmlType::F16) => Some(ScaleDtype::F16),
        StorageType::Ggml(GgmlType::F32) => Some(ScaleDtype::F32),
        _ => None,
    }
}

fn i32s(bytes: &[u8]) -> Vec<i32> {
    bytes.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes"))).collect()
}

impl CompressedTensors {
    /// The packed layers of `store`, when `cfg` (read from `cfg_path`) declares
    /// compressed-tensors quantization; `None` for any other model. Fails on configs or tensors
    /// sinkquant cannot dequantize exactly.
    pub fn from_config(cfg: &Value, cfg_path: &Path, store: &TensorStore) -> Result<Option<Self>> {
        let Some(q) = quantization_config(cfg) else { return Ok(None) };
        if !is_empty_config(q.get("transform_config")) {
            return Err(Error::unsupported(cfg_path, "compressed-tensors transform_config (rotated weights)"));
        }
        if !is_empty_config(q.get("sparsity_config")) {
            return Err(Error::unsupported(cfg_path, "compressed-tensors sparsity_config"));
        }
        let top_format = q.get("format").and_then(Value::as_str);
        let groups = q
            .get("config_groups")
            .and_then(Value::as_object)
            .ok_or_else(|| bad(cfg_path, "quantization_config has no config_groups object"))?;
        let mut schemes = Vec::new();
        for (name, g) in groups {
            if let Some(s) = group_scheme(cfg_path, name, g, top_format)? {
                schemes.push(s);
            }
        }

        let mut layers = HashMap::new();
        let mut companions = HashSet::new();
        for e in store.entries() {
            let Some(prefix) = e.name.strip_suffix(PACKED) else { continue };
            let file = store.path_of(e);
            if schemes.is_empty() {
                return Err(bad(
                    file,
                    format!("tensor {} but no pack-quantized config group in {}", e.name, cfg_path.display()),
                ));
            }
            let tensor = |suffix: &str| store.get(&format!("{prefix}{suffix}"));
            let missing = |suffix: &str| bad(file, format!("tensor {prefix}{suffix} is missing for {}", e.name));
            if tensor(".weight").is_some() {
                return Err(bad(file, format!("both {prefix}.weight and {} are present", e.name)));
            }
            if let Some(g) = tensor(G_IDX) {
                return Err(Error::unsupported(
                    store.path_of(g),
                    format!("tensor {} (activation-ordered groups)", g.name),
                ));
            }
            let scale = tensor(SCALE).ok_or_else(|| missing(SCALE))?;
            let shape = tensor(SHAPE).ok_or_else(|| missing(SHAPE))?;
            let zero = tensor(ZERO);

            if !other(e, "I32") {
                return Err(bad(file, format!("tensor {} has dtype {}, expected I32", e.name, e.dtype)));
            }
            let (rows, pc) = dims2(store, e)?;
            let wide = other(shape, "I64");
            if !(wide || other(shape, "I32")) || shape.shape != [2] {
                return Err(bad(
                    store.path_of(shape),
                    format!("tensor {} is {} {:?}, expected I64 [2]", shape.name, shape.dtype, shape.shape),
                ));
            }
            let b = store.bytes(shape);
            let dims: Vec<i64> = if wide {
                b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
            } else {
                i32s(b).into_iter().map(i64::from).collect()
            };
            if dims.len() != 2 || dims[0] != rows as i64 || dims[1] <= 0 || dims[1] > (pc as i64) * 32 {
                return Err(bad(
                    store.path_of(shape),
                    format!("tensor {} = {dims:?} does not fit {} of shape {:?}", shape.name, e.name, e.shape),
                ));
            }
            let cols = dims[1] as usize;
            let sdt = scale_dtype(scale).ok_or_else(|| {
                bad(
                    store.path_of(scale),
                    format!("tensor {} has dtype {}, expected BF16, F16 or F32", scale.name, scale.dtype),
                )
            })?;
            let (srows, ng) = dims2(store, scale)?;
            if srows != rows {
                return Err(bad(
                    store.path_of(scale),
                    format!("tensor {} has shape {:?} for {rows} rows", scale.name, scale.shape),
                ));
            }
            if let Some(z) = zero {
                let zp_shape_ok = other(z, "I32") && z.shape.len() == 2 && z.shape[1] == ng;
                if !zp_shape_ok {
                    return Err(bad(
                        store.path_of(z),
                        format!("tensor {} is {} {:?}, expected I32 [_, {ng}]", z.name, z.dtype, z.shape),
                    ));
                }
            }
            let fits = |s: &&Scheme| {
                s.packed_cols(cols) == pc
                    && s.symmetric == zero.is_none()
                    && s.check(rows, cols).is_ok()
                    && s.n_groups(cols) == ng
                    && zero.is_none_or(|z| z.shape[0] == s.packed_zp_rows(rows))
            };
            let Some(&scheme) = schemes.iter().find(fits) else {
                return Err(bad(
                    file,
                    format!(
                        "tensor {} {:?} (weight_shape [{rows}, {cols}], scale {:?}, {}) matches no config group of {}",
                        e.name,
                        e.shape,
                        scale.shape,
                        if zero.is_some() { "zero point" } else { "no zero point" },
                        cfg_path.display()
                    ),
                ));
            };
            for t in [Some(scale), Some(shape), zero].into_iter().flatten() {
                companions.insert(t.name.clone());
            }
            layers.insert(e.name.clone(), Layer { prefix: prefix.to_string(), scheme, rows, cols, scale_dtype: sdt });
        }
        Ok(Some(CompressedTensors { config: cfg_path.to_path_buf(), schemes, layers, companions }))
    }

    /// The layer stored in the tensor named `name` (a `weight_packed` tensor), if any.
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.get(name)
    }

    /// Number of packed layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Whether `name` is the scale, shape or zero point of a packed layer.
    pub fn is_companion(&self, name: &str) -> bool {
        self.companions.contains(name)
    }

    /// The name a tensor has in an unquantized checkpoint: `P.weight` for `P.weight_packed`.
    pub fn logical_name<'a>(&self, name: &'a str) -> std::borrow::Cow<'a, str> {
        match self.layers.get(name) {
            Some(l) => format!("{}.weight", l.prefix).into(),
            None => name.into(),
        }
    }

    /// Dequantizes a packed layer to f32, row-major `[rows, cols]`, exactly as
    /// compressed-tensors' decompression computes it.
    pub fn read(&self, store: &TensorStore, l: &Layer) -> Result<Vec<f32>> {
        let get = |suffix: &str| {
            let name = format!("{}{suffix}", l.prefix);
            store
                .get(&name)
                .ok_or_else(|| Error::Invalid(format!("{}: tensor {name} is missing", self.config.display())))
        };
        let packed = i32s(store.bytes(get(PACKED)?));
        let scale_e = get(SCALE)?;
        let scale = store.read_f32(scale_e)?;
        let zero = match l.scheme.symmetric {
            true => None,
            false => {
                let z = i32s(store.bytes(get(ZERO)?));
                Some(unpack_zero_points(&z, l.rows, l.scheme.n_groups(l.cols), l.scheme.bits))
            }
        };
        let expect = l.rows * l.scheme.packed_cols(l.cols);
        if packed.len() != expect || scale.len() != l.rows * l.scheme.n_groups(l.cols) {
            return Err(bad(store.path_of(scale_e), format!("tensors of {} do not match their shapes", l.prefix)));
        }
        Ok(dequantize_with(&packed, l.rows, l.cols, &l.scheme, &scale, zero.as_deref(), l.scale_dtype))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::compressed_tensors::{layer_tensors, quantization_config as ct_config};
    use crate::io::safetensors::writer::{PlannedTensor, SafetensorsWriter};
    use crate::model::{LayerTensor, Model, Role};
    use crate::quant::compressed::{dequantize, quantize, Packed};
    use std::collections::BTreeMap;

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
            packed: crate::quant::compressed::pack(&[127, -128, 3, 1], 1, 4, 8),
            scale: vec![half::bf16::from_f32(0.0123)],
            zero_point: None,
            rows: 1,
            cols: 4,
        };
        let sc = half::bf16::from_f32(0.0123).to_f32();
        let want: Vec<f32> =
            [127.0f32, -128.0, 3.0, 1.0].iter().map(|q| half::bf16::from_f32(q * sc).to_f32()).collect();
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
            (
                Box::new(|c| c["quantization_config"]["config_groups"]["group_0"]["weights"]["num_bits"] = 3.into()),
                "3-bit",
            ),
            (
                Box::new(|c| c["quantization_config"]["config_groups"]["group_0"]["weights"]["group_size"] = 64.into()),
                "matches no config group",
            ),
            (
                Box::new(|c| {
                    c["quantization_config"]["config_groups"]["group_0"]["weights"]["symmetric"] = false.into()
                }),
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
                Box::new(|c| {
                    c["quantization_config"]["config_groups"]["group_0"]["weights"]["strategy"] = "block".into()
                }),
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
            let mut w =
                SafetensorsWriter::create(&st, ts.iter().map(|t| t.0.clone()).collect(), &BTreeMap::new()).unwrap();
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
    /// `cargo test --release --lib model::compressed::tests::dump_f32 -- --ignored --exact`.
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
}
