//! compressed-tensors' min-max quantization (optionally searched against per-column
//! importance) and its decompression `(q - zp) * scale`, rounded to the scale's dtype.

use super::pack::{pack_row, unpack_row};
use super::scheme::{Packed, ScaleDtype, Scheme};
use crate::error::{Error, Result};
use half::bf16;
use rayon::prelude::*;

/// compressed-tensors' min-max scale and zero point for values in `[mn, mx]` (the range is
/// first widened to include 0), with the scale rounded to BF16 as stored.
fn qparams(mn: f32, mx: f32, s: &Scheme) -> (f32, i32) {
    let (mn, mx) = (mn.min(0.0), mx.max(0.0));
    let (qmin, qmax) = (s.qmin() as f32, s.qmax() as f32);
    let bf = ScaleDtype::Bf16;
    if s.symmetric {
        let scale = bf.round(mn.abs().max(mx.abs()) / ((qmax - qmin) / 2.0));
        (if scale == 0.0 { bf.eps() } else { scale }, 0)
    } else {
        let scale = bf.round((mx - mn) / (qmax - qmin));
        if scale == 0.0 {
            return (bf.eps(), 0);
        }
        let zp = (qmin - mn / scale).clamp(qmin, qmax).round_ties_even();
        (scale, zp as i32)
    }
}

/// Round half to even, exact for |x| <= 2^22 (adding 1.5 * 2^23 leaves a unit ulp); as fast as an
/// add where `f32::round_ties_even` is a libm call (x86-64 without SSE4.1).
#[inline]
fn rint(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC) - MAGIC
}

#[inline]
fn quantize_one(x: f32, scale: f32, zp: i32, qmin: i32, qmax: i32) -> i32 {
    // Clamping to +-512 first changes no result (|zp| <= 128) and keeps `rint` exact; NaN
    // becomes 0 (the zero point) through the saturating cast, never out of range.
    (rint((x / scale).clamp(-512.0, 512.0)) as i32 + zp).clamp(qmin, qmax)
}

/// `ScaleDtype::Bf16.round` for finite values, without half's NaN handling.
#[inline]
fn round_bf16(x: f32) -> f32 {
    let b = x.to_bits();
    f32::from_bits(b.wrapping_add(0x7FFF + ((b >> 16) & 1)) & 0xFFFF_0000)
}

#[inline]
fn dequantize_one(q: i32, zp: i32, scale: f32, dt: ScaleDtype) -> f32 {
    dt.round((q - zp) as f32 * scale)
}

