//! Quantizer tests: bytes identical to libggml's `ggml_quantize_chunk` (fixture
//! tests/data/quant_golden.json, made by scripts/gen_quant_golden.py) for every type, without and
//! with an imatrix; round-trip error bounds; the imatrix variant's weighted error; fp16/bf16
//! rounding. `ggml_ffi` (ignored by default) fuzzes against the library itself.

use super::{dequantize, float, quantize_row, quantize_rows, GgmlType};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn f32s(s: &str) -> Vec<f32> {
    hex(s).chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Deterministic normal samples (xorshift64 and Box-Muller).
pub(crate) struct Rng(pub u64);

impl Rng {
    pub fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }
    pub fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
    /// Rows of Gaussian weights with a random scale per row and a few 20x outliers.
    pub fn weights(&mut self, n: usize, n_per_row: usize) -> Vec<f32> {
        let mut x: Vec<f32> = (0..n).map(|_| self.normal()).collect();
        for row in x.chunks_mut(n_per_row) {
            let s = (self.uniform() * 6.0 - 5.0).exp();
            row.iter_mut().for_each(|v| *v *= s);
        }
        for _ in 0..n / 1000 {
            let i = (self.uniform() * n as f32) as usize % n;
            x[i] *= 20.0;
        }
        x
    }
    /// A positive imatrix with a wide range, like squared activations.
    pub fn imatrix(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| (1.5 * self.normal()).exp()).collect()
    }
}

pub(super) fn quantize_vec(ty: GgmlType, x: &[f32], n_per_row: usize, qw: Option<&[f32]>) -> Vec<u8> {
    let mut out = vec![0u8; x.len() / n_per_row * ty.row_bytes(n_per_row).unwrap()];
    quantize_rows(ty, x, n_per_row, qw, &mut out);
    out
}

/// Index of each block that differs between `got` and `want`.
pub(super) fn differing_blocks(ty: GgmlType, got: &[u8], want: &[u8]) -> Vec<usize> {
    assert_eq!(got.len(), want.len(), "{ty}: size");
    let size = ty.type_size();
    (0..got.len() / size).filter(|b| got[b * size..(b + 1) * size] != want[b * size..(b + 1) * size]).collect()
}

