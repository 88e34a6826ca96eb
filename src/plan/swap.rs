//! Equal-size alternatives. Some ggml types cost exactly the same bytes per block: Q4_0, IQ4_NL
//! and Q4_K at 4.5 bits per weight, Q5_0 and Q5_K at 5.5. A class names a size, not a block
//! format, so each tensor of a class takes, among its type and those peers, the one whose
//! output-space error (importance-weighted, on a sample of its rows) is least. The file's size
//! does not change. On SmolLM2 and Qwen2.5, IQ4_NL's non-uniform grid beat Q4_0's on most
//! matrices (docs/quantize.md).

use super::TensorPlan;
use crate::error::Result;
use crate::model::{Model, Role};
use crate::quant::formats::GgmlType;
use crate::quant::measure::{sample_rows, scaled_error};
use std::collections::BTreeMap;

/// Rows sampled per tensor to rank its candidate types: more than the budget's sample, since
/// peers' errors differ by a few tens of percent, not by a type step.
pub const SWAP_ROWS: usize = 128;

/// Types of exactly `ty`'s size whose blocks fit rows of `cols`, `ty` excluded.
pub fn peers(ty: GgmlType, cols: usize) -> Vec<GgmlType> {
    use GgmlType as T;
    let groups: [&[GgmlType]; 2] = [&[T::Q4_0, T::IQ4_NL, T::Q4_K], &[T::Q5_0, T::Q5_K]];
    groups
        .iter()
        .find(|g| g.contains(&ty))
        .map(|g| g.iter().copied().filter(|t| *t != ty && cols % t.block_size() == 0).collect())
        .unwrap_or_default()
}

/// Gives each quantized matrix of `plan` the least-error type among its equal-size peers.
/// Tensors without calibration statistics weight every column equally. Returns the number of
/// tensors whose type changed.
pub fn choose(model: &Model, plan: &mut [TensorPlan], importance: &BTreeMap<Role, Vec<f32>>) -> Result<usize> {
    let mut changed = 0;
    for t in plan.iter_mut() {
        if t.shape.len() != 2 {
            continue;
        }
        let cols = t.shape[1];
        let others = peers(t.ty, cols);
        if others.is_empty() {
            continue;
        }
        let (_, w) = model.read_canonical(t.role)?;
        let sample = sample_rows(&w, cols, SWAP_ROWS);
        drop(w);
        let imp = importance.get(&t.role).cloned().unwrap_or_else(|| vec![1.0; cols]);
        let ones = vec![1f32; cols];
        let err = |ty| scaled_error(ty, &sample, cols, &imp, &ones);
        let current = err(t.ty);
        let best = others.into_iter().map(|ty| (ty, err(ty))).min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((ty, e)) = best.filter(|b| b.1 < current) {
            let ratio = if current > 0.0 { e / current } else { 1.0 };
            t.reason.swapped = Some((t.ty, ty, ratio));
            t.ty = ty;
            changed += 1;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use GgmlType as T;

    #[test]
    fn peers_have_the_same_size_and_fit_the_row() {
        assert_eq!(peers(T::Q4_0, 576), vec![T::IQ4_NL]);
        assert_eq!(peers(T::Q4_0, 1536), vec![T::IQ4_NL, T::Q4_K]);
        assert_eq!(peers(T::Q4_K, 1536), vec![T::Q4_0, T::IQ4_NL]);
        assert_eq!(peers(T::Q5_K, 896), vec![T::Q5_0]);
        assert!(peers(T::Q8_0, 1536).is_empty() && peers(T::Q6_K, 1536).is_empty());
        for ty in [T::Q4_0, T::Q5_0] {
            for p in peers(ty, 4096) {
                assert_eq!(p.bits_per_weight(), ty.bits_per_weight(), "{p} vs {ty}");
            }
        }
    }
}
