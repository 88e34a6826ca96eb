//! Fitting a plan into a size budget. A preset names a file size: llama.cpp's mixture for the
//! model. When the outlier policy raises some tensors (`keep`) or the provenance metadata needs
//! room, other tensors are lowered one type at a time, cheapest first: the tensor whose
//! relative output-space error grows least per byte saved, measured by quantizing a sample of
//! its rows with the calibration importance.

use super::TensorPlan;
use crate::error::Result;
use crate::model::Model;
use crate::model::Role;
use crate::quant::formats::GgmlType;
use crate::quant::measure::{sample_rows, scaled_error, SAMPLE_ROWS};
use std::collections::BTreeMap;

/// Bytes of tensor data kept free for the metadata sinkquant adds beyond llama.cpp's
/// (provenance keys, a few hundred bytes): none. A class's size is llama.cpp's tensor bytes;
/// reserving room for the keys lowered a whole tensor a step on small models (a Q8_0 matrix to
/// Q6_K), which cost more than the 0.01% of the file the keys take.
pub const METADATA_HEADROOM: u64 = 0;

/// The next smaller type that fits rows of `cols`, if any. Of types with the same bits, the
/// last in the ladder is taken (Q4_0 before IQ4_NL and Q4_K at 4.5 bpw); IQ4_XS (4.25 bpw) is
/// the step between 4.5 and Q3_K's 3.44 for rows of a multiple of 256.
pub fn lower(ty: GgmlType, cols: usize) -> Option<GgmlType> {
    use GgmlType as T;
    let ladder = [
        T::Q8_0,
        T::Q6_K,
        T::Q5_1,
        T::Q5_K,
        T::Q5_0,
        T::Q4_1,
        T::IQ4_NL,
        T::Q4_K,
        T::Q4_0,
        T::IQ4_XS,
        T::Q3_K,
        T::Q2_K,
    ];
    ladder
        .iter()
        .filter(|t| t.bits_per_weight() < ty.bits_per_weight() && cols % t.block_size() == 0)
        .max_by(|a, b| a.bits_per_weight().total_cmp(&b.bits_per_weight()))
        .copied()
}

/// Relative output-space error of quantizing the sampled rows `w` to `ty`.
pub(super) fn rel_error(ty: GgmlType, w: &[f32], cols: usize, imp: &[f32]) -> f64 {
    let ones = vec![1f32; cols];
    let signal: f64 = w
        .chunks_exact(cols)
        .map(|r| r.iter().zip(imp).map(|(x, i)| (*i as f64) * (*x as f64).powi(2)).sum::<f64>())
        .sum();
    scaled_error(ty, w, cols, imp, &ones) / signal.max(f64::MIN_POSITIVE)
}

/// Lowers tensors of `plan` until its bytes are at most `budget`. Tensors without calibration
/// statistics weight every column equally. Returns the number of tensors lowered.
pub fn fit(
    model: &Model,
    plan: &mut [TensorPlan],
    budget: u64,
    importance: &BTreeMap<Role, Vec<f32>>,
) -> Result<usize> {
    let mut bytes: u64 = plan.iter().map(|t| t.nbytes() as u64).sum();
    if bytes <= budget {
        return Ok(0);
    }
    // The output head (and tied embeddings) is never lowered: its error reaches the logits
    // directly, which a per-tensor relative error does not capture.
    let mut cands = layer_candidates(model, plan, importance)?;
    let mut lowered = 0;
    while bytes > budget {
        // Cost per byte of lowering each candidate one step.
        let mut best: Option<(usize, GgmlType, f64, f64)> = None;
        for (k, c) in cands.iter_mut().enumerate() {
            let t = &plan[c.i];
            let step = *c.step.get_or_insert_with(|| {
                lower(t.ty, t.shape[1]).map(|lo| (lo, rel_error(lo, &c.sample, t.shape[1], &c.imp)))
            });
            let Some((lo, new_err)) = step else { continue };
            let saved = (t.nbytes() - lowered_bytes(t, lo)) as f64;
            let cost = (new_err - c.err) / saved.max(1.0);
            if best.is_none_or(|b| cost.total_cmp(&b.3).is_lt()) {
                best = Some((k, lo, new_err, cost));
            }
        }
        let Some((k, lo, new_err, _)) = best else { break };
        let c = &mut cands[k];
        let t = &mut plan[c.i];
        bytes -= (t.nbytes() - lowered_bytes(t, lo)) as u64;
        t.reason.lowered = Some((t.ty, lo));
        t.ty = lo;
        c.err = new_err;
        c.step = None;
        lowered += 1;
    }
    Ok(lowered)
}

/// A quantized layer matrix that a size step may move: its sampled rows, their importance, the
/// current error and the next step (type and error) once measured. A candidate's step is
/// measured again only after it was taken, since no other tensor's choice changes it.
pub(super) struct Cand {
    pub i: usize,
    pub sample: Vec<f32>,
    pub imp: Vec<f32>,
    pub err: f64,
    pub step: Option<Option<(GgmlType, f64)>>,
}

/// The quantized 2-D tensors of `plan` other than the output head and the token embeddings,
/// as step candidates. Tensors without calibration statistics weight every column equally.
pub(super) fn layer_candidates(
    model: &Model,
    plan: &[TensorPlan],
    importance: &BTreeMap<Role, Vec<f32>>,
) -> Result<Vec<Cand>> {
    let mut cands = Vec::new();
    for (i, t) in plan.iter().enumerate() {
        let head = matches!(t.role, Role::Output | Role::TokenEmbd);
        if !t.ty.is_quantized() || t.shape.len() != 2 || head {
            continue;
        }
        let cols = t.shape[1];
        let (_, w) = model.read_canonical(t.role)?;
        let sample = sample_rows(&w, cols, SAMPLE_ROWS);
        let imp = importance.get(&t.role).cloned().unwrap_or_else(|| vec![1.0; cols]);
        let err = rel_error(t.ty, &sample, cols, &imp);
        cands.push(Cand { i, sample, imp, err, step: None });
    }
    Ok(cands)
}

fn lowered_bytes(t: &TensorPlan, ty: GgmlType) -> usize {
    ty.row_bytes(t.shape[1]).expect("fits") * t.shape[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_follows_bits_and_block_fit() {
        assert_eq!(lower(GgmlType::Q8_0, 576), Some(GgmlType::Q5_1));
        assert_eq!(lower(GgmlType::Q8_0, 1536), Some(GgmlType::Q6_K));
        assert_eq!(lower(GgmlType::Q6_K, 1536), Some(GgmlType::Q5_1));
        assert_eq!(lower(GgmlType::Q4_0, 576), None);
        assert_eq!(lower(GgmlType::Q4_0, 1536), Some(GgmlType::IQ4_XS));
        assert_eq!(lower(GgmlType::Q4_1, 576), Some(GgmlType::Q4_0));
        assert_eq!(lower(GgmlType::IQ4_XS, 1536), Some(GgmlType::Q3_K));
        assert_eq!(lower(GgmlType::IQ4_NL, 576), None);
    }
}
