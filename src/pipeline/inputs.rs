//! What calibration gives the quantizers: per-column importance, input Hessians, the chosen
//! folds and the method that uses them.

use crate::model::Role;
use crate::quant::methods::Method;
use crate::transform::fold::{self, Folds};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Calibration-derived inputs of the quantizers.
#[derive(Default)]
pub struct QuantInputs {
    /// Mean squared input per column, for each matrix that has calibration statistics.
    pub importance: BTreeMap<Role, Vec<f32>>,
    /// Mean `x x^T` of each matrix's input (GPTQ only).
    pub hessians: BTreeMap<Role, Arc<Vec<f32>>>,
    pub folds: Folds,
    pub method: Method,
}

impl QuantInputs {
    /// The column weights `role`'s quantizer uses, after any fold.
    pub fn weights_for(&self, role: Role) -> Option<Vec<f32>> {
        let imp = self.importance.get(&role)?;
        Some(fold::folded_importance(&self.folds, role, imp).unwrap_or_else(|| imp.clone()))
    }

    /// The input Hessian of `role` as its folded matrix sees it (`H_ij / (s_i s_j)`), when the
    /// method uses one.
    pub fn hessian_for(&self, role: Role) -> Option<Vec<f32>> {
        if self.method != Method::Gptq {
            return None;
        }
        let h = self.hessians.get(&role)?;
        Some(fold::folded_hessian(&self.folds, role, h).unwrap_or_else(|| h.to_vec()))
    }
}
