//! What calibration gives the quantizers: per-column importance and the chosen folds.

use crate::model::Role;
use crate::transform::fold::{self, Folds};
use std::collections::BTreeMap;

/// Calibration-derived inputs of the quantizers.
#[derive(Default)]
pub struct QuantInputs {
    /// Mean squared input per column, for each matrix that has calibration statistics.
    pub importance: BTreeMap<Role, Vec<f32>>,
    pub folds: Folds,
}

impl QuantInputs {
    /// The column weights `role`'s quantizer uses, after any fold.
    pub fn weights_for(&self, role: Role) -> Option<Vec<f32>> {
        let imp = self.importance.get(&role)?;
        Some(fold::folded_importance(&self.folds, role, imp).unwrap_or_else(|| imp.clone()))
    }
}
