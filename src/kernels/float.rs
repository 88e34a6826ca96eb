//! Matrix multiplication for weights without an integer kernel (F32, F16, BF16, and any type
//! `kernels::supports` refuses): each band of weight rows is dequantized into an f32 buffer on
//! the thread that multiplies it, by faer's single-threaded GEMM, so the conversion runs on
//! every core and the converted band is still in that core's cache when it is used. The
//! activations are rounded by the caller (ggml's `vec_dot_type`: f16 for F16 weights, bf16
//! for BF16), as llama.cpp rounds them.

use super::bands::{band_rows, by_bands};
use crate::quant::formats::{dequantize, GgmlType};
use faer::linalg::matmul::matmul as gemm;
use faer::{Accum, MatMut, MatRef, Par};

/// Dequantized weights per band (1 MiB of f32): the GEMM packs the activations once per band,
/// so a band must be large enough to amortise that.
const BAND_WEIGHTS: usize = 1 << 18;

/// `x W^T`: `x` is `[t][cols]`, `W` is `rows` rows of `cols` weights of type `ty` as stored
/// in `w`; the result is `[t][rows]`, row-major.
pub fn matmul(ty: GgmlType, w: &[u8], rows: usize, cols: usize, x: &[f32], t: usize) -> Vec<f32> {
    matmul_banded(ty, w, rows, cols, x, t, band_rows(rows, cols, BAND_WEIGHTS, 16, 4))
}

/// `matmul` with bands of `band` rows (the tests choose small ones).
pub fn matmul_banded(ty: GgmlType, w: &[u8], rows: usize, cols: usize, x: &[f32], t: usize, band: usize) -> Vec<f32> {
    let row_bytes = ty.row_bytes(cols).expect("validated row length");
    assert_eq!(w.len(), rows * row_bytes, "weight bytes");
    assert_eq!(x.len(), t * cols, "activation length");
    let band = band.min(rows.max(1));
    by_bands(
        rows,
        t,
        t,
        band,
        || vec![0f32; band * cols],
        |buf, r0, out| {
            let m = out.len() / t.max(1);
            let wb = &mut buf[..m * cols];
            dequantize(ty, &w[r0 * row_bytes..(r0 + m) * row_bytes], wb);
            // out [m][t] = W_band [m][cols] . x^T [cols][t]
            gemm(
                MatMut::from_row_major_slice_mut(out, m, t),
                Accum::Replace,
                MatRef::from_row_major_slice(wb, m, cols),
                MatRef::from_row_major_slice(x, t, cols).transpose(),
                1.0f32,
                Par::Seq,
            );
        },
    )
}
