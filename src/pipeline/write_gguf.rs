//! The GGUF writing stage: each planned tensor is read in Hugging Face layout, folded (if the
//! policy says so), converted to llama.cpp's conventions, quantized and streamed to the file.

use super::inputs::QuantInputs;
use crate::error::{Error, Result};
use crate::io::gguf::{GgufWriter, MetaValue, PlannedGgufTensor};
use crate::io::Progress;
use crate::memory::ROW_BLOCK_BYTES;
use crate::model::{convert, gguf_keys, Model};
use crate::plan::TensorPlan;
use crate::quant::formats::quantize_rows;
use crate::quant::formats::GgmlType;
use crate::quant::methods::gptq;
use crate::transform::fold;
use std::path::Path;

/// One tensor ready to be written: read, folded, converted and quantized.
pub fn quantized_tensor(model: &Model, t: &TensorPlan, inputs: &QuantInputs) -> Result<Vec<u8>> {
    let (shape, mut data) = model.read_canonical(t.role)?;
    fold::apply(&inputs.folds, &model.hparams, t.role, &shape, &mut data);
    let data = convert::hf_to_gguf(&model.hparams, t.role, &shape, data);
    let cols = *shape.last().unwrap_or(&1);
    let mut out = vec![0u8; t.nbytes()];
    let weights = inputs.weights_for(t.role);
    match inputs.hessian_for(t.role).filter(|_| t.ty.format().is_quantized()) {
        Some(h) => {
            let u = gptq::inverse_factor(&h, cols).map_err(|e| Error::Invalid(format!("{}: GPTQ: {e}", t.name)))?;
            drop(h);
            gptq::quantize_rows(t.ty, &data, cols, &u, weights.as_deref(), &mut out);
        }
        None => quantize_rows(t.ty, &data, cols, weights.as_deref(), &mut out),
    }
    Ok(out)
}

/// A tensor no fold or layout conversion touches (the embeddings, the output head), read and
/// quantized in blocks of rows of at most [`ROW_BLOCK_BYTES`] of f32 and handed to `put` block
/// by block: the same bytes as [`quantized_tensor`], without the whole tensor in f32.
fn quantize_by_rows(
    model: &Model,
    t: &TensorPlan,
    inputs: &QuantInputs,
    put: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let cols = *t.shape.last().unwrap_or(&1);
    let n_rows = t.shape.iter().product::<usize>() / cols.max(1);
    let block = (ROW_BLOCK_BYTES / (4 * cols.max(1))).max(1);
    let weights = inputs.weights_for(t.role);
    let row_bytes = t.ty.row_bytes(cols).expect("planned types fit their rows");
    // GPTQ treats rows independently given the factor of the input Hessian, so blocks of rows
    // give the same bytes as the whole matrix.
    let factor = match inputs.hessian_for(t.role).filter(|_| t.ty.format().is_quantized()) {
        Some(h) => Some(gptq::inverse_factor(&h, cols).map_err(|e| Error::Invalid(format!("{}: GPTQ: {e}", t.name)))?),
        None => None,
    };
    let mut out = Vec::new();
    for start in (0..n_rows).step_by(block) {
        let rows = start..(start + block).min(n_rows);
        let data = model.read_rows(t.role, rows.clone())?;
        out.resize(rows.len() * row_bytes, 0);
        match &factor {
            Some(u) => gptq::quantize_rows(t.ty, &data, cols, u, weights.as_deref(), &mut out),
            None => quantize_rows(t.ty, &data, cols, weights.as_deref(), &mut out),
        }
        put(&out)?;
    }
    Ok(())
}

/// Writes the planned tensors of `model` as a GGUF at `out`, atomically.
pub fn write(
    model: &Model,
    plan: &[TensorPlan],
    metadata: &[(String, MetaValue)],
    inputs: &QuantInputs,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64> {
    let mut planned: Vec<PlannedGgufTensor> =
        plan.iter().map(|t| PlannedGgufTensor { name: t.name.clone(), shape: t.shape.clone(), ty: t.ty }).collect();
    // RoPE scaling llama.cpp reads from tensors (llama3's divisors, Phi-3's LongRoPE factors).
    let rope = gguf_keys::rope_tensors(model);
    for (i, (name, f)) in rope.iter().enumerate() {
        planned.insert(i, PlannedGgufTensor { name: name.to_string(), shape: vec![f.len()], ty: GgmlType::F32 });
    }
    let total: u64 = plan.iter().map(|t| t.nbytes() as u64).sum();
    progress(Progress::Start { tensors: plan.len(), bytes: total });
    let mut w = GgufWriter::create(out, metadata, planned)?;
    for (name, f) in &rope {
        w.write(name, bytemuck::cast_slice(f))?;
    }
    for t in plan {
        if model.reads_rows(t.role) {
            w.write_pieces(&t.name, &mut |put| quantize_by_rows(model, t, inputs, put))?;
        } else {
            w.write(&t.name, &quantized_tensor(model, t, inputs)?)?;
        }
        if let Some(e) = model.tensor(t.role) {
            // Streaming over a model larger than memory: its pages are not needed again.
            model.store().release(e);
        }
        progress(Progress::Tensor { name: &t.name, bytes: t.nbytes() as u64 });
    }
    w.finish()?;
    Ok(std::fs::metadata(out).map(|m| m.len()).unwrap_or(total))
}
