//! GPTQ for compressed-tensors' int4 (groups) and int8 (per channel) layouts: the group's scale
//! and zero point chosen by compressed-tensors' importance search from the weights as
//! compensated when the group starts (`ct::quantize::group_params`), then each weight rounded
//! to that grid with its error carried into later columns (`gptq::compensate`). What
//! llm-compressor's `GPTQModifier` does for `W4A16`, on sinkquant's scale search.

use super::pack::pack_row;
use super::quantize::{check_inputs, group_params};
use super::{Packed, Scheme};
use crate::error::Result;
use crate::quant::formats::Grid;
use crate::quant::methods::gptq::{compensate, ROWS_PER_TASK};
use half::bf16;
use rayon::prelude::*;

/// Quantizes a row-major `rows x cols` matrix with GPTQ, given the inverse Hessian factor `u`
/// (`gptq::inverse_factor`) and the per-column importance the scale search weights by.
pub fn quantize(
    w: &[f32],
    rows: usize,
    cols: usize,
    scheme: &Scheme,
    u: &[f32],
    importance: Option<&[f32]>,
) -> Result<Packed> {
    check_inputs(w, rows, cols, scheme, importance)?;
    assert_eq!(u.len(), cols * cols, "compressed-tensors GPTQ: factor of the wrong size");
    let (gl, ng, pc) = (scheme.group_len(cols), scheme.n_groups(cols), scheme.packed_cols(cols));
    let (qmin, qmax) = (scheme.qmin(), scheme.qmax());
    let mut packed = vec![0i32; rows * pc];
    let mut scale = vec![bf16::ZERO; rows * ng];
    let mut zero = vec![0i8; rows * ng];
    packed
        .par_chunks_mut(pc * ROWS_PER_TASK)
        .zip(scale.par_chunks_mut(ng * ROWS_PER_TASK))
        .zip(zero.par_chunks_mut(ng * ROWS_PER_TASK))
        .zip(w.par_chunks(cols * ROWS_PER_TASK))
        .for_each(|(((prows, srows), zrows), x)| {
            let n = x.len() / cols;
            let mut rw = x.to_vec();
            let mut q = vec![0i8; n * cols];
            compensate(
                &mut rw,
                cols,
                u,
                gl,
                &mut |r, j, xs| {
                    let (s, zp) = group_params(xs, importance.map(|i| &i[j..j + gl]), scheme);
                    let s = bf16::from_f32(s);
                    srows[r * ng + j / gl] = s;
                    zrows[r * ng + j / gl] = zp as i8;
                    let mut g = Grid::linear(gl, qmin, qmax);
                    g.scale[0] = s.to_f32();
                    g.offset[0] = -(zp as f32) * s.to_f32();
                    g
                },
                &mut |r, j, codes| {
                    for (d, &c) in q[r * cols + j..r * cols + j + gl].iter_mut().zip(codes) {
                        *d = c as i8;
                    }
                },
            );
            for (r, p) in prows.chunks_exact_mut(pc).enumerate() {
                pack_row(&q[r * cols..(r + 1) * cols], scheme.bits, p);
            }
        });
    let zero_point = (!scheme.symmetric).then_some(zero);
    Ok(Packed { packed, scale, zero_point, rows, cols })
}

#[cfg(test)]
mod tests {
    use super::super::{dequantize, quantize as plain};
    use super::*;
    use crate::quant::methods::gptq::{inverse_factor, output_error};

    /// On correlated inputs the GPTQ checkpoint's output error is below the plain one's, for
    /// int4 in groups and int8 per channel, and it decompresses as compressed-tensors would.
    #[test]
    fn gptq_lowers_the_output_error_of_compressed_layouts() {
        let (rows, cols) = (6, 256);
        let mut s = 7u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        };
        let basis: Vec<f32> = (0..4 * cols).map(|_| next()).collect();
        let mut h = vec![0f32; cols * cols];
        let tokens = 2 * cols;
        for _ in 0..tokens {
            let z: Vec<f32> = (0..4).map(|_| next()).collect();
            let x: Vec<f32> =
                (0..cols).map(|c| 0.2 * next() + (0..4).map(|k| z[k] * basis[k * cols + c]).sum::<f32>()).collect();
            for i in 0..cols {
                for j in 0..cols {
                    h[i * cols + j] += x[i] * x[j] / tokens as f32;
                }
            }
        }
        let diag: Vec<f32> = (0..cols).map(|i| h[i * cols + i]).collect();
        let w: Vec<f32> = (0..rows * cols).map(|_| next() * 0.05).collect();
        let u = inverse_factor(&h, cols).unwrap();
        for scheme in [
            Scheme { bits: 4, group_size: Some(128), symmetric: true },
            Scheme { bits: 8, group_size: None, symmetric: true },
        ] {
            let a = dequantize(&plain(&w, rows, cols, &scheme, Some(&diag)).unwrap(), &scheme);
            let b = dequantize(&quantize(&w, rows, cols, &scheme, &u, Some(&diag)).unwrap(), &scheme);
            let (ea, eb) = (output_error(&w, &a, cols, &h), output_error(&w, &b, cols, &h));
            assert!(eb < 0.5 * ea, "{scheme:?}: GPTQ {eb:.3e} against {ea:.3e}");
        }
    }
}
