//! `--outliers fold`: per-channel scales moved out of the quantized matrices into the
//! full-precision norm weights (and, for the down projection, into the up projection's rows),
//! an exact equivalence transform in full precision:
//!
//! - `attn_norm` gain `g` (and LayerNorm's bias `b`) -> `g / s` (`b / s`), and the columns of
//!   Q, K, V (or the fused QKV) -> `W diag(s)`;
//! - `ffn_norm` likewise, with the columns of gate and up (or fused gate-up, or the plain up);
//! - for gated feed-forwards only, the rows of up -> `diag(1/s) W`, and the columns of down ->
//!   `W diag(s)` (`act(gate x) * (up x)` is linear in `up x`; `act(up x)` is not).
//!
//! Each architecture's description says what this folds for it (`ArchSpec::folding`).
//!
//! `s` is chosen per site from the calibration statistics as `mean(x_c^2)^(alpha/2)` (the
//! activation-aware scaling of AWQ), with `alpha` searched on a sample of rows to minimise the
//! quantization error measured in the layer's output space, `sum_c E[x_c^2] (dW_c / s_c)^2`.
//! `alpha = 0` (no scaling) is always a candidate, so folding never raises that error.

use crate::error::Result;
use crate::model::arch::Ffn;
use crate::model::{Arch, HParams, LayerTensor, Model, Role};
use crate::quant::formats::GgmlType;
use crate::quant::measure::{sample_rows, scaled_error, SAMPLE_ROWS};
use std::collections::BTreeMap;

/// The exponents tried.
pub const ALPHAS: [f32; 6] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5];

/// Where a scale vector applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Site {
    /// attn_norm -> Q, K, V.
    Attn(usize),
    /// ffn_norm -> gate, up.
    Ffn(usize),
    /// up rows -> down columns.
    Down(usize),
}

impl Site {
    /// Whether `role`'s columns are multiplied by the scale (whichever of the separate or
    /// fused matrices the model has).
    pub fn scales_columns_of(self, role: Role) -> bool {
        use LayerTensor::*;
        match (self, role) {
            (Site::Attn(l), Role::Layer(i, AttnQ | AttnK | AttnV | AttnQkv)) => l == i,
            (Site::Ffn(l), Role::Layer(i, FfnGate | FfnUp | FfnGateUp)) => l == i,
            (Site::Down(l), Role::Layer(i, FfnDown)) => l == i,
            _ => false,
        }
    }

    /// The matrices of `model` whose columns are multiplied by the scale.
    pub fn consumers(self, model: &Model) -> Vec<Role> {
        let l = match self {
            Site::Attn(l) | Site::Ffn(l) | Site::Down(l) => l,
        };
        LayerTensor::ALL
            .iter()
            .map(|&t| Role::Layer(l, t))
            .filter(|&r| self.scales_columns_of(r) && model.tensor(r).is_some())
            .collect()
    }

    /// The sites of an architecture with `n_layers` layers (no down site without a gate).
    pub fn all(arch: Arch, n_layers: usize) -> Vec<Site> {
        let gated = arch.spec().ffn == Ffn::Gated;
        (0..n_layers)
            .flat_map(|l| [Site::Attn(l), Site::Ffn(l)].into_iter().chain(gated.then_some(Site::Down(l))))
            .collect()
    }
}

/// The chosen scales, and what each choice measured.
#[derive(Default)]
pub struct Folds {
    pub scales: BTreeMap<Site, Vec<f32>>,
    /// Per site: chosen alpha, output-space error at alpha 0 and at the chosen alpha.
    pub chosen: BTreeMap<Site, (f32, f64, f64)>,
}

/// Candidate scales for `alpha`, normalised to a geometric mean of 1 so that magnitudes stay
/// in range; channels never seen (zero statistics) keep scale 1.
pub fn scales_for(mean_sq: &[f32], alpha: f32) -> Vec<f32> {
    let raw: Vec<f32> = mean_sq.iter().map(|&m| if m > 0.0 { m.powf(alpha / 2.0) } else { 1.0 }).collect();
    let log_mean = raw.iter().map(|x| (*x as f64).ln()).sum::<f64>() / raw.len().max(1) as f64;
    let norm = (-log_mean).exp() as f32;
    raw.iter().map(|x| (x * norm).clamp(1e-4, 1e4)).collect()
}

/// Picks alpha for one site from its consumers' (sampled rows, type) and input statistics.
pub fn choose(consumers: &[(Vec<f32>, GgmlType)], cols: usize, mean_sq: &[f32]) -> (f32, Vec<f32>, f64, f64) {
    let mut best: Option<(f32, Vec<f32>, f64)> = None;
    let mut base = 0.0;
    for &alpha in &ALPHAS {
        let s = scales_for(mean_sq, alpha);
        let err: f64 = consumers.iter().map(|(w, ty)| scaled_error(*ty, w, cols, mean_sq, &s)).sum();
        if alpha == 0.0 {
            base = err;
        }
        if best.as_ref().is_none_or(|b| err < b.2) {
            best = Some((alpha, s, err));
        }
    }
    let (alpha, s, err) = best.expect("at least one alpha");
    (alpha, s, base, err)
}

