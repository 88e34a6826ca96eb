//! GPTQ (Frantar et al. 2022; the LDLQ of QuIP is the same rule) on ggml's block grids.
//!
//! A matrix is quantized column by column. When a column starts a ggml block, each row's block
//! is quantized by ggml's own quantizer (importance-weighted scale and min search, as without
//! GPTQ) from the row's weights as they stand then: that fixes the block's scales, its
//! [`Grid`]. Each weight then takes its grid's nearest code, and its rounding error, divided by
//! the pivot of the inverse Hessian's Cholesky factor, is subtracted from the row's later
//! columns in proportion to that factor's row: the update that minimises the layer's output
//! error `tr(dW H dW^T)` for the calibration inputs (`H = E[x x^T]`). Updates are applied to the
//! rest of the row in batches of columns (the "lazy batch" of the paper), with a matrix product.
//! The codes are stored with `set_codes`, so every block is an exact ggml block.

use crate::quant::formats::{GgmlType, Grid};
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use rayon::prelude::*;

/// Dampening: each diagonal entry of the Hessian is multiplied by `1 + DAMP`. GPTQ's own rule
/// adds a fraction (1%) of the diagonal's mean, which in these models is set by the few massive
/// channels (10^3-10^5 x the others' second moment), so it barely damps the massive columns and
/// swamps the rest. Relative dampening is the same for every channel; on SmolLM2 Q4_0 (40 x 512
/// Wikipedia, KLD against F16) it gave 0.0848 at 1.0 and 0.0850 at 0.3, against 0.101 with
/// GPTQ's rule and 0.110 without GPTQ.
pub const DAMP: f64 = 1.0;

/// Columns whose updates are gathered before they are applied to the rest of a row.
const BATCH: usize = 128;

/// Rows quantized by one task.
pub(crate) const ROWS_PER_TASK: usize = 32;

/// What went wrong factoring a Hessian.
#[derive(Debug, thiserror::Error)]
pub enum GptqError {
    #[error("the input Hessian ({0} x {0}) is not positive definite even with dampening")]
    NotPositiveDefinite(usize),
    #[error("the input Hessian has {got} entries, not {cols} x {cols}")]
    Shape { got: usize, cols: usize },
}

/// The upper Cholesky factor `U` of the dampened `H^-1` (`H^-1 = U^T U`), row-major f32: row `i`
/// holds the weights with which column `i`'s error moves the later columns.
///
/// Computed in f32 on the Jacobi-scaled matrix `N = D^-1/2 H D^-1/2` (unit diagonal; with the
/// dampening its condition stays moderate even when the massive channels' second moments are
/// 10^8 x the others'), with one Cholesky factorisation and one triangular inverse: if
/// `J N J = L L^T` (`J` reverses the order), then `N^-1 = V^T V` with `V = J L^-1 J` upper
/// triangular, and `U = V D^-1/2`.
pub fn inverse_factor(h: &[f32], cols: usize) -> Result<Vec<f32>, GptqError> {
    if h.len() != cols * cols {
        return Err(GptqError::Shape { got: h.len(), cols });
    }
    let n = cols;
    let diag_mean = (0..n).map(|i| h[i * n + i] as f64).sum::<f64>() / n.max(1) as f64;
    // A floor for columns no calibration input reached, and the step if a factorisation fails.
    let mut floor = 1e-3 * diag_mean.max(f64::MIN_POSITIVE);
    let mut damp = DAMP;
    for _ in 0..6 {
        let d: Vec<f64> = (0..n).map(|i| (h[i * n + i] as f64).max(0.0) * (1.0 + damp) + floor).collect();
        let r: Vec<f64> = d.iter().map(|v| 1.0 / v.sqrt()).collect();
        // J N J, entry (i, j) = N(n-1-i, n-1-j).
        let m = Mat::<f32>::from_fn(n, n, |i, j| {
            let (a, b) = (n - 1 - i, n - 1 - j);
            if a == b {
                1.0
            } else {
                (h[a * n + b] as f64 * r[a] * r[b]) as f32
            }
        });
        let Ok(llt) = m.llt(Side::Lower) else {
            (damp, floor) = (damp * 4.0, floor * 100.0);
            continue;
        };
        let mut inv = Mat::<f32>::zeros(n, n);
        faer::linalg::triangular_inverse::invert_lower_triangular(inv.as_mut(), llt.L(), Par::rayon(0));
        if !(0..n).all(|i| inv[(i, i)].is_finite()) {
            (damp, floor) = (damp * 4.0, floor * 100.0);
            continue;
        }
        let mut u = vec![0f32; n * n];
        for i in 0..n {
            for k in i..n {
                u[i * n + k] = (inv[(n - 1 - i, n - 1 - k)] as f64 * r[k]) as f32;
            }
        }
        return Ok(u);
    }
    Err(GptqError::NotPositiveDefinite(cols))
}