#[test]
fn quantize_matches_libggml_bit_for_bit() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/data/quant_golden.json")).unwrap();
    let mut checked = 0;
    for ty in GgmlType::ALL {
        for (name, case) in golden["cases"].as_object().unwrap() {
            let n_per_row = case["n_per_row"].as_u64().unwrap() as usize;
            let (x, qw) = (f32s(case["src"].as_str().unwrap()), f32s(case["imatrix"].as_str().unwrap()));
            for (variant, imatrix) in [("plain", None), ("imatrix", Some(&qw[..]))] {
                let want = hex(golden["types"][ty.name()][name][variant].as_str().unwrap());
                let got = quantize_vec(ty, &x, n_per_row, imatrix);
                let bad = differing_blocks(ty, &got, &want);
                assert!(bad.is_empty(), "{ty} {name} {variant}: blocks {bad:?} differ from libggml");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, GgmlType::ALL.len() * 2 * 2);
}

/// Relative RMS error of quantize-then-dequantize (mean over Gaussian rows with 20x outliers) and
/// the bound it must stay under (about 1.25x what it is).
#[test]
fn round_trip_error_is_small() {
    let bounds = [
        (GgmlType::F32, 0.0),
        (GgmlType::F16, 0.00025),
        (GgmlType::BF16, 0.002),
        (GgmlType::Q8_0, 0.0095),
        (GgmlType::Q6_K, 0.028),
        (GgmlType::Q5_1, 0.053),
        (GgmlType::Q5_0, 0.073),
        (GgmlType::Q5_K, 0.05),
        (GgmlType::Q4_1, 0.11),
        (GgmlType::Q4_0, 0.135),
        (GgmlType::Q4_K, 0.1),
        (GgmlType::Q3_K, 0.19),
        (GgmlType::Q2_K, 0.36),
    ];
    let n_per_row = 1024;
    let x = Rng(7).weights(64 * n_per_row, n_per_row);
    for (ty, bound) in bounds {
        let q = quantize_vec(ty, &x, n_per_row, None);
        let mut y = vec![0f32; x.len()];
        dequantize(ty, &q, &mut y);
        let mut total = 0f64;
        for (xr, yr) in x.chunks(n_per_row).zip(y.chunks(n_per_row)) {
            let err: f64 = xr.iter().zip(yr).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
            let norm: f64 = xr.iter().map(|a| (*a as f64).powi(2)).sum();
            total += err / norm;
        }
        let rel = (total / (x.len() / n_per_row) as f64).sqrt();
        assert!(rel <= bound, "{ty}: relative RMS error {rel:.5} above {bound}");
    }
}

/// The imatrix quantizers minimise the importance-weighted error: on average over rows it is
/// below the reference quantizers'.
#[test]
fn imatrix_lowers_weighted_error() {
    let n_per_row = 512;
    let mut rng = Rng(11);
    let x = rng.weights(48 * n_per_row, n_per_row);
    let qw = rng.imatrix(n_per_row);
    let weighted_err = |ty: GgmlType, imatrix: Option<&[f32]>| {
        let q = quantize_vec(ty, &x, n_per_row, imatrix);
        let mut y = vec![0f32; x.len()];
        dequantize(ty, &q, &mut y);
        let mut total = 0f64;
        for (xr, yr) in x.chunks(n_per_row).zip(y.chunks(n_per_row)) {
            let e: f64 = (0..n_per_row).map(|i| qw[i] as f64 * ((xr[i] - yr[i]) as f64).powi(2)).sum();
            let n: f64 = (0..n_per_row).map(|i| qw[i] as f64 * (xr[i] as f64).powi(2)).sum();
            total += e / n;
        }
        total / (x.len() / n_per_row) as f64
    };
    use GgmlType::*;
    for ty in [Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K] {
        let (plain, imat) = (weighted_err(ty, None), weighted_err(ty, Some(&qw)));
        assert!(imat < plain, "{ty}: weighted error with imatrix {imat:.3e} not below plain {plain:.3e}");
    }
    for ty in [F32, F16, BF16, Q8_0] {
        assert_eq!(quantize_vec(ty, &x, n_per_row, None), quantize_vec(ty, &x, n_per_row, Some(&qw)), "{ty}");
    }
}

#[test]
fn fp16_and_bf16_round_like_ggml() {
    let mut rng = Rng(3);
    let specials = [0.0, -0.0, 65504.0, 65520.0, 65519.99, 1e-8, 2.98e-8, 6.1e-5, f32::INFINITY, f32::NEG_INFINITY];
    let bits = (0..200_000).map(|_| {
        rng.uniform();
        (rng.0 >> 16) as u32
    });
    for v in specials.into_iter().chain(bits.map(f32::from_bits)) {
        if v.is_nan() {
            assert_eq!(float::fp32_to_fp16(v) & 0x7FFF, 0x7E00);
            assert_eq!(float::fp32_to_bf16(v), ((v.to_bits() >> 16) | 64) as u16);
            continue;
        }
        assert_eq!(float::fp32_to_fp16(v), half::f16::from_f32(v).to_bits(), "fp16 of {v:e}");
        assert_eq!(float::fp32_to_bf16(v), half::bf16::from_f32(v).to_bits(), "bf16 of {v:e}");
    }
}

#[test]
fn rows_are_independent_and_parallel_is_deterministic() {
    let n_per_row = 256;
    let mut rng = Rng(5);
    let x = rng.weights(32 * n_per_row, n_per_row);
    let qw = rng.imatrix(n_per_row);
    for ty in GgmlType::ALL {
        for imatrix in [None, Some(&qw[..])] {
            let all = quantize_vec(ty, &x, n_per_row, imatrix);
            let rb = ty.row_bytes(n_per_row).unwrap();
            for (r, row) in x.chunks(n_per_row).enumerate().step_by(7) {
                let mut one = vec![0u8; rb];
                quantize_row(ty, row, imatrix, &mut one);
                assert_eq!(one, all[r * rb..(r + 1) * rb], "{ty} row {r}");
            }
        }
    }
}

#[test]
#[should_panic(expected = "imatrix length mismatch")]
fn imatrix_must_cover_a_row() {
    quantize_vec(GgmlType::Q4_K, &[0.0; 512], 512, Some(&[1.0; 256]));
}

/// The vectorized block scans agree with ggml's loops, including signed zeros, NaN and ties.
#[test]
fn block_scans_match_ggml_loops() {
    use super::scan::{abs_max, amax_q8, min_max};
    let mut rng = Rng(9);
    let specials = [0.0, -0.0, f32::NAN, 1.0, -1.0, f32::INFINITY, f32::NEG_INFINITY, 1e-40, -2.0, 2.0];
    for _ in 0..20_000 {
        let x: [f32; 32] = std::array::from_fn(|_| {
            let u = rng.uniform();
            if u < 0.5 {
                specials[(rng.uniform() * specials.len() as f32) as usize % specials.len()]
            } else {
                rng.normal()
            }
        });
        let (mut amax, mut max) = (0f32, 0f32);
        let (mut q8, mut mn, mut mx) = (0f32, f32::MAX, -f32::MAX);
        for &v in &x {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
            q8 = if q8 > v.abs() { q8 } else { v.abs() };
            if v < mn {
                mn = v;
            }
            if v > mx {
                mx = v;
            }
        }
        let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        let (a, m) = abs_max(&x);
        assert!(same(a, amax) && same(m, max), "abs_max of {x:?}");
        assert!(same(amax_q8(&x), q8), "amax_q8 of {x:?}");
        let (a, b) = min_max(&x);
        assert!(same(a, mn) && same(b, mx), "min_max of {x:?}");
    }
}

/// C's float-to-int conversions on x86-64, including the out-of-range results ggml reaches with
/// subnormal blocks.
#[test]
fn c_conversions_match_x86() {
    let v = [0.4, -0.6, 8.5, 16.9, -1e10, 3e9, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 2147483520.0, -2147483648.0];
    let want = [0, 0, 8, 16, i32::MIN, i32::MIN, i32::MIN, i32::MIN, i32::MIN, 2147483520, i32::MIN];
    for (v, w) in v.iter().zip(want) {
        assert_eq!(super::c_trunc(*v), w, "c_trunc({v})");
    }
    let block: [f32; 8] = std::array::from_fn(|i| v[i]);
    assert_eq!(super::c_trunc_block(&block), std::array::from_fn(|i| want[i]));
}

/// The portable lane loops of the min/scale search give what the AVX2 kernels (the path the
/// libggml comparisons take on this machine) give.
#[test]
fn qkx_search_portable_matches_dispatched() {
    use super::search_qkx::{make_qkx_quants, search};
    let mut rng = Rng(13);
    for case in 0..4000 {
        let x: [f32; 32] = std::array::from_fn(|_| rng.normal() + if case % 3 == 0 { 1.5 } else { 0.0 });
        let w: [f32; 32] = std::array::from_fn(|i| x[i].abs() + rng.uniform());
        let (nmax, rmin, rdelta, nstep, mad) =
            [(15, -1.0, 0.1, 20, false), (31, -0.9, 0.05, 36, false), (3, -0.5, 0.1, 15, true)][case % 3];
        let (mut l1, mut l2) = ([0u8; 32], [0u8; 32]);
        let a = make_qkx_quants(nmax, &x, &w, &mut l1, rmin, rdelta, nstep, mad);
        let b = search::<32, false>(nmax, &x, &w, &mut l2, rmin, rdelta, nstep, mad);
        assert_eq!((a.0.to_bits(), a.1.to_bits(), l1), (b.0.to_bits(), b.1.to_bits(), l2), "case {case}");
    }
}
