//! What the calibration scan says must be protected, and the `--outliers` policy that acts on it.
//!
//! - `keep`: tensors that write a massive dimension (the super weights' down projection) and
//!   tensors whose input is dominated by one channel stay in higher precision (whole tensors:
//!   the granularity GGUF allows).
//! - `fold`: the outlier channels' scale moves into full-precision norm weights by an exact
//!   equivalence transform (see `crate::transform::fold`); types are unchanged.
//! - `both`: keep, then fold.
//! - `none`: plain quantization.

use super::preset::Mixture;
use crate::calib::report::ScanReport;
use crate::model::{LayerTensor, Model, Role};
use crate::quant::formats::GgmlType;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OutlierPolicy {
    Keep,
    Fold,
    /// Keep, then fold.
    Both,
    None,
}

impl OutlierPolicy {
    pub fn keeps(self) -> bool {
        matches!(self, OutlierPolicy::Keep | OutlierPolicy::Both)
    }

    pub fn folds(self) -> bool {
        matches!(self, OutlierPolicy::Fold | OutlierPolicy::Both)
    }

    pub fn name(self) -> &'static str {
        match self {
            OutlierPolicy::Keep => "keep",
            OutlierPolicy::Fold => "fold",
            OutlierPolicy::Both => "both",
            OutlierPolicy::None => "none",
        }
    }
}

/// A channel holds at least this share of a linear input's energy: the input is dominated by it.
pub const DOMINANT_SHARE: f64 = 0.5;

/// Tensors the scan marked, each with the reason.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Protected {
    /// Massive residual dimensions.
    pub dims: Vec<usize>,
    /// Tensors that write a massive dimension (super weights' matrices).
    #[serde(skip)]
    pub writers: BTreeMap<Role, String>,
    /// Tensors whose input is dominated by one channel.
    #[serde(skip)]
    pub dominated: BTreeMap<Role, String>,
}

impl Protected {
    pub fn from_report(model: &Model, r: &ScanReport) -> Protected {
        let mut p = Protected { dims: r.massive_dims.iter().map(|d| d.dim).collect(), ..Default::default() };
        for sw in &r.super_weights {
            p.writers.insert(
                Role::Layer(sw.layer, LayerTensor::FfnDown),
                format!("writes massive dim {} (super weight [{},{}] = {:+.2})", sw.row, sw.row, sw.col, sw.value),
            );
        }
        for site in &r.linear {
            let total: f64 = site.mean_sq.iter().map(|&x| x as f64).sum();
            let (c, top) =
                site.mean_sq.iter().enumerate().fold((0, 0f32), |best, (i, &x)| if x > best.1 { (i, x) } else { best });
            if total > 0.0 && top as f64 / total >= DOMINANT_SHARE {
                for name in &site.tensors {
                    if let Some((role, _)) = model.roles().find(|(role, _)| &role.gguf_name() == name) {
                        p.dominated.insert(
                            role,
                            format!("input channel {c} holds {:.0}% of the input energy", 100.0 * top as f64 / total),
                        );
                    }
                }
            }
        }
        p
    }
}

/// The next type up in precision for `keep`, within the family of the mixture.
fn raised(ty: GgmlType) -> GgmlType {
    use GgmlType as T;
    match ty {
        T::Q2_K | T::Q3_K => T::Q5_K,
        T::Q4_K | T::Q5_K => T::Q6_K,
        T::Q4_0 | T::Q4_1 | T::Q5_0 | T::Q5_1 | T::Q6_K => T::Q8_0,
        other => other,
    }
}

/// The type `keep` gives a protected tensor instead of `ty`, with the reason.
pub fn adjust(
    policy: OutlierPolicy,
    role: Role,
    ty: GgmlType,
    p: &Protected,
    m: Mixture,
) -> Option<(GgmlType, String)> {
    if !policy.keeps() || m.is_float() {
        return None;
    }
    let why = p.writers.get(&role).or_else(|| p.dominated.get(&role))?;
    let up = if p.writers.contains_key(&role) { GgmlType::Q8_0 } else { raised(ty) };
    (up.bits_per_weight() > ty.bits_per_weight()).then(|| (up, format!("keep: {why}")))
}
