//! safetensors input: one file, or a Hugging Face directory whose weights may be sharded with
//! `model.safetensors.index.json`. Headers are parsed and validated by the `safetensors` crate
//! (bounded header size, contiguous in-bounds offsets); the data stays memory-mapped.

use crate::error::{Error, Result};
use crate::io::mmap::Mapped;
use crate::io::store::{StorageType, TensorStore};
use crate::quant::formats::GgmlType;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

pub const INDEX_FILE: &str = "model.safetensors.index.json";
pub const SINGLE_FILE: &str = "model.safetensors";

/// The weights of a safetensors model and the directory that holds its config and tokenizer.
pub struct SafetensorsModel {
    /// Folder beside the weights (where `config.json` and `tokenizer.json` are looked for).
    pub dir: PathBuf,
    pub store: TensorStore,
    /// The `__metadata__` of the first shard.
    pub metadata: HashMap<String, String>,
}

/// Which files hold the weights of `path` (a file, an index, or a directory).
pub fn resolve_shards(path: &Path) -> Result<(PathBuf, Vec<PathBuf>)> {
    if path.is_dir() {
        let index = path.join(INDEX_FILE);
        if index.is_file() {
            return Ok((path.to_path_buf(), shards_from_index(&index)?));
        }
        let single = path.join(SINGLE_FILE);
        if single.is_file() {
            return Ok((path.to_path_buf(), vec![single]));
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .collect();
        found.sort();
        return match found.len() {
            1 => Ok((path.to_path_buf(), found)),
            0 => Err(Error::corrupt(path, "directory holds no .safetensors file")),
            n => Err(Error::corrupt(path, format!("directory holds {n} .safetensors files but no {INDEX_FILE}"))),
        };
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if path.extension().is_some_and(|x| x == "json") {
        return Ok((dir, shards_from_index(path)?));
    }
    std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Ok((dir, vec![path.to_path_buf()]))
}

fn shards_from_index(index: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(index).map_err(|e| Error::io(index, e))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::corrupt(index, format!("invalid JSON: {e}")))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::corrupt(index, "no \"weight_map\" object"))?;
    let dir = index.parent().unwrap_or(Path::new("."));
    let mut files = BTreeSet::new();
    for (tensor, file) in map {
        let file =
            file.as_str().ok_or_else(|| Error::corrupt(index, format!("weight_map entry {tensor} is not a string")))?;
        let p = Path::new(file);
        if p.is_absolute() || p.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Err(Error::corrupt(index, format!("shard name {file:?} is not a plain file name")));
        }
        files.insert(dir.join(p));
    }
    if files.is_empty() {
        return Err(Error::corrupt(index, "weight_map is empty"));
    }
    Ok(files.into_iter().collect())
}

fn storage_type(d: Dtype) -> StorageType {
    match d {
        Dtype::F32 => StorageType::Ggml(GgmlType::F32),
        Dtype::F16 => StorageType::Ggml(GgmlType::F16),
        Dtype::BF16 => StorageType::Ggml(GgmlType::BF16),
        other => StorageType::Other(other.to_string()),
    }
}

impl SafetensorsModel {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let (dir, shards) = resolve_shards(path)?;
        let mut store = TensorStore::default();
        let mut metadata = None;
        for shard in shards {
            let map = Mapped::open(&shard)?;
            let (n, meta) = SafeTensors::read_metadata(map.bytes())
                .map_err(|e| Error::corrupt(&shard, format!("invalid safetensors file: {e}")))?;
            let data_start = 8 + n;
            if metadata.is_none() {
                metadata = Some(meta.metadata().clone().unwrap_or_default());
            }
            let file = store.add_file(shard.clone(), map);
            // Offset order is file order.
            let tensors = meta.tensors();
            for name in meta.offset_keys() {
                let info = tensors[&name];
                let (a, b) = info.data_offsets;
                store.push(file, name, info.shape.clone(), storage_type(info.dtype), data_start + a, b - a)?;
            }
        }
        Ok(SafetensorsModel { dir, store, metadata: metadata.unwrap_or_default() })
    }
}