/// Chooses the scales of every site of `model` from its consumers' planned types (`planned`,
/// `None` for a tensor not in the plan) and the calibration statistics; sites without
/// statistics or whose best alpha is 0 are left out.
pub fn choose_all(
    model: &Model,
    planned: &dyn Fn(Role) -> Option<GgmlType>,
    importance: &BTreeMap<Role, Vec<f32>>,
    progress: &mut dyn FnMut(usize),
) -> Result<Folds> {
    let mut folds = Folds::default();
    let sites = Site::all(model.arch(), model.hparams.n_layers);
    for (done, site) in sites.iter().enumerate() {
        let consumers = site.consumers(model);
        if consumers.is_empty() {
            continue;
        }
        let Some(stats) = importance.get(&consumers[0]) else { continue };
        let mut samples = Vec::new();
        for role in &consumers {
            let Some(ty) = planned(*role).filter(|t| t.is_quantized()) else { continue };
            let (shape, w) = model.read_canonical(*role)?;
            samples.push((sample_rows(&w, shape[1], SAMPLE_ROWS), ty));
        }
        if !samples.is_empty() {
            let (alpha, s, before, after) = choose(&samples, stats.len(), stats);
            folds.chosen.insert(*site, (alpha, before, after));
            if alpha > 0.0 {
                folds.scales.insert(*site, s);
            }
        }
        progress(done + 1);
    }
    Ok(folds)
}

/// Applies the folds to one tensor's f32 values (canonical layout), in place.
pub fn apply(folds: &Folds, hp: &HParams, role: Role, shape: &[usize], data: &mut [f32]) {
    use LayerTensor::*;
    let cols = *shape.last().unwrap_or(&1);
    let offset = hp.arch.gguf_norm_offset();
    for (site, s) in &folds.scales {
        if site.scales_columns_of(role) {
            for row in data.chunks_exact_mut(cols) {
                row.iter_mut().zip(s).for_each(|(x, s)| *x *= s);
            }
        }
        let divide_rows = |rows: &mut [f32]| {
            for (row, s) in rows.chunks_exact_mut(cols).zip(s) {
                row.iter_mut().for_each(|x| *x /= s);
            }
        };
        match (site, role) {
            (Site::Down(l), Role::Layer(i, FfnUp)) if *l == i => divide_rows(data),
            // Phi-3's fused gate-up: the up half (rows d_ff..).
            (Site::Down(l), Role::Layer(i, FfnGateUp)) if *l == i => divide_rows(&mut data[hp.d_ff * cols..]),
            (Site::Attn(l), Role::Layer(i, AttnNorm)) | (Site::Ffn(l), Role::Layer(i, FfnNorm)) if *l == i => {
                if offset != 0.0 {
                    // Gemma's norms multiply by (offset + w).
                    data.iter_mut().zip(s).for_each(|(w, s)| *w = (offset + *w) / s - offset);
                } else {
                    data.iter_mut().zip(s).for_each(|(w, s)| *w /= s);
                }
            }
            (Site::Attn(l), Role::Layer(i, AttnNormBias)) | (Site::Ffn(l), Role::Layer(i, FfnNormBias)) if *l == i => {
                data.iter_mut().zip(s).for_each(|(b, s)| *b /= s)
            }
            _ => {}
        }
    }
}

/// The statistics a consumer's quantizer should weight by after folding: `mean_sq / s^2`.
pub fn folded_importance(folds: &Folds, role: Role, mean_sq: &[f32]) -> Option<Vec<f32>> {
    let (_, s) = folds.scales.iter().find(|(site, _)| site.scales_columns_of(role))?;
    Some(mean_sq.iter().zip(s).map(|(m, s)| m / (s * s)).collect())
}

/// The input Hessian a consumer's GPTQ should use after folding: `H_ij / (s_i s_j)`.
pub fn folded_hessian(folds: &Folds, role: Role, h: &[f32]) -> Option<Vec<f32>> {
    let (_, s) = folds.scales.iter().find(|(site, _)| site.scales_columns_of(role))?;
    let n = s.len();
    Some(h.chunks_exact(n).zip(s).flat_map(|(row, si)| row.iter().zip(s).map(move |(v, sj)| v / (si * sj))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_normalised_and_monotone() {
        let s = scales_for(&[1.0, 4.0, 16.0, 0.0], 0.5);
        let gm: f32 = s.iter().map(|x| x.ln()).sum::<f32>() / 4.0;
        assert!(gm.abs() < 1e-5);
        assert!(s[0] < s[1] && s[1] < s[2]);
        assert_eq!(scales_for(&[1.0, 9.0], 0.0), vec![1.0, 1.0]);
    }
}
