//! compressed-tensors' `quantization_config` entry of `config.json`: read (which schemes a
//! checkpoint declares, refusing what sinkquant cannot dequantize exactly) and written (one
//! `pack-quantized` group targeting every `Linear`), as compressed-tensors 0.20.0 spells it.

use super::scheme::Scheme;
use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::path::Path;

fn bad(path: &Path, msg: impl Into<String>) -> Error {
    Error::corrupt(path, msg)
}

/// The compressed-tensors release whose layout and config this module reproduces.
pub const COMPRESSED_TENSORS_VERSION: &str = "0.20.0";

/// The `quantization_config` of a compressed-tensors checkpoint, if `cfg` declares one.
pub fn declared(cfg: &Value) -> Option<&Value> {
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

/// The supported weight schemes of the config groups of `q` (a declared `quantization_config`
/// read from `cfg_path`).
pub(super) fn schemes(q: &Value, cfg_path: &Path) -> Result<Vec<Scheme>> {
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
    Ok(schemes)
}

/// `config.json`'s `quantization_config` for a model whose `Linear` layers, except the modules
/// named in `ignore` (exact names, or compressed-tensors' `re:` regexes, e.g. `lm_head`), are
/// stored with `scheme`.
pub fn quantization_config(scheme: &Scheme, ignore: &[String]) -> Value {
    let (strategy, group_size) = match scheme.group_size {
        Some(g) => ("group", json!(g)),
        None => ("channel", Value::Null),
    };
    json!({
        "config_groups": {
            "group_0": {
                "format": "pack-quantized",
                "input_activations": null,
                "output_activations": null,
                "targets": ["Linear"],
                "weights": {
                    "dynamic": false,
                    "group_size": group_size,
                    "num_bits": scheme.bits,
                    "strategy": strategy,
                    "symmetric": scheme.symmetric,
                    "type": "int"
                }
            }
        },
        "format": "pack-quantized",
        "global_compression_ratio": null,
        "ignore": ignore,
        "kv_cache_scheme": null,
        "quant_method": "compressed-tensors",
        "quantization_status": "compressed",
        "sparsity_config": {},
        "transform_config": {},
        "version": COMPRESSED_TENSORS_VERSION
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_config_reads_back() {
        let s = Scheme { bits: 8, group_size: None, symmetric: true };
        let c = quantization_config(&s, &["lm_head".into()]);
        assert_eq!(c["config_groups"]["group_0"]["weights"]["strategy"], "channel");
        assert_eq!(c["config_groups"]["group_0"]["weights"]["group_size"], Value::Null);
        assert_eq!(c["ignore"][0], "lm_head");
        assert_eq!(c["format"], "pack-quantized");
        let cfg = json!({ "quantization_config": c });
        let q = declared(&cfg).unwrap();
        assert_eq!(schemes(q, Path::new("config.json")).unwrap(), vec![s]);
        let s = Scheme { bits: 4, group_size: Some(32), symmetric: false };
        let cfg = json!({ "quantization_config": quantization_config(&s, &[]) });
        assert_eq!(schemes(declared(&cfg).unwrap(), Path::new("config.json")).unwrap(), vec![s]);
    }
}
