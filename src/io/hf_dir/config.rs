//! `config.json` (built by `crate::model::HParams::to_hf_config`), `generation_config.json`,
//! and the metadata of `model.safetensors`.

use super::{CONFIG, GENERATION_CONFIG};
use crate::error::Result;
use crate::io::atomic::AtomicDir;
use serde_json::Value;
use std::collections::BTreeMap;

/// Writes `config.json`, with `quantization_config` when given.
pub fn write_config(dir: &AtomicDir, mut cfg: Value, quantization_config: Option<Value>) -> Result<()> {
    if let Some(q) = quantization_config {
        cfg["quantization_config"] = q;
    }
    dir.write_json(CONFIG, &cfg)
}

/// Writes `generation_config.json` with the special ids the vocabulary has (BOS, EOS, padding).
pub fn write_generation_config(dir: &AtomicDir, bos: Option<u32>, eos: Option<u32>, pad: Option<u32>) -> Result<()> {
    let mut gen = serde_json::json!({"_from_model_config": true});
    for (k, v) in [("bos_token_id", bos), ("eos_token_id", eos), ("pad_token_id", pad)] {
        if let Some(v) = v {
            gen[k] = v.into();
        }
    }
    dir.write_json(GENERATION_CONFIG, &gen)
}

/// The `__metadata__` of `model.safetensors`: the format, sinkquant's version and, when given,
/// the source file's name.
pub fn safetensors_metadata(source: Option<String>) -> BTreeMap<String, String> {
    let mut meta = BTreeMap::from([
        ("format".to_string(), "pt".to_string()),
        ("sinkquant.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
    ]);
    if let Some(s) = source {
        meta.insert("sinkquant.source".to_string(), s);
    }
    meta
}
