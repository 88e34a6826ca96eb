//! Bytes moved from the output head to the layers. llama.cpp's mixtures keep the output head
//! (and so tied embeddings) at Q6_K or Q8_0 in every class. In a model with a large vocabulary
//! the head is most of the file (Gemma-3-270M: 168M of 268M weights), so a 4-bit class spends
//! two thirds of its bytes on it. This allocation lowers the head one type step and spends the
//! bytes freed raising the layers' matrices, each step to the tensor whose measured error falls
//! most per byte, within the class's size. Whether it pays is measured, not assumed: the
//! pipeline writes both allocations and keeps the one of least KL divergence
//! (`pipeline::choose`).

use super::budget::{layer_candidates, lower, rel_error};
use super::TensorPlan;
use crate::error::Result;
use crate::model::{Model, Role};
use crate::quant::formats::GgmlType;
use std::collections::BTreeMap;

/// How a class's bytes are shared between the head and the layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allocation {
    /// llama.cpp's mixture for the class (fitted to its size).
    #[default]
    Mixture,
    /// The head one type lower, the bytes freed spent on the layers.
    HeadToLayers,
}

impl Allocation {
    pub fn name(self) -> &'static str {
        match self {
            Allocation::Mixture => "mixture",
            Allocation::HeadToLayers => "head-to-layers",
        }
    }

    /// `mixture` or `head-to-layers` (as `name` writes them).
    pub fn parse(s: &str) -> crate::error::Result<Allocation> {
        [Allocation::Mixture, Allocation::HeadToLayers]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| crate::error::Error::Unknown {
                what: "allocation",
                name: s.to_string(),
                known: vec!["auto", "mixture", "head-to-layers"],
            })
    }
}

/// The next larger type that fits rows of `cols`, at most Q8_0: of those with the fewest bits
/// above `ty`'s, the first in ggml's order (the equal-size swap picks among them later).
pub fn raise(ty: GgmlType, cols: usize) -> Option<GgmlType> {
    use GgmlType as T;
    let ladder =
        [T::Q4_0, T::IQ4_NL, T::Q4_K, T::Q4_1, T::Q5_0, T::Q5_K, T::Q5_1, T::Q6_K, T::Q8_0, T::IQ4_XS, T::Q3_K];
    let bits = ty.bits_per_weight();
    ladder
        .iter()
        .filter(|t| t.bits_per_weight() > bits && cols % t.block_size() == 0)
        .min_by(|a, b| a.bits_per_weight().total_cmp(&b.bits_per_weight()))
        .copied()
}

fn is_head(t: &TensorPlan, tied: bool) -> bool {
    t.role == Role::Output || (tied && t.role == Role::TokenEmbd)
}

/// Lowers the head one step and raises layer matrices within `budget` bytes. Returns the number
/// of layer tensors raised, or `None` when the head cannot be lowered (already at the bottom of
/// the ladder or not quantized), leaving `plan` as it was.
pub fn head_to_layers(
    model: &Model,
    plan: &mut [TensorPlan],
    budget: u64,
    importance: &BTreeMap<Role, Vec<f32>>,
) -> Result<Option<usize>> {
    let tied = model.tensor(Role::Output).is_none();
    let Some(h) = plan.iter().position(|t| is_head(t, tied) && t.ty.is_quantized() && t.shape.len() == 2) else {
        return Ok(None);
    };
    let Some(low) = lower(plan[h].ty, plan[h].shape[1]) else { return Ok(None) };
    plan[h].reason.traded = Some((plan[h].ty, low));
    plan[h].ty = low;
    let mut bytes: u64 = plan.iter().map(|t| t.nbytes() as u64).sum();
    let mut cands = layer_candidates(model, plan, importance)?;
    let mut raised = 0;
    loop {
        // The step of most error removed per byte added among those that still fit.
        let mut best: Option<(usize, GgmlType, f64, f64)> = None;
        for (k, c) in cands.iter_mut().enumerate() {
            let t = &plan[c.i];
            let cols = t.shape[1];
            let step =
                *c.step.get_or_insert_with(|| raise(t.ty, cols).map(|up| (up, rel_error(up, &c.sample, cols, &c.imp))));
            let Some((up, new_err)) = step else { continue };
            let added = (up.row_bytes(cols).expect("fits") * t.shape[0] - t.nbytes()) as u64;
            if bytes + added > budget {
                continue;
            }
            let gain = (c.err - new_err) / added.max(1) as f64;
            if best.is_none_or(|b| gain > b.3) {
                best = Some((k, up, new_err, gain));
            }
        }
        let Some((k, up, new_err, _)) = best else { break };
        let c = &mut cands[k];
        let t = &mut plan[c.i];
        bytes += (up.row_bytes(t.shape[1]).expect("fits") * t.shape[0] - t.nbytes()) as u64;
        t.reason.raised = Some((t.reason.raised.map_or(t.ty, |r| r.0), up));
        t.ty = up;
        c.err = new_err;
        c.step = None;
        raised += 1;
    }
    Ok(Some(raised))
}

#[cfg(test)]
mod tests {
    use super::*;
    use GgmlType as T;

    #[test]
    fn raising_takes_the_next_size_that_fits() {
        assert_eq!(raise(T::Q4_0, 576), Some(T::Q4_1));
        assert_eq!(raise(T::Q4_1, 640), Some(T::Q5_0));
        assert_eq!(raise(T::Q5_0, 896), Some(T::Q5_1));
        assert_eq!(raise(T::Q5_1, 896), Some(T::Q8_0));
        assert_eq!(raise(T::Q5_K, 1536), Some(T::Q5_1));
        assert_eq!(raise(T::Q5_1, 1536), Some(T::Q6_K));
        assert_eq!(raise(T::Q3_K, 1536), Some(T::IQ4_XS));
        assert_eq!(raise(T::Q8_0, 1536), None);
    }
}
