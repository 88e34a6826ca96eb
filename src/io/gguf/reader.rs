//! GGUF v2/v3 reader: a bounded parse of the header, metadata and tensor infos over a
//! memory-mapped file. Tensor data is never copied; callers borrow it by name.
//!
//! Every count and size in the header is checked against the bytes actually left in the file
//! before anything is allocated for it, so a lying header fails with a message instead of
//! exhausting memory.

use super::cursor::{Cursor, CursorError};
use super::value::{type_id, MetaValue};
use crate::error::{Error, Result};
use crate::io::store::{StorageType, TensorStore};
use crate::quant::formats::GgmlType;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const GGUF_MAGIC: &[u8; 4] = b"GGUF";
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml tensors have at most four dimensions (`GGML_MAX_DIMS`).
pub const MAX_DIMS: u32 = 4;
/// Arrays nested deeper than this are refused (real files nest at most once).
const MAX_ARRAY_DEPTH: usize = 3;

/// One tensor's entry in the GGUF header.
#[derive(Clone, Debug)]
pub struct GgufTensorInfo {
    pub name: String,
    /// ggml order: `dims[0]` is the row length (fastest-varying).
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Offset from the start of the data section.
    pub offset: u64,
    pub nbytes: usize,
}

impl GgufTensorInfo {
    /// Row-major shape (outermost first), as safetensors and PyTorch write it.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
    pub fn n_elements(&self) -> usize {
        self.dims.iter().product::<u64>() as usize
    }
}

/// An open GGUF file: header, metadata, and its tensors as a [`TensorStore`].
pub struct GgufFile {
    path: PathBuf,
    file_size: u64,
    pub version: u32,
    pub alignment: u64,
    metadata: Vec<(String, MetaValue)>,
    meta_index: HashMap<String, usize>,
    pub tensors: Vec<GgufTensorInfo>,
    tensor_index: HashMap<String, usize>,
    pub data_start: usize,
    pub store: TensorStore,
}