/// Quantizes `src` (rows of `cols` weights) to `ty` in `dst` with GPTQ, given the inverse
/// Hessian factor `u` of [`inverse_factor`] and the importance weights the block quantizer uses
/// (`imatrix`, one per column). Types without a grid (the floats) are quantized directly.
pub fn quantize_rows(ty: GgmlType, src: &[f32], cols: usize, u: &[f32], imatrix: Option<&[f32]>, dst: &mut [u8]) {
    let f = ty.format();
    let row_bytes = ty.row_bytes(cols).expect("planned types fit their rows");
    assert_eq!(dst.len(), src.len() / cols * row_bytes, "gptq {ty}: length mismatch");
    assert_eq!(u.len(), cols * cols, "gptq {ty}: factor of the wrong size");
    if !f.is_quantized() {
        crate::quant::formats::quantize_rows(ty, src, cols, imatrix, dst);
        return;
    }
    dst.par_chunks_mut(row_bytes * ROWS_PER_TASK)
        .zip(src.par_chunks(cols * ROWS_PER_TASK))
        .for_each(|(d, s)| quantize_task(ty, s, cols, u, imatrix, d));
}

/// One task's rows of a ggml type, column by column.
fn quantize_task(ty: GgmlType, src: &[f32], cols: usize, u: &[f32], imatrix: Option<&[f32]>, dst: &mut [u8]) {
    let f = ty.format();
    let (bs, ts) = (f.block_size(), f.type_size());
    let row_bytes = cols / bs * ts;
    let mut w = src.to_vec();
    let dst = std::cell::RefCell::new(dst);
    compensate(
        &mut w,
        cols,
        u,
        bs,
        &mut |r, j, x| {
            // The block's scales, by ggml's quantizer, from the row's weights as compensated so far.
            let mut d = dst.borrow_mut();
            let block = &mut d[r * row_bytes + j / bs * ts..][..ts];
            f.quantize(x, imatrix.map(|q| &q[j..j + bs]), block);
            f.grid(block).expect("quantized types have a grid")
        },
        &mut |r, j, codes| {
            let mut d = dst.borrow_mut();
            f.set_codes(&mut d[r * row_bytes + j / bs * ts..][..ts], codes);
        },
    );
}

