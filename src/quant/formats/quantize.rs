//! Row-parallel quantization from f32: `ggml_quantize_chunk` over whole rows.

use super::GgmlType;
use rayon::prelude::*;

/// Quantizes `src`, rows of `n_per_row` f32 weights, to type `ty` in `dst` (the rows' bytes,
/// back to back), in parallel over rows. `imatrix` (one importance weight per column, length
/// `n_per_row`) selects ggml's importance-weighted quantizers; without it the reference ones run,
/// as in `ggml_quantize_chunk` with `quant_weights == NULL`. Q8_0, F32, F16 and BF16 ignore it.
/// Output is bit-identical to `ggml_quantize_chunk` (ggml 0.25.3).
///
/// Panics if `n_per_row` is zero or not a whole number of blocks, `src` is not a whole number of
/// rows, `dst` is not exactly their size, or the imatrix length is not `n_per_row`.
pub fn quantize_rows(ty: GgmlType, src: &[f32], n_per_row: usize, imatrix: Option<&[f32]>, dst: &mut [u8]) {
    assert!(
        n_per_row > 0 && src.len().is_multiple_of(n_per_row),
        "quantize {ty}: {} weights are not rows of {n_per_row}",
        src.len()
    );
    let row_bytes =
        ty.row_bytes(n_per_row).unwrap_or_else(|| panic!("quantize {ty}: row of {n_per_row} is not whole blocks"));
    assert_eq!(dst.len(), src.len() / n_per_row * row_bytes, "quantize {ty}: length mismatch");
    if let Some(w) = imatrix {
        assert_eq!(w.len(), n_per_row, "quantize {ty}: imatrix length mismatch");
    }
    // At least ~16K weights per task so cheap types are not dominated by scheduling.
    let min_rows = (1 << 14) / n_per_row + 1;
    let format = ty.format();
    dst.par_chunks_mut(row_bytes)
        .zip(src.par_chunks(n_per_row))
        .with_min_len(min_rows)
        .for_each(|(d, s)| format.quantize(s, imatrix, d));
}

/// Quantizes one row `src` to type `ty` in `dst` on the calling thread; `imatrix`, if given, has
/// one weight per element of `src`. Without an imatrix `src` may also be several rows: the
/// reference quantizers work block by block. Panics if the lengths disagree.
pub fn quantize_row(ty: GgmlType, src: &[f32], imatrix: Option<&[f32]>, dst: &mut [u8]) {
    assert_eq!(Some(dst.len()), ty.row_bytes(src.len()), "quantize {ty}: length mismatch");
    ty.format().quantize(src, imatrix, dst)
}
