//! Per-column importance of each matrix: the mean square of its input over the calibration
//! tokens (what llama.cpp's imatrix holds), keyed by the matrices that read the input.

use super::collect::Collector;
use crate::forward::hook::LinearSite;
use crate::model::{LayerTensor, Model, Role};
use std::collections::BTreeMap;

/// The matrices reading the input observed at `site`.
pub fn site_roles(model: &Model, site: LinearSite) -> Vec<Role> {
    use LayerTensor::*;
    match site {
        LinearSite::Output => vec![if model.tensor(Role::Output).is_some() { Role::Output } else { Role::TokenEmbd }],
        LinearSite::Layer(l, t) => match t {
            AttnQ => vec![AttnQ, AttnK, AttnV],
            FfnGate => vec![FfnGate, FfnUp],
            other => vec![other],
        }
        .into_iter()
        .map(|t| Role::Layer(l, t))
        .collect(),
    }
}

/// Each matrix's mean input `x x^T`, shared by the matrices that read one input.
pub fn hessians_by_role(model: &Model, h: super::hessian::Hessians) -> BTreeMap<Role, std::sync::Arc<Vec<f32>>> {
    let mut out = BTreeMap::new();
    for (site, mean) in h.into_means() {
        let shared = std::sync::Arc::new(mean);
        for role in site_roles(model, site) {
            out.insert(role, shared.clone());
        }
    }
    out
}

/// Mean squared input per column for every matrix the calibration observed.
pub fn by_role(model: &Model, c: &Collector) -> BTreeMap<Role, Vec<f32>> {
    let mut out = BTreeMap::new();
    for (site, s) in &c.linear {
        let n = s.count.max(1) as f64;
        let mean_sq: Vec<f32> = s.sum_sq.iter().map(|x| (x / n) as f32).collect();
        for role in site_roles(model, *site) {
            out.insert(role, mean_sq.clone());
        }
    }
    out
}