/// GPTQ over the rows `w` (each `cols` long, modified in place) in blocks of `bs` columns: at
/// the start of each block `open(row, first column, the block's current weights)` gives its
/// grid; once all its weights have their codes, `close(row, first column, codes)` stores them.
pub fn compensate(
    w: &mut [f32],
    cols: usize,
    u: &[f32],
    bs: usize,
    open: &mut dyn FnMut(usize, usize, &[f32]) -> Grid,
    close: &mut dyn FnMut(usize, usize, &[i32]),
) {
    assert!(cols.is_multiple_of(bs) && u.len() == cols * cols, "gptq: blocks of {bs} in rows of {cols}");
    let rows = w.len() / cols;
    // Every block must start a batch (the block's scales are chosen from fully updated weights).
    let batch = if bs.is_multiple_of(BATCH) || BATCH.is_multiple_of(bs) { BATCH } else { bs };
    let mut grids: Vec<Grid> = Vec::with_capacity(rows);
    let mut codes = vec![0i32; rows * bs];
    let mut err = vec![0f32; rows * batch];
    for b0 in (0..cols).step_by(batch) {
        let b1 = (b0 + batch).min(cols);
        let width = b1 - b0;
        for j in b0..b1 {
            let e = j % bs;
            if e == 0 {
                grids.clear();
                for r in 0..rows {
                    grids.push(open(r, j, &w[r * cols + j..r * cols + j + bs]));
                }
            }
            let pivot = u[j * cols + j];
            let urow = &u[j * cols + j + 1..j * cols + b1];
            for r in 0..rows {
                let row = &mut w[r * cols..r * cols + cols];
                let x = row[j];
                let c = grids[r].nearest(e, x);
                codes[r * bs + e] = c;
                let q = (x - grids[r].value(e, c)) / pivot;
                err[r * batch + (j - b0)] = q;
                for (v, &h) in row[j + 1..b1].iter_mut().zip(urow) {
                    *v -= q * h;
                }
            }
            if e == bs - 1 {
                for r in 0..rows {
                    close(r, j + 1 - bs, &codes[r * bs..r * bs + bs]);
                }
            }
        }
        if b1 < cols {
            // The rest of each row: W[:, b1..] -= E U[b0..b1, b1..].
            let e = MatRef::from_row_major_slice_with_stride(&err, rows, width, batch);
            let uu = MatRef::from_row_major_slice_with_stride(&u[b0 * cols + b1..], width, cols - b1, cols);
            // faer 0.24's `from_row_major_slice_with_stride_mut` swaps the two strides; the
            // transposed column-major view is the row-major one.
            let rest =
                MatMut::from_column_major_slice_with_stride_mut(&mut w[b1..], cols - b1, rows, cols).transpose_mut();
            faer::linalg::matmul::matmul(rest, Accum::Add, e, uu, -1.0f32, Par::Seq);
        }
    }
}

