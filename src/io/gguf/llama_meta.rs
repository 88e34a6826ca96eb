//! GGUF metadata for a quantized model, assembled in the order llama.cpp's converter writes it:
//! `general.*`, the hyperparameters in llama.cpp's keys (`crate::model::gguf_keys`), the file
//! type, the tokenizer (`crate::tokenizer::GgufVocab::to_metadata`), and sinkquant's provenance
//! keys, spelled here.

use super::value::type_id;
use super::MetaValue;
use serde::Serialize;

/// Where the file came from and how it was made (`sinkquant.*` keys).
#[derive(Clone, Debug, Serialize)]
pub struct Provenance {
    pub preset: String,
    pub outliers: String,
    /// Calibration file name (or "built-in"), its sha256, chunks and tokens per chunk;
    /// `None` without calibration.
    pub calibration: Option<(String, String, usize, usize)>,
    pub massive_dims: Vec<usize>,
}

/// The keys that describe the model itself, from the layers that know them.
pub struct ModelKeys {
    /// `general.architecture`.
    pub architecture: &'static str,
    /// `general.*` but the architecture and the type-dependent keys.
    pub general: Vec<(String, MetaValue)>,
    /// `<arch>.*` hyperparameters.
    pub hparams: Vec<(String, MetaValue)>,
    /// `tokenizer.*`.
    pub vocab: Vec<(String, MetaValue)>,
}

fn s(v: &str) -> MetaValue {
    MetaValue::String(v.to_string())
}

fn u32v(v: usize) -> MetaValue {
    MetaValue::U32(v as u32)
}

/// Every metadata key of the output, in the order llama.cpp's converter writes them.
pub fn assemble(keys: ModelKeys, file_type: u32, prov: &Provenance) -> Vec<(String, MetaValue)> {
    let mut out = vec![("general.architecture".to_string(), s(keys.architecture))];
    out.extend(keys.general);
    out.extend(keys.hparams);
    out.push(("general.file_type".into(), MetaValue::U32(file_type)));
    out.push(("general.quantization_version".into(), MetaValue::U32(2)));
    out.extend(keys.vocab);
    out.push(("sinkquant.version".into(), s(env!("CARGO_PKG_VERSION"))));
    out.push(("sinkquant.preset".into(), s(&prov.preset)));
    out.push(("sinkquant.outliers".into(), s(&prov.outliers)));
    if let Some((file, sha, chunks, ctx)) = &prov.calibration {
        out.push(("sinkquant.calibration.file".into(), s(file)));
        out.push(("sinkquant.calibration.sha256".into(), s(sha)));
        out.push(("sinkquant.calibration.chunks".into(), u32v(*chunks)));
        out.push(("sinkquant.calibration.ctx".into(), u32v(*ctx)));
    }
    out.push((
        "sinkquant.massive_dims".into(),
        MetaValue::Array(type_id::U32, prov.massive_dims.iter().map(|&d| u32v(d)).collect()),
    ));
    out
}