impl GgufFile {
    /// Maps and parses `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let map = super::super::mmap::Mapped::open(path)?;
        let parsed = parse(map.bytes()).map_err(|e| match e {
            HeaderError::Corrupt(msg) => Error::corrupt(path, msg),
            HeaderError::Unsupported(msg) => Error::unsupported(path, msg),
        })?;
        let meta_index = parsed.metadata.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect();
        let tensor_index = parsed.tensors.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
        let file_size = map.bytes().len() as u64;
        let mut store = TensorStore::default();
        let file = store.add_file(path.to_path_buf(), map);
        for t in &parsed.tensors {
            let start = parsed.data_start + t.offset as usize;
            store.push(file, t.name.clone(), t.shape(), StorageType::Ggml(t.ggml_type), start, t.nbytes)?;
        }
        Ok(GgufFile {
            path: path.to_path_buf(),
            file_size,
            version: parsed.version,
            alignment: parsed.alignment,
            metadata: parsed.metadata,
            meta_index,
            tensors: parsed.tensors,
            tensor_index,
            data_start: parsed.data_start,
            store,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Metadata in file order.
    pub fn metadata(&self) -> &[(String, MetaValue)] {
        &self.metadata
    }

    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.meta_index.get(key).map(|&i| &self.metadata[i].1)
    }

    pub fn tensor(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }
}

struct Parsed {
    version: u32,
    alignment: u64,
    metadata: Vec<(String, MetaValue)>,
    tensors: Vec<GgufTensorInfo>,
    data_start: usize,
}

/// Why a header cannot be read; `GgufFile::open` adds the path.
#[derive(Debug)]
enum HeaderError {
    /// Truncated, corrupt or self-contradicting.
    Corrupt(String),
    /// Well formed, but a version or ggml type sinkquant does not read.
    Unsupported(String),
}

impl From<CursorError> for HeaderError {
    fn from(e: CursorError) -> Self {
        HeaderError::Corrupt(e.to_string())
    }
}

impl From<String> for HeaderError {
    fn from(msg: String) -> Self {
        HeaderError::Corrupt(msg)
    }
}

type Parse<T> = std::result::Result<T, HeaderError>;

fn parse(buf: &[u8]) -> Parse<Parsed> {
    let mut c = Cursor::new(buf);
    let magic = c.array::<4>("magic").map_err(|_| "not a GGUF file (shorter than its magic)".to_string())?;
    if &magic != GGUF_MAGIC {
        return Err(HeaderError::Corrupt(format!("not a GGUF file (magic {:?})", String::from_utf8_lossy(&magic))));
    }
    let version = c.u32("version")?;
    if version != 2 && version != 3 {
        return Err(HeaderError::Unsupported(format!("GGUF version {version} (only 2 and 3 are read)")));
    }
    let n_tensors = c.u64("tensor count")?;
    let n_kv = c.u64("metadata count")?;
    // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at
    // least 8 + 4 + 4 + 8 bytes.
    if n_kv > (c.remaining() / 13) as u64 {
        return Err(HeaderError::Corrupt(format!(
            "header claims {n_kv} metadata entries, more than the file can hold"
        )));
    }
    if n_tensors > (c.remaining() / 24) as u64 {
        return Err(HeaderError::Corrupt(format!("header claims {n_tensors} tensors, more than the file can hold")));
    }
    let mut metadata = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for i in 0..n_kv {
        let key = c.string(&format!("metadata key #{i}"))?;
        let ty = c.u32(&format!("type of {key}"))?;
        let value = read_value(&mut c, ty, &key, 0)?;
        if !seen.insert(key.clone()) {
            return Err(HeaderError::Corrupt(format!("duplicate metadata key {key}")));
        }
        metadata.push((key, value));
    }
    let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some((_, MetaValue::U32(a))) if *a != 0 && a.is_power_of_two() => *a as u64,
        Some((_, v)) => return Err(HeaderError::Corrupt(format!("general.alignment {v} is not a power-of-two u32"))),
    };
    let tensors = read_tensor_infos(&mut c, n_tensors, alignment)?;
    let data_start = (c.pos() as u64).div_ceil(alignment) * alignment;
    check_layout(&tensors, data_start, buf.len() as u64)?;
    Ok(Parsed { version, alignment, metadata, tensors, data_start: data_start as usize })
}

/// The `n_tensors` tensor infos after the metadata, each checked on its own.
fn read_tensor_infos(c: &mut Cursor, n_tensors: u64, alignment: u64) -> Parse<Vec<GgufTensorInfo>> {
    let mut tensors = Vec::new();
    let mut names = std::collections::HashSet::new();
    for i in 0..n_tensors {
        let name = c.string(&format!("tensor #{i} name"))?;
        let n_dims = c.u32(&format!("dimension count of {name}"))?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(HeaderError::Corrupt(format!(
                "tensor {name} has {n_dims} dimensions (1 to {MAX_DIMS} allowed)"
            )));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(c.u64(&format!("dimensions of {name}"))?);
        }
        let type_raw = c.u32(&format!("type of {name}"))?;
        let offset = c.u64(&format!("offset of {name}"))?;
        let ggml_type = match GgmlType::from_id(type_raw) {
            Ok(t) => t,
            Err(msg) => return Err(HeaderError::Unsupported(format!("{msg} in tensor {name}"))),
        };
        let n_el = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let n_el = n_el
            .filter(|&n| n <= i64::MAX as u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| format!("tensor {name}: element count of shape {dims:?} overflows"))?;
        if dims[0] % ggml_type.block_size() as u64 != 0 {
            return Err(HeaderError::Corrupt(format!(
                "tensor {name}: row length {} is not a multiple of the {ggml_type} block size {}",
                dims[0],
                ggml_type.block_size()
            )));
        }
        let nbytes = ggml_type.row_bytes(n_el).ok_or_else(|| format!("tensor {name}: byte size overflows"))?;
        if offset % alignment != 0 {
            return Err(HeaderError::Corrupt(format!(
                "tensor {name}: offset {offset} is not a multiple of the alignment {alignment}"
            )));
        }
        if !names.insert(name.clone()) {
            return Err(HeaderError::Corrupt(format!("duplicate tensor name {name}")));
        }
        tensors.push(GgufTensorInfo { name, dims, ggml_type, offset, nbytes });
    }
    Ok(tensors)
}

