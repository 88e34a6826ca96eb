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
use crate::error::{Error, Result};
use crate::model::{LayerTensor, Model, Role};
use crate::quant::formats::GgmlType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

    pub const ALL: [OutlierPolicy; 4] =
        [OutlierPolicy::Keep, OutlierPolicy::Fold, OutlierPolicy::Both, OutlierPolicy::None];

    pub fn name(self) -> &'static str {
        match self {
            OutlierPolicy::Keep => "keep",
            OutlierPolicy::Fold => "fold",
            OutlierPolicy::Both => "both",
            OutlierPolicy::None => "none",
        }
    }

    /// The policy named `s` (case-insensitive).
    pub fn parse(s: &str) -> Result<OutlierPolicy> {
        Self::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(s)).ok_or_else(|| Error::Unknown {
            what: "outliers",
            name: s.to_string(),
            known: Self::ALL.iter().map(|p| p.name()).collect(),
        })
    }
}

impl fmt::Display for OutlierPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a tensor must be protected from coarse quantization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// The matrix writes a massive dimension through a super weight at `[row, col]`.
    WritesMassive { dim: usize, col: usize, value: f32 },
    /// One input channel holds `percent` % of the matrix's input energy.
    Dominated { channel: usize, percent: f64 },
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protection::WritesMassive { dim, col, value } => {
                write!(f, "writes massive dim {dim} (super weight [{dim},{col}] = {value:+.2})")
            }
            Protection::Dominated { channel, percent } => {
                write!(f, "input channel {channel} holds {percent:.0}% of the input energy")
            }
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
    pub writers: BTreeMap<Role, Protection>,
    /// Tensors whose input is dominated by one channel.
    #[serde(skip)]
    pub dominated: BTreeMap<Role, Protection>,
}

impl Protected {
    pub fn from_report(model: &Model, r: &ScanReport) -> Protected {
        let mut p = Protected { dims: r.massive_dims.iter().map(|d| d.dim).collect(), ..Default::default() };
        for sw in &r.super_weights {
            p.writers.insert(
                Role::Layer(sw.layer, LayerTensor::FfnDown),
                Protection::WritesMassive { dim: sw.row, col: sw.col, value: sw.value },
            );
        }
        for site in &r.linear {
            let total: f64 = site.mean_sq.iter().map(|&x| x as f64).sum();
            let (c, top) =
                site.mean_sq.iter().enumerate().fold((0, 0f32), |best, (i, &x)| if x > best.1 { (i, x) } else { best });
            if total > 0.0 && top as f64 / total >= DOMINANT_SHARE {
                for name in &site.tensors {
                    if let Some((role, _)) = model.roles().find(|(role, _)| &role.gguf_name() == name) {
                        p.dominated
                            .insert(role, Protection::Dominated { channel: c, percent: 100.0 * top as f64 / total });
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
        T::Q4_K | T::Q5_K | T::IQ4_XS => T::Q6_K,
        T::Q4_0 | T::Q4_1 | T::Q5_0 | T::Q5_1 | T::Q6_K | T::IQ4_NL => T::Q8_0,
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
) -> Option<(GgmlType, Protection)> {
    if !policy.keeps() || m.is_float() {
        return None;
    }
    let why = p.writers.get(&role).or_else(|| p.dominated.get(&role))?;
    let up = if p.writers.contains_key(&role) { GgmlType::Q8_0 } else { raised(ty) };
    (up.bits_per_weight() > ty.bits_per_weight()).then(|| (up, why.clone()))
}
