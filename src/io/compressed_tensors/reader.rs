//! Reading Hugging Face directories quantized by llm-compressor in compressed-tensors'
//! `pack-quantized` format: `config.json` has a `quantization_config` with
//! `"quant_method": "compressed-tensors"`, and each quantized linear layer `P` stores
//! `P.weight_packed`, `P.weight_scale`, `P.weight_shape` (and `P.weight_zero_point` when
//! asymmetric) instead of `P.weight`. Layers the config ignores, norms and embeddings keep their
//! plain `.weight`.
//!
//! The scheme of each packed layer is the config group whose settings match the layer's tensor
//! shapes (bits from the packed width, group size from the scale's width, symmetry from the
//! presence of a zero point), so target regexes need not be evaluated.

use super::config;
use super::names::{self, G_IDX, PACKED, SCALE, SHAPE, WEIGHT, ZERO_POINT};
use super::pack::unpack_zero_points;
use super::quantize::dequantize_with;
use super::scheme::{ScaleDtype, Scheme};
use crate::error::{Error, Result};
use crate::io::store::{StorageType, TensorEntry, TensorStore};
use crate::quant::formats::GgmlType;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

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

/// The column count a `weight_shape` tensor declares for the packed tensor `e` of
/// `rows x packed_cols` words.
fn weight_shape(store: &TensorStore, shape: &TensorEntry, e: &TensorEntry, rows: usize, pc: usize) -> Result<usize> {
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
    Ok(dims[1] as usize)
}

/// The scale's dtype and groups per row, checked against the layer's `rows`.
fn scale_groups(store: &TensorStore, scale: &TensorEntry, rows: usize) -> Result<(ScaleDtype, usize)> {
    let sdt = scale_dtype(scale).ok_or_else(|| {
        bad(store.path_of(scale), format!("tensor {} has dtype {}, expected BF16, F16 or F32", scale.name, scale.dtype))
    })?;
    let (srows, ng) = dims2(store, scale)?;
    if srows != rows {
        return Err(bad(
            store.path_of(scale),
            format!("tensor {} has shape {:?} for {rows} rows", scale.name, scale.shape),
        ));
    }
    Ok((sdt, ng))
}

/// The packed layer whose `weight_packed` tensor is `e`, and its companion tensors (scale,
/// shape, zero point).
fn packed_layer<'a>(
    store: &'a TensorStore,
    e: &TensorEntry,
    prefix: &str,
    schemes: &[Scheme],
    cfg_path: &Path,
) -> Result<(Layer, Vec<&'a TensorEntry>)> {
    let file = store.path_of(e);
    if schemes.is_empty() {
        return Err(bad(
            file,
            format!("tensor {} but no pack-quantized config group in {}", e.name, cfg_path.display()),
        ));
    }
    let tensor = |suffix: &str| store.get(&names::tensor(prefix, suffix));
    let missing = |suffix: &str| bad(file, format!("tensor {prefix}{suffix} is missing for {}", e.name));
    if tensor(WEIGHT).is_some() {
        return Err(bad(file, format!("both {prefix}{WEIGHT} and {} are present", e.name)));
    }
    if let Some(g) = tensor(G_IDX) {
        return Err(Error::unsupported(store.path_of(g), format!("tensor {} (activation-ordered groups)", g.name)));
    }
    let scale = tensor(SCALE).ok_or_else(|| missing(SCALE))?;
    let shape = tensor(SHAPE).ok_or_else(|| missing(SHAPE))?;
    let zero = tensor(ZERO_POINT);
    if !other(e, "I32") {
        return Err(bad(file, format!("tensor {} has dtype {}, expected I32", e.name, e.dtype)));
    }
    let (rows, pc) = dims2(store, e)?;
    let cols = weight_shape(store, shape, e, rows, pc)?;
    let (scale_dtype, ng) = scale_groups(store, scale, rows)?;
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
    let companions = [Some(scale), Some(shape), zero].into_iter().flatten().collect();
    Ok((Layer { prefix: prefix.to_string(), scheme, rows, cols, scale_dtype }, companions))
}

impl CompressedTensors {
    /// The packed layers of `store`, when `cfg` (read from `cfg_path`) declares
    /// compressed-tensors quantization; `None` for any other model. Fails on configs or tensors
    /// sinkquant cannot dequantize exactly.
    pub fn from_config(cfg: &Value, cfg_path: &Path, store: &TensorStore) -> Result<Option<Self>> {
        let Some(q) = config::declared(cfg) else { return Ok(None) };
        let schemes = config::schemes(q, cfg_path)?;
        let mut layers = HashMap::new();
        let mut companions = HashSet::new();
        for e in store.entries() {
            let Some(prefix) = e.name.strip_suffix(PACKED) else { continue };
            let (layer, tensors) = packed_layer(store, e, prefix, &schemes, cfg_path)?;
            companions.extend(tensors.into_iter().map(|t| t.name.clone()));
            layers.insert(e.name.clone(), layer);
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
            Some(l) => names::tensor(&l.prefix, WEIGHT).into(),
            None => name.into(),
        }
    }

    /// Dequantizes a packed layer to f32, row-major `[rows, cols]`, exactly as
    /// compressed-tensors' decompression computes it.
    pub fn read(&self, store: &TensorStore, l: &Layer) -> Result<Vec<f32>> {
        let get = |suffix: &str| {
            let name = names::tensor(&l.prefix, suffix);
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
                let z = i32s(store.bytes(get(ZERO_POINT)?));
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