/// Every tensor lies inside the data section (starting at `data_start` of a file of
/// `file_len` bytes) and no two overlap.
fn check_layout(tensors: &[GgufTensorInfo], data_start: u64, file_len: u64) -> Parse<()> {
    let data_len = file_len.saturating_sub(data_start);
    if tensors.iter().any(|t| t.nbytes > 0) && data_start > file_len {
        return Err(HeaderError::Corrupt("truncated: the file ends before its data section".into()));
    }
    for t in tensors {
        let end = t.offset.checked_add(t.nbytes as u64);
        if end.is_none_or(|e| e > data_len) {
            return Err(HeaderError::Corrupt(format!(
                "truncated or lying header: tensor {} needs bytes {}..{} of a data section of {} bytes",
                t.name,
                t.offset,
                t.offset as u128 + t.nbytes as u128,
                data_len
            )));
        }
    }
    // Tensors may not overlap (llama.cpp lays them out one after another).
    let mut spans: Vec<(u64, u64, &str)> =
        tensors.iter().map(|t| (t.offset, t.offset + t.nbytes as u64, t.name.as_str())).collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(HeaderError::Corrupt(format!("tensors {} and {} overlap", w[0].2, w[1].2)));
        }
    }
    Ok(())
}

fn read_value(c: &mut Cursor, ty: u32, key: &str, depth: usize) -> Parse<MetaValue> {
    use type_id::*;
    Ok(match ty {
        U8 => MetaValue::U8(c.u8(key)?),
        I8 => MetaValue::I8(c.u8(key)? as i8),
        U16 => MetaValue::U16(c.u16(key)?),
        I16 => MetaValue::I16(c.u16(key)? as i16),
        U32 => MetaValue::U32(c.u32(key)?),
        I32 => MetaValue::I32(c.u32(key)? as i32),
        F32 => MetaValue::F32(f32::from_bits(c.u32(key)?)),
        BOOL => match c.u8(key)? {
            0 => MetaValue::Bool(false),
            1 => MetaValue::Bool(true),
            b => return Err(HeaderError::Corrupt(format!("metadata {key}: bool byte {b} is neither 0 nor 1"))),
        },
        STRING => MetaValue::String(c.string(key)?),
        U64 => MetaValue::U64(c.u64(key)?),
        I64 => MetaValue::I64(c.u64(key)? as i64),
        F64 => MetaValue::F64(f64::from_bits(c.u64(key)?)),
        ARRAY => {
            if depth >= MAX_ARRAY_DEPTH {
                return Err(HeaderError::Corrupt(format!(
                    "metadata {key}: arrays nested deeper than {MAX_ARRAY_DEPTH}"
                )));
            }
            let elem = c.u32(key)?;
            let n = c.u64(key)?;
            let min_size: u64 = match elem {
                U8 | I8 | BOOL => 1,
                U16 | I16 => 2,
                U32 | I32 | F32 => 4,
                U64 | I64 | F64 | STRING => 8,
                ARRAY => 12,
                other => {
                    return Err(HeaderError::Corrupt(format!("metadata {key}: unknown array element type {other}")))
                }
            };
            if n > c.remaining() as u64 / min_size {
                return Err(HeaderError::Corrupt(format!(
                    "metadata {key}: array of {n} elements does not fit in the file"
                )));
            }
            // No capacity from the header: the vector grows only as elements are really read.
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(read_value(c, elem, key, depth + 1)?);
            }
            MetaValue::Array(elem, items)
        }
        other => return Err(HeaderError::Corrupt(format!("metadata {key}: unknown value type {other}"))),
    })
}
