//! llama.cpp's importance-matrix file (GGUF, as `llama-imatrix` writes it and `llama-quantize
//! --imatrix` reads it): per weight tensor `<name>.in_sum2` (sum over calibration tokens of
//! x_j^2 for each input column j, f32 [n_in]) and `<name>.counts` (tokens, f32 [1]), with
//! `general.type = imatrix`, `imatrix.datasets`, `imatrix.chunk_count`, `imatrix.chunk_size`.
//! Written with gguf-rs-lib's GGUF v3 writer, under a temporary name.

use super::collect::Collector;
use super::report::site_tensors;
use crate::error::{Error, Result};
use crate::forward::LinearSite;
use crate::io::atomic::AtomicFile;
use crate::model::Model;
use gguf_rs_lib::format::metadata::MetadataArray;
use gguf_rs_lib::format::types::{GGUFTensorType, GGUFValueType};
use gguf_rs_lib::prelude::{GGUFBuilder, MetadataValue};
use std::path::Path;

pub fn write(
    path: &Path,
    model: &Model,
    c: &Collector,
    dataset: &str,
    chunks: usize,
    chunk_size: usize,
) -> Result<usize> {
    let err = |e: gguf_rs_lib::prelude::GGUFError| Error::Invalid(format!("{}: writing imatrix: {e}", path.display()));
    let datasets = MetadataArray {
        element_type: GGUFValueType::String,
        length: 1,
        values: vec![MetadataValue::String(dataset.into())],
    };
    let mut b = GGUFBuilder::new()
        .add_metadata("general.type", MetadataValue::String("imatrix".into()))
        .add_metadata("imatrix.datasets", MetadataValue::Array(Box::new(datasets)))
        .add_metadata("imatrix.chunk_count", MetadataValue::U32(chunks as u32))
        .add_metadata("imatrix.chunk_size", MetadataValue::U32(chunk_size as u32));
    let mut sites: Vec<(&LinearSite, _)> = c.linear.iter().filter(|(s, _)| **s != LinearSite::Output).collect();
    sites.sort_by_key(|(s, _)| **s);
    let mut n = 0;
    for (site, st) in sites {
        let sums: Vec<u8> = st.sum_sq.iter().flat_map(|v| (*v as f32).to_le_bytes()).collect();
        for name in site_tensors(model, *site) {
            b = b
                .add_tensor(format!("{name}.in_sum2"), vec![st.sum_sq.len() as u64], GGUFTensorType::F32, sums.clone())
                .map_err(err)?
                .add_tensor(
                    format!("{name}.counts"),
                    vec![1, 1],
                    GGUFTensorType::F32,
                    (st.count as f32).to_le_bytes().to_vec(),
                )
                .map_err(err)?;
            n += 1;
        }
    }
    let (mut bytes, _) = b.build_to_bytes().map_err(err)?;
    // ggml reads the data section as the sum of every tensor's size padded to the alignment
    // (32): pad the last tensor too, or llama.cpp reports a short "binary blob".
    bytes.resize(bytes.len().div_ceil(32) * 32, 0);
    let mut f = AtomicFile::create(path)?;
    f.write_all(&bytes)?;
    f.commit()?;
    Ok(n)
}
