//! A format-neutral view of the tensors in one or more memory-mapped files (a GGUF, a
//! safetensors file, or the shards of a Hugging Face directory). Nothing is copied until a
//! caller asks for one tensor, as raw bytes or dequantized to f32.

use super::mmap::{Mapped, SharedBytes};
use crate::error::{Error, Result};
use crate::quant::formats::{dequantize, GgmlType};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// How a tensor's elements are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageType {
    /// A ggml type (F32, F16 and BF16 have the same bytes in safetensors and GGUF).
    Ggml(GgmlType),
    /// A type sinkquant lists but does not compute with (e.g. safetensors I32, F64).
    Other(String),
}

impl fmt::Display for StorageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageType::Ggml(t) => write!(f, "{t}"),
            StorageType::Other(s) => f.write_str(s),
        }
    }
}

#[derive(Clone, Debug)]
pub struct TensorEntry {
    pub name: String,
    /// Row-major shape, outermost dimension first.
    pub shape: Vec<usize>,
    pub dtype: StorageType,
    pub nbytes: usize,
    file: usize,
    start: usize,
}

impl TensorEntry {
    pub fn n_elements(&self) -> usize {
        self.shape.iter().product()
    }
}

#[derive(Default)]
pub struct TensorStore {
    files: Vec<(PathBuf, Mapped)>,
    entries: Vec<TensorEntry>,
    index: HashMap<String, usize>,
}

impl TensorStore {
    /// Adds a mapped file; returns its index for `push`.
    pub(crate) fn add_file(&mut self, path: PathBuf, map: Mapped) -> usize {
        self.files.push((path, map));
        self.files.len() - 1
    }

    /// Registers a tensor whose bytes the caller has already bounds-checked.
    pub(crate) fn push(
        &mut self,
        file: usize,
        name: String,
        shape: Vec<usize>,
        dtype: StorageType,
        start: usize,
        nbytes: usize,
    ) -> Result<()> {
        debug_assert!(start + nbytes <= self.files[file].1.bytes().len());
        if self.index.contains_key(&name) {
            return Err(Error::corrupt(&self.files[file].0, format!("tensor {name} appears twice")));
        }
        self.index.insert(name.clone(), self.entries.len());
        self.entries.push(TensorEntry { name, shape, dtype, nbytes, file, start });
        Ok(())
    }

    /// Tensors in file order.
    pub fn entries(&self) -> &[TensorEntry] {
        &self.entries
    }

    pub fn get(&self, name: &str) -> Option<&TensorEntry> {
        self.index.get(name).map(|&i| &self.entries[i])
    }

    /// The file a tensor lives in.
    pub fn path_of(&self, e: &TensorEntry) -> &Path {
        &self.files[e.file].0
    }

    /// Paths of all mapped files.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(p, _)| p.as_path())
    }

    pub fn bytes(&self, e: &TensorEntry) -> &[u8] {
        &self.files[e.file].1.bytes()[e.start..e.start + e.nbytes]
    }

    /// A tensor's bytes shared with the memory map (no copy).
    pub fn shared_bytes(&self, e: &TensorEntry) -> SharedBytes {
        self.files[e.file].1.shared(e.start, e.nbytes)
    }

    /// Dequantizes one tensor to a new f32 vector.
    pub fn read_f32(&self, e: &TensorEntry) -> Result<Vec<f32>> {
        let StorageType::Ggml(t) = &e.dtype else {
            return Err(Error::unsupported(self.path_of(e), format!("dtype {} of tensor {}", e.dtype, e.name)));
        };
        let mut out = vec![0f32; e.n_elements()];
        // Split into chunks of whole blocks and dequantize them on all cores.
        const CHUNK: usize = 1 << 16;
        let chunk_bytes = t.row_bytes(CHUNK).expect("block sizes divide 2^16");
        out.par_chunks_mut(CHUNK)
            .zip(self.bytes(e).par_chunks(chunk_bytes))
            .for_each(|(dst, src)| dequantize(*t, src, dst));
        Ok(out)
    }

    /// Dequantizes rows `rows` of a tensor stored as rows of its last dimension.
    pub fn read_f32_rows(&self, e: &TensorEntry, rows: std::ops::Range<usize>) -> Result<Vec<f32>> {
        let StorageType::Ggml(t) = &e.dtype else {
            return Err(Error::unsupported(self.path_of(e), format!("dtype {} of tensor {}", e.dtype, e.name)));
        };
        let cols = *e.shape.last().unwrap_or(&1);
        let n_rows = e.n_elements() / cols.max(1);
        let row_bytes = t.row_bytes(cols).filter(|_| rows.end <= n_rows && rows.start <= rows.end);
        let Some(row_bytes) = row_bytes else {
            let msg = format!("rows {rows:?} of tensor {} ({n_rows} rows of {cols})", e.name);
            return Err(Error::Invalid(format!("{}: cannot read {msg}", self.path_of(e).display())));
        };
        let bytes = &self.bytes(e)[rows.start * row_bytes..rows.end * row_bytes];
        let mut out = vec![0f32; rows.len() * cols];
        out.par_chunks_mut(cols).zip(bytes.par_chunks(row_bytes)).for_each(|(dst, src)| dequantize(*t, src, dst));
        Ok(out)
    }

    /// Lets the kernel drop the tensor's pages from memory.
    pub fn release(&self, e: &TensorEntry) {
        self.files[e.file].1.release(e.start, e.nbytes);
    }

    /// Sum of all tensor bytes.
    pub fn total_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.nbytes as u64).sum()
    }
}