/// `sum_i importance[i] * (x_i - x'_i)^2` for one group quantized with `(scale, zp)`.
fn weighted_error(x: &[f32], imp: &[f32], scale: f32, zp: i32, s: &Scheme) -> f32 {
    // quantize_one and dequantize_one in f32 (exact: all values are small integers), eight
    // independent sums so that the loop vectorizes.
    let (qmin, qmax, zp) = (s.qmin() as f32, s.qmax() as f32, zp as f32);
    let err = |v: f32, w: f32| {
        let q = (rint((v / scale).clamp(-512.0, 512.0)) + zp).clamp(qmin, qmax);
        let d = v - round_bf16((q - zp) * scale);
        w * d * d
    };
    let mut acc = [0f32; 8];
    let (xc, wc) = (x.chunks_exact(8), imp.chunks_exact(8));
    let tail: f32 = xc.remainder().iter().zip(wc.remainder()).map(|(&v, &w)| err(v, w)).sum();
    for (xs, ws) in xc.zip(wc) {
        for k in 0..8 {
            acc[k] += err(xs[k], ws[k]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Candidate ranges for the importance search, as factors of the min-max range. Symmetric: from
/// 0.8 up to `qmax_div / qmax` (absmax / 7 for 4 bits, where +absmax no longer clips); asymmetric:
/// 0.8 to 1.
fn candidate_factors(s: &Scheme) -> Vec<f32> {
    const N: usize = 24;
    let hi = if s.symmetric { (s.qmax() - s.qmin()) as f32 / 2.0 / s.qmax() as f32 } else { 1.0 };
    let mut f: Vec<f32> = (0..N).map(|k| 0.8 + (hi - 0.8) * k as f32 / (N - 1) as f32).collect();
    f.push(1.0);
    f
}

/// Scale and zero point of one group: min-max, or with `importance`, the candidate range whose
/// stored scale gives the least importance-weighted squared error (min-max on ties).
pub fn group_params(x: &[f32], importance: Option<&[f32]>, s: &Scheme) -> (f32, i32) {
    let (mn, mx) = x.iter().fold((0f32, 0f32), |(a, b), &v| if v.is_finite() { (a.min(v), b.max(v)) } else { (a, b) });
    let plain = qparams(mn, mx, s);
    let Some(imp) = importance else { return plain };
    let mut best = plain;
    let mut best_err = weighted_error(x, imp, plain.0, plain.1, s);
    for f in candidate_factors(s) {
        let c = qparams(mn * f, mx * f, s);
        if c == best {
            continue;
        }
        let err = weighted_error(x, imp, c.0, c.1, s);
        if err < best_err {
            (best, best_err) = (c, err);
        }
    }
    best
}

/// Checks a quantizer's inputs: the scheme fits the matrix, and `w` and `importance` its shape.
pub fn check_inputs(w: &[f32], rows: usize, cols: usize, scheme: &Scheme, importance: Option<&[f32]>) -> Result<()> {
    scheme.check(rows, cols)?;
    if w.len() != rows * cols {
        return Err(Error::Invalid(format!("compressed-tensors: {} values for a {rows}x{cols} matrix", w.len())));
    }
    if let Some(imp) = importance.filter(|i| i.len() != cols) {
        return Err(Error::Invalid(format!("compressed-tensors: {} importance values for {cols} columns", imp.len())));
    }
    Ok(())
}

/// Quantizes a row-major `rows x cols` matrix. `importance` (one weight per input column, e.g.
/// the mean squared activation) switches from min-max scales to a per-group search that
/// minimises the importance-weighted squared error of the stored result.
pub fn quantize(w: &[f32], rows: usize, cols: usize, scheme: &Scheme, importance: Option<&[f32]>) -> Result<Packed> {
    check_inputs(w, rows, cols, scheme, importance)?;
    let (gl, ng, pc) = (scheme.group_len(cols), scheme.n_groups(cols), scheme.packed_cols(cols));
    let (qmin, qmax) = (scheme.qmin(), scheme.qmax());
    let mut packed = vec![0i32; rows * pc];
    let mut scale = vec![bf16::ZERO; rows * ng];
    let mut zero = vec![0i8; rows * ng];
    packed
        .par_chunks_mut(pc)
        .zip(scale.par_chunks_mut(ng))
        .zip(zero.par_chunks_mut(ng))
        .zip(w.par_chunks(cols))
        .for_each_init(
            || vec![0i8; cols],
            |q, (((prow, srow), zrow), x)| {
                for g in 0..ng {
                    let r = g * gl..(g + 1) * gl;
                    let (s, zp) = group_params(&x[r.clone()], importance.map(|i| &i[r.clone()]), scheme);
                    srow[g] = bf16::from_f32(s);
                    zrow[g] = zp as i8;
                    for (d, &v) in q[r.clone()].iter_mut().zip(&x[r]) {
                        *d = quantize_one(v, s, zp, qmin, qmax) as i8;
                    }
                }
                pack_row(q, scheme.bits, prow);
            },
        );
    let zero_point = (!scheme.symmetric).then_some(zero);
    Ok(Packed { packed, scale, zero_point, rows, cols })
}

/// What compressed-tensors' decompression computes, as f32: `(q - zp) * scale` rounded to
/// `dtype`. `scale` (and `zero_point`, unpacked) are `rows x n_groups`.
pub fn dequantize_with(
    packed: &[i32],
    rows: usize,
    cols: usize,
    scheme: &Scheme,
    scale: &[f32],
    zero_point: Option<&[i8]>,
    dtype: ScaleDtype,
) -> Vec<f32> {
    let (gl, ng, pc) = (scheme.group_len(cols), scheme.n_groups(cols), scheme.packed_cols(cols));
    assert!(packed.len() == rows * pc && scale.len() == rows * ng);
    assert!(zero_point.is_none_or(|z| z.len() == rows * ng));
    let mut out = vec![0f32; rows * cols];
    out.par_chunks_mut(cols).enumerate().for_each_init(
        || vec![0i8; cols],
        |q, (r, dst)| {
            unpack_row(&packed[r * pc..(r + 1) * pc], scheme.bits, q);
            for (j, (d, &v)) in dst.iter_mut().zip(q.iter()).enumerate() {
                let g = r * ng + j / gl;
                let zp = zero_point.map_or(0, |z| z[g] as i32);
                *d = dequantize_one(v as i32, zp, scale[g], dtype);
            }
        },
    );
    out
}

/// The f32 matrix a checkpoint holding `p` decompresses to.
pub fn dequantize(p: &Packed, scheme: &Scheme) -> Vec<f32> {
    let scale: Vec<f32> = p.scale.iter().map(|s| s.to_f32()).collect();
    dequantize_with(&p.packed, p.rows, p.cols, scheme, &scale, p.zero_point.as_deref(), ScaleDtype::Bf16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
            })
            .collect()
    }

    const SCHEMES: [Scheme; 6] = [
        Scheme { bits: 4, group_size: Some(32), symmetric: true },
        Scheme { bits: 4, group_size: None, symmetric: true },
        Scheme { bits: 8, group_size: Some(32), symmetric: true },
        Scheme { bits: 8, group_size: None, symmetric: true },
        Scheme { bits: 4, group_size: Some(32), symmetric: false },
        Scheme { bits: 8, group_size: None, symmetric: false },
    ];

    /// Every value comes back within half a step of its group's scale, except values that clip
    /// at +absmax (one step for the symmetric range of absmax / ((qmax - qmin) / 2)), plus the
    /// BF16 rounding of the product.
    #[test]
    fn roundtrip_bound() {
        let (rows, cols) = (16, 96);
        let w = values(1, rows * cols);
        for s in SCHEMES {
            let p = quantize(&w, rows, cols, &s, None).unwrap();
            assert_eq!(p.packed.len(), rows * cols * s.bits as usize / 32);
            assert_eq!(p.zero_point.is_none(), s.symmetric);
            let d = dequantize(&p, &s);
            let gl = s.group_len(cols);
            for r in 0..rows {
                for c in 0..cols {
                    let scale = p.scale[r * s.n_groups(cols) + c / gl].to_f32();
                    let (x, y) = (w[r * cols + c], d[r * cols + c]);
                    let bound = scale * if s.symmetric { 1.0 } else { 0.5 } + x.abs() / 128.0 + 1e-7;
                    assert!((x - y).abs() <= bound, "{s:?} [{r},{c}] {x} -> {y} (scale {scale})");
                }
            }
        }
    }

    /// The symmetric scale is compressed-tensors' absmax / ((qmax - qmin) / 2), rounded to BF16.
    #[test]
    fn minmax_scale_matches_compressed_tensors() {
        let w = [0.3f32, -0.75, 0.5, 0.0, 0.1, 0.2, -0.1, 0.05];
        let p = quantize(&w, 1, 8, &Scheme { bits: 4, group_size: None, symmetric: true }, None).unwrap();
        assert_eq!(p.scale[0], bf16::from_f32(0.75 / 7.5));
        let p = quantize(&w, 1, 8, &Scheme { bits: 8, group_size: None, symmetric: true }, None).unwrap();
        assert_eq!(p.scale[0], bf16::from_f32(0.75 / 127.5));
        // Asymmetric: (max - min) / 15, zp = round(-8 - min / scale).
        let p = quantize(&w, 1, 8, &Scheme { bits: 4, group_size: None, symmetric: false }, None).unwrap();
        let s = bf16::from_f32(1.25 / 15.0);
        assert_eq!(p.scale[0], s);
        assert_eq!(p.zero_point.as_ref().unwrap()[0] as f32, (-8.0 + 0.75 / s.to_f32()).round_ties_even());
        // An all-zero row gets the BF16 epsilon, and dequantizes to zeros.
        let z = quantize(&[0.0; 8], 1, 8, &SCHEMES[1], None).unwrap();
        assert_eq!(z.scale[0], bf16::EPSILON);
        assert_eq!(dequantize(&z, &SCHEMES[1]), vec![0.0; 8]);
    }

    /// The fast roundings agree with the reference ones.
    #[test]
    fn fast_roundings_are_exact() {
        let mut x = -600.0f32;
        while x < 600.0 {
            assert_eq!(rint(x.clamp(-512.0, 512.0)), x.clamp(-512.0, 512.0).round_ties_even(), "{x}");
            x += 0.125;
        }
        for v in values(9, 10_000).into_iter().chain([0.0, -0.0, 1e-40, 3.3e38, -3.3e38, 0.5, 2.5]) {
            assert_eq!(round_bf16(v).to_bits(), ScaleDtype::Bf16.round(v).to_bits(), "{v}");
        }
        assert_eq!(quantize_one(f32::NAN, 1.0, 3, -8, 7), 3);
        assert_eq!(quantize_one(1e30, 1.0, 0, -8, 7), 7);
        assert_eq!(quantize_one(-1e30, 1.0, 100, -128, 127), -128);
    }

    #[test]
    fn importance_lowers_weighted_error() {
        let (rows, cols) = (32, 128);
        let mut w = values(7, rows * cols);
        // A few large weights per row make min-max scales coarse for the rest.
        for r in 0..rows {
            w[r * cols + (r * 5) % cols] *= 6.0;
        }
        let imp: Vec<f32> = (0..cols).map(|c| if c % 7 == 0 { 20.0 } else { 0.5 + (c % 3) as f32 }).collect();
        let err = |d: &[f32]| -> f64 {
            d.iter().zip(&w).enumerate().map(|(i, (y, x))| imp[i % cols] as f64 * ((x - y) as f64).powi(2)).sum()
        };
        for s in SCHEMES {
            let plain = dequantize(&quantize(&w, rows, cols, &s, None).unwrap(), &s);
            let best = dequantize(&quantize(&w, rows, cols, &s, Some(&imp)).unwrap(), &s);
            let (a, b) = (err(&plain), err(&best));
            assert!(b <= a, "{s:?}: {b} > {a}");
            if s.bits == 4 {
                assert!(b < 0.95 * a, "{s:?}: {b} vs {a}");
            }
        }
    }

    #[test]
    fn rejects_bad_schemes() {
        let w = vec![0.0; 64];
        for (s, want) in [
            (Scheme { bits: 3, group_size: None, symmetric: true }, "3 bits"),
            (Scheme { bits: 4, group_size: Some(48), symmetric: true }, "does not divide"),
            (Scheme { bits: 4, group_size: Some(0), symmetric: true }, "does not divide"),
        ] {
            let e = quantize(&w, 2, 32, &s, None).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        assert!(quantize(&w, 2, 32, &SCHEMES[0], Some(&[1.0; 3])).is_err());
        assert!(quantize(&w, 3, 32, &SCHEMES[0], None).is_err());
    }
}