/// `tr(dW H dW^T)`: the output error of weights `b` in place of `a` (rows of `cols`) for inputs
/// with second moments `h`, what GPTQ minimises.
pub fn output_error(a: &[f32], b: &[f32], cols: usize, h: &[f32]) -> f64 {
    let mut total = 0f64;
    let mut d = vec![0f64; cols];
    for (ra, rb) in a.chunks_exact(cols).zip(b.chunks_exact(cols)) {
        d.iter_mut().zip(ra.iter().zip(rb)).for_each(|(d, (x, y))| *d = (*x - *y) as f64);
        for i in 0..cols {
            let hi = &h[i * cols..i * cols + cols];
            total += d[i] * hi.iter().zip(&d).map(|(h, d)| *h as f64 * d).sum::<f64>();
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::formats::dequantize;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        }
    }

    /// The output errors of `w` quantized to `ty` by ggml's quantizer alone and with GPTQ.
    fn errors(ty: GgmlType, w: &[f32], cols: usize, h: &[f32], u: &[f32], diag: &[f32]) -> (f64, f64) {
        let bytes = ty.row_bytes(cols).unwrap() * (w.len() / cols);
        let (mut plain, mut gptq) = (vec![0u8; bytes], vec![0u8; bytes]);
        crate::quant::formats::quantize_rows(ty, w, cols, Some(diag), &mut plain);
        quantize_rows(ty, w, cols, u, Some(diag), &mut gptq);
        let (mut a, mut b) = (vec![0f32; w.len()], vec![0f32; w.len()]);
        dequantize(ty, &plain, &mut a);
        dequantize(ty, &gptq, &mut b);
        (output_error(w, &a, cols, h), output_error(w, &b, cols, h))
    }

    /// Correlated inputs (a random mixing of a few factors plus noise) and their second moments.
    fn correlated_hessian(cols: usize, rng: &mut Rng) -> Vec<f32> {
        let factors = 8;
        let mix: Vec<f32> = (0..factors * cols).map(|_| rng.next()).collect();
        let tokens = 4 * cols;
        let mut h = vec![0f32; cols * cols];
        let mut x = vec![0f32; cols];
        for _ in 0..tokens {
            let z: Vec<f32> = (0..factors).map(|_| rng.next()).collect();
            for c in 0..cols {
                x[c] = 0.3 * rng.next() + (0..factors).map(|k| z[k] * mix[k * cols + c]).sum::<f32>();
            }
            for i in 0..cols {
                for j in 0..cols {
                    h[i * cols + j] += x[i] * x[j] / tokens as f32;
                }
            }
        }
        h
    }

    /// On correlated inputs GPTQ's output error is well below the importance-weighted
    /// quantizer's alone, for every block type, and its blocks decode as ggml blocks.
    #[test]
    fn gptq_lowers_the_output_error_of_every_type() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let (rows, cols) = (8, 512);
        let h = correlated_hessian(cols, &mut rng);
        let diag: Vec<f32> = (0..cols).map(|i| h[i * cols + i]).collect();
        let w: Vec<f32> = (0..rows * cols).map(|_| rng.next() * 0.05).collect();
        let u = inverse_factor(&h, cols).unwrap();
        for ty in GgmlType::ALL.iter().copied().filter(|t| t.format().is_quantized()) {
            let (ea, eb) = errors(ty, &w, cols, &h, &u, &diag);
            assert!(eb < 0.3 * ea, "{ty}: GPTQ output error {eb:.3e} against {ea:.3e} without");
        }
    }

    /// With uncorrelated inputs there is nothing to compensate: the codes are the nearest ones
    /// under the same scales, so the result is ggml's own quantization. (Not for the legacy
    /// 32-weight types with an imatrix, whose ggml quantizer weights by the whole row's variance
    /// where GPTQ can only show it one block.)
    #[test]
    fn a_diagonal_hessian_gives_the_plain_quantization() {
        let mut rng = Rng(99);
        let (rows, cols) = (4, 256);
        let diag: Vec<f32> = (0..cols).map(|_| 0.5 + rng.next().abs()).collect();
        let mut h = vec![0f32; cols * cols];
        (0..cols).for_each(|i| h[i * cols + i] = diag[i]);
        let w: Vec<f32> = (0..rows * cols).map(|_| rng.next()).collect();
        let u = inverse_factor(&h, cols).unwrap();
        for ty in [GgmlType::Q8_0, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS] {
            let (ea, eb) = errors(ty, &w, cols, &h, &u, &diag);
            assert!((eb - ea).abs() <= 1e-3 * ea, "{ty}: {eb} against {ea}");
        }
    }

    /// `U^T U` is the inverse of the dampened Hessian, on a matrix whose diagonal spans eight
    /// orders of magnitude as the massive channels' does.
    #[test]
    fn the_factor_inverts_the_dampened_hessian() {
        let mut rng = Rng(5);
        let n = 48;
        let x: Vec<f32> = (0..4 * n * n).map(|_| rng.next()).collect();
        let scale = |c: usize| if c % 17 == 3 { 1e4f64 } else { 1.0 };
        let mut h = vec![0f32; n * n];
        for t in 0..4 * n {
            for i in 0..n {
                for j in 0..n {
                    let (a, b) = (x[t * n + i] as f64 * scale(i), x[t * n + j] as f64 * scale(j));
                    h[i * n + j] += (a * b / (4 * n) as f64) as f32;
                }
            }
        }
        let u = inverse_factor(&h, n).unwrap();
        let mean = (0..n).map(|i| h[i * n + i] as f64).sum::<f64>() / n as f64;
        let hd = |i: usize, j: usize| {
            let v = h[i * n + j] as f64;
            if i == j {
                v * (1.0 + DAMP) + 1e-3 * mean
            } else {
                v
            }
        };
        // (U^T U) H_d = I.
        for i in 0..n {
            for j in 0..n {
                let mut p = 0f64;
                for k in 0..n {
                    let utu: f64 = (0..=i.min(k)).map(|m| u[m * n + i] as f64 * u[m * n + k] as f64).sum();
                    p += utu * hd(k, j);
                }
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((p - want).abs() < 2e-3, "({i}, {j}): {p}");
            }
        }
    }

    #[test]
    fn a_hessian_of_the_wrong_size_is_an_error() {
        assert!(matches!(inverse_factor(&[1.0; 5], 2), Err(GptqError::Shape { got: 5, cols: 2 })));
    }
}
