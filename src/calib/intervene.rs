//! Sun et al.'s intervention: set the massive activations, at the layer where they appear and
//! at the tokens where they fire, to zero or to their calibration mean.

use super::collect::{median_abs, Criterion};
use crate::forward::Hook;
use crate::Result;
use candle_core::{Device, Tensor};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Intervention {
    Zero,
    Mean,
}

pub struct Intervene {
    pub mode: Intervention,
    pub criterion: Criterion,
    /// layer -> (dim, calibration mean)
    pub targets: BTreeMap<usize, Vec<(usize, f32)>>,
    /// How many activations were changed.
    pub changed: u64,
}

impl Hook for Intervene {
    fn residual(&mut self, layer: usize, x: &Tensor) -> Result<Option<Tensor>> {
        let Some(targets) = self.targets.get(&layer) else { return Ok(None) };
        let (t, d) = x.dims2()?;
        let mut v = x.flatten_all()?.to_vec1::<f32>()?;
        let med = median_abs(&v);
        for row in v.chunks_mut(d) {
            for &(dim, mean) in targets {
                let m = row[dim].abs();
                if self.criterion.is_massive(m, med) {
                    row[dim] = match self.mode {
                        Intervention::Zero => 0.0,
                        Intervention::Mean => mean,
                    };
                    self.changed += 1;
                }
            }
        }
        Ok(Some(Tensor::from_vec(v, (t, d), &Device::Cpu)?))
    }
}
