//! Sun et al.'s intervention experiment as a stage: the massive dimensions to set to zero or to
//! their calibration mean, from a scan report file or from a fresh scan of the built-in set.

use super::calibrate::scan;
use super::job::CalibSpec;
use super::observer::Observer;
use crate::calib::collect::Criterion;
use crate::calib::intervene::{Intervene, Intervention};
use crate::error::{Error, Result};
use crate::memory::Budget;
use crate::model::Model;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// (layer where it appears, dimension, calibration mean) of each massive dimension in a scan
/// report written by `quantize scan --json`, and the report's criterion.
fn from_report_file(p: &Path) -> Result<(Criterion, Vec<(usize, usize, f32)>)> {
    let bad = |msg: &str| Error::corrupt(p, msg);
    let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(&format!("not a scan report: {e}")))?;
    let crit = serde_json::from_value(v["criterion"].clone()).map_err(|e| bad(&format!("no criterion: {e}")))?;
    let dims = v["massive_dims"]
        .as_array()
        .ok_or_else(|| bad("no massive_dims"))?
        .iter()
        .map(|d| {
            Some((d["first_layer"].as_u64()? as usize, d["dim"].as_u64()? as usize, d["mean_value"].as_f64()? as f32))
        })
        .collect::<Option<_>>()
        .ok_or_else(|| bad("malformed massive_dims entry"))?;
    Ok((crit, dims))
}

/// The intervention hook for `model`: massive dimensions from the scan report `report`, or
/// from a scan of 8 chunks of the built-in calibration set.
pub fn intervention(
    model: &Model,
    mode: Intervention,
    report: Option<&Path>,
    obs: &mut dyn Observer,
) -> Result<Intervene> {
    let (criterion, dims) = match report {
        Some(p) => from_report_file(p)?,
        None => {
            let spec = CalibSpec { chunks: 8, ..CalibSpec::default() };
            let s = scan(model, &spec, Criterion::default(), 0, &Budget::new(None), obs)?;
            let dims = s.report.massive_dims.iter().map(|d| (d.first_layer, d.dim, d.mean_value as f32)).collect();
            (Criterion::default(), dims)
        }
    };
    if dims.is_empty() {
        return Err(Error::Invalid("no massive activations to intervene on (the scan found none)".into()));
    }
    let mut targets: BTreeMap<usize, Vec<(usize, f32)>> = BTreeMap::new();
    for (layer, dim, mean) in dims {
        if layer >= model.hparams.n_layers || dim >= model.hparams.d_model {
            return Err(Error::Invalid(format!("scan report names layer {layer}, dim {dim}: not in this model")));
        }
        targets.entry(layer).or_default().push((dim, mean));
    }
    Ok(Intervene { mode, criterion, targets, changed: 0 })
}
