//! Output-space quantization error of a matrix, measured on a sample of its rows: what the
//! fold search (`transform::fold`) and the size budget (`plan::budget`) both minimise.

use super::formats::{dequantize, quantize_rows, GgmlType};

/// Rows of a matrix sampled to measure its quantization error.
pub const SAMPLE_ROWS: usize = 32;

/// Every `step`-th row of a row-major matrix (at most `max_rows` rows).
pub fn sample_rows(w: &[f32], cols: usize, max_rows: usize) -> Vec<f32> {
    let rows = w.len() / cols;
    let step = rows.div_ceil(max_rows).max(1);
    w.chunks_exact(cols).step_by(step).flatten().copied().collect()
}

/// Output-space quantization error of the rows `w` (each `cols` long) of a matrix whose columns
/// are scaled by `s`: `sum_rows sum_c mean_sq_c (W_c s_c - Q(W s)_c)^2 / s_c^2`.
pub fn scaled_error(ty: GgmlType, w: &[f32], cols: usize, mean_sq: &[f32], s: &[f32]) -> f64 {
    let rows = w.len() / cols;
    let scaled: Vec<f32> = w.chunks_exact(cols).flat_map(|r| r.iter().zip(s).map(|(x, s)| x * s)).collect();
    let imp: Vec<f32> = mean_sq.iter().zip(s).map(|(m, s)| m / (s * s)).collect();
    let mut q = vec![0u8; ty.row_bytes(cols).expect("type fits") * rows];
    quantize_rows(ty, &scaled, cols, Some(&imp), &mut q);
    let mut back = vec![0f32; scaled.len()];
    dequantize(ty, &q, &mut back);
    scaled
        .chunks_exact(cols)
        .zip(back.chunks_exact(cols))
        .map(|(a, b)| a.iter().zip(b).zip(&imp).map(|((a, b), i)| (*i as f64) * ((a - b) as f64).powi(2)).sum::<f64>())
        .sum()
}
