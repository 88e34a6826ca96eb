//! The kernels against their references: every unpacker against its type's dequantizer, the
//! scalar dot product against f64 sums of the dequantized values, the AVX2 path against the
//! scalar one, on random blocks and quantized Gaussian rows, at the real models' row widths.

use super::act::{nearest, ActBlocks, ActFormat};
use super::tile::{Tile, ROWS};
use super::unpack::{shape, Row, Shape};
use super::{matmul, scalar, supports, Isa};
use crate::quant::formats::quant_tests::Rng;
use crate::quant::formats::{dequantize, quantize_rows, GgmlType};

const TYPES: [GgmlType; 12] = [
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::IQ4_NL,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::Q3_K,
    GgmlType::Q2_K,
    GgmlType::IQ4_XS,
];

fn act_format(ty: GgmlType) -> ActFormat {
    if ty.block_size() == 256 {
        ActFormat::Q8K
    } else {
        ActFormat::Q8_0
    }
}

/// Row widths of the real models that `ty`'s blocks divide.
fn widths(ty: GgmlType) -> Vec<usize> {
    [576, 640, 896, 1536, 8960, 32, 256].into_iter().filter(|w| w % ty.block_size() == 0).collect()
}

/// `rows` rows of `ty`: random bytes (every bit pattern of codes and scales) when `raw`,
/// otherwise Gaussian rows with outliers quantized by the reference quantizer.
fn weights(ty: GgmlType, rows: usize, cols: usize, raw: bool, rng: &mut Rng) -> Vec<u8> {
    let n = rows * ty.row_bytes(cols).unwrap();
    if raw {
        let mut b: Vec<u8> = (0..n).map(|_| (rng.uniform() * 256.0) as u8).collect();
        // Redraw the blocks whose random f16 scales decode to infinities or NaNs (or values
        // beyond any real weight), one block at a time.
        let mut y = vec![0f32; ty.block_size()];
        for blk in b.chunks_mut(ty.type_size()) {
            loop {
                dequantize(ty, blk, &mut y);
                if y.iter().all(|v| v.is_finite() && v.abs() < 1e6) {
                    break;
                }
                blk.iter_mut().for_each(|v| *v = (rng.uniform() * 256.0) as u8);
            }
        }
        return b;
    }
    let x = rng.weights(rows * cols, cols);
    let mut out = vec![0u8; n];
    quantize_rows(ty, &x, cols, None, &mut out);
    out
}

fn dequant(ty: GgmlType, w: &[u8], cols: usize) -> Vec<f32> {
    let mut y = vec![0f32; w.len() / ty.row_bytes(cols).unwrap() * cols];
    dequantize(ty, w, &mut y);
    y
}

/// The value each activation stands for: code times its block's scale.
fn act_values(a: &ActBlocks, t: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(t * a.cols);
    for k in 0..t {
        v.extend((0..a.cols).map(|i| a.code(k, i) as f32 * a.scale(k, i / 32)));
    }
    v
}

#[test]
fn every_unpacker_reproduces_its_dequantizer() {
    let mut rng = Rng(3);
    for ty in TYPES {
        let cols = if ty.block_size() == 256 { 512 } else { 96 };
        for raw in [true, false] {
            let w = weights(ty, 7, cols, raw, &mut rng);
            let want = dequant(ty, &w, cols);
            let mut tile = Tile::new(shape(ty).unwrap(), cols);
            tile.fill(ty, &w);
            assert_eq!((tile.rows, tile.groups()), (7, 1));
            for (i, &want) in want.iter().enumerate() {
                let (r, c) = (i / cols, i % cols);
                let (b, half) = (c / 32, (c % 32) / 16);
                let h = tile.half_scale(r, b, half);
                let code = tile.code(r, c) as i32 - tile.shape.bias as i32;
                let got = tile.scale(r, b) * (h as i32 * code) as f32 + tile.offset(r, c / 16);
                let tol = 1e-6 * want.abs().max(tile.scale(r, b).abs() * 64.0 * h.abs() as f32);
                assert!((got - want).abs() <= tol, "{ty} raw={raw} weight {i}: {got} vs {want}");
            }
            // The padding row of the group is all zero.
            assert!((0..cols).all(|c| tile.code(ROWS - 1, c) == 0 && tile.offset(ROWS - 1, c / 16) == 0.0));
        }
    }
}

/// The matmul through every path against f64 sums of the dequantized operands.
fn check_matmul(ty: GgmlType, rows: usize, cols: usize, t: usize, raw: bool, rng: &mut Rng) {
    let w = weights(ty, rows, cols, raw, rng);
    let x = rng.weights(t * cols, cols);
    let acts = ActBlocks::quantize(&x, cols, act_format(ty));
    let (wf, xf) = (dequant(ty, &w, cols), act_values(&acts, t));
    let scalar_y = matmul(ty, &w, rows, cols, &acts, t, Isa::Scalar);
    let fast_y = matmul(ty, &w, rows, cols, &acts, t, Isa::detect());
    for k in 0..t {
        for r in 0..rows {
            let (wr, xk) = (&wf[r * cols..(r + 1) * cols], &xf[k * cols..(k + 1) * cols]);
            let want: f64 = wr.iter().zip(xk).map(|(&a, &b)| a as f64 * b as f64).sum();
            let mag: f64 = wr.iter().zip(xk).map(|(&a, &b)| (a as f64 * b as f64).abs()).sum();
            let (s, f) = (scalar_y[k * rows + r] as f64, fast_y[k * rows + r] as f64);
            assert!((s - want).abs() <= 1e-5 * mag + 1e-30, "{ty} {cols} scalar [{k},{r}]: {s} vs {want}");
            assert!((f - s).abs() <= 1e-5 * mag + 1e-30, "{ty} {cols} fast [{k},{r}]: {f} vs scalar {s}");
        }
    }
}

#[test]
fn matmul_matches_dequantized_product_at_real_row_widths() {
    let mut rng = Rng(5);
    for ty in TYPES {
        for cols in widths(ty) {
            // 5 tokens: one full group of four and a padded one; 3 rows per band at 8960.
            check_matmul(ty, 9, cols, 5, false, &mut rng);
            check_matmul(ty, 3, cols, 1, true, &mut rng);
        }
    }
}

#[test]
fn matmul_spans_many_bands_and_token_groups() {
    let mut rng = Rng(9);
    // 8960-wide rows make bands of one row group (8 rows): 50 rows end in a partial group.
    check_matmul(GgmlType::Q4_K, 50, 8960, 11, false, &mut rng);
    check_matmul(GgmlType::Q8_0, 300, 576, 9, true, &mut rng);
    // 32-wide rows make bands of 2048 rows and slabs of 8192: a second slab of 9 rows.
    check_matmul(GgmlType::Q4_0, 8201, 32, 5, false, &mut rng);
}

#[test]
fn activation_codes_match_ggml_rounding() {
    // One Q8_0 block: amax 1.27 -> d = f16(0.01), codes round(x * 127/1.27) half to even.
    let mut x: Vec<f32> = (0..32).map(|i| (i as f32 - 16.0) * 0.0793).collect();
    x[31] = 1.27;
    let a = ActBlocks::quantize(&x, 32, ActFormat::Q8_0);
    assert_eq!(a.t_pad, 4);
    assert_eq!(a.scale(0, 0), half::f16::from_f32(0.01).to_f32());
    for (i, &x) in x.iter().enumerate() {
        assert_eq!(a.code(0, i) as f32, (x * (127.0 / 1.27)).round_ties_even(), "{i}");
    }
    assert!((1..4).all(|k| a.scale(k, 0) == 0.0 && a.code(k, 5) == 0), "padding rows are zero");
    // Q8_K: the scale comes from the signed maximum; -max maps to -127.
    // Two rows, the second one the first negated, so the rows' layouts are told apart.
    let mut x = vec![0.5f32; 512];
    x[3] = -2.0;
    for i in 256..512 {
        x[i] = -x[i - 256];
    }
    let a = ActBlocks::quantize(&x, 256, ActFormat::Q8K);
    assert_eq!((a.code(0, 3), a.code(1, 3)), (-127, -127));
    assert_eq!((a.code(0, 0), a.code(1, 0)), (32, 32)); // 0.5 * 127/2 = 31.75
    assert!((0..8).all(|b| a.scale(0, b) == 2.0 / 127.0 && a.scale(1, b) == -2.0 / 127.0));
    let sum16: i32 = (0..16).map(|i| a.code(0, i) as i32).sum();
    assert_eq!(a.half_sum(0, 0), a.scale(0, 0) * sum16 as f32);
    assert_eq!(a.half_sum(1, 0), -a.half_sum(0, 0));
}

#[test]
fn supported_types_pair_with_their_activation_format() {
    assert!(supports(GgmlType::Q4_0, ActFormat::Q8_0) && !supports(GgmlType::Q4_0, ActFormat::Q8K));
    assert!(supports(GgmlType::Q6_K, ActFormat::Q8K) && !supports(GgmlType::Q6_K, ActFormat::Q8_0));
    assert!(!supports(GgmlType::F16, ActFormat::Q8_0) && !supports(GgmlType::F32, ActFormat::Q8K));
    assert!(TYPES.iter().all(|&t| supports(t, act_format(t))));
}

#[test]
fn scalar_reference_sums_half_blocks_with_their_scales() {
    // A hand-made tile: one signed block, half scales 2 and -3, offsets none.
    let mut row = Row::new(32);
    row.codes = (0..32).map(|i| i as i8 - 16).collect();
    (row.ws, row.hs, row.wo) = (vec![0.5], vec![[2, -3]], vec![0.0; 2]);
    let tile =
        Tile::from_rows(Shape { superblock: false, signed: true, offsets: false, max_code: 128, bias: 0 }, vec![row]);
    let x = vec![1.0f32; 32];
    let a = ActBlocks::quantize(&x, 32, ActFormat::Q8_0);
    let d = a.scale(0, 0);
    // codes -16..-1 sum -136, 0..15 sum 120; activations all 127.
    let want = 0.5 * d * 127.0 * (2.0 * -136.0 - 3.0 * 120.0);
    assert_eq!(scalar::dot_group(&tile, 0, &a, 0)[0][0], want);
}

#[test]
fn extreme_codes_do_not_overflow_the_16_bit_sums() {
    // Every code at its type's extreme, every activation at +-127, the k-quants' sub-block
    // scales at -128: the largest sums each path can meet.
    let cols = 512;
    for ty in TYPES {
        let sh = shape(ty).unwrap();
        let code = if sh.signed { -128 } else { sh.max_code as i8 };
        let h = if sh.superblock { -128 } else { 1 };
        let rows: Vec<Row> = (0..9)
            .map(|r| {
                let mut row = Row::new(cols);
                row.codes.fill(if r % 2 == 0 { code } else { code / 2 });
                (row.ws, row.hs) = (vec![1.0; cols / 32], vec![[h, h]; cols / 32]);
                row
            })
            .collect();
        let tile = Tile::from_rows(sh, rows);
        for sign in [1.0f32, -1.0] {
            let x = vec![sign; 4 * cols];
            let acts = ActBlocks::quantize(&x, cols, act_format(ty));
            for rg in 0..tile.groups() {
                let want = scalar::dot_group(&tile, rg, &acts, 0);
                // SAFETY: only called where the CPU has AVX2.
                #[cfg(target_arch = "x86_64")]
                if Isa::detect() == Isa::Avx2 {
                    let got = unsafe { super::avx2::dot_group(&tile, rg, &acts, 0) };
                    for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
                        assert!((g - w).abs() <= 1e-5 * w.abs(), "{ty} sign {sign}: {g} vs {w}");
                    }
                }
                let full =
                    acts.code(0, 0) as f32 * (code as f32 - sh.bias as f32) * h as f32 * cols as f32 * acts.scale(0, 0);
                assert!((want[0][0] - full).abs() <= 1e-5 * full.abs(), "{ty}: {} vs {full}", want[0][0]);
            }
        }
    }
}

#[test]
fn nearest_rounds_half_to_even() {
    for x in [-127.5f32, -2.5, -0.5, 0.49, 0.5, 1.5, 2.5, 126.5, 127.0, 3.7] {
        assert_eq!(nearest(x), x.round_ties_even(), "{x}");
    }
}

/// The float driver against f64 sums of the dequantized weights: F32, F16 and BF16 (and Q8_0,
/// which it takes where the CPU has no integer kernel), at the real models' widths, with row and token counts that leave
/// partial bands and slabs.
#[test]
fn float_matmul_equals_f64_sums() {
    let mut rng = Rng(11);
    for (ty, cols, rows, t) in [
        (GgmlType::F16, 576, 300, 7),
        (GgmlType::BF16, 640, 17, 1),
        (GgmlType::F32, 896, 9000, 3),
        (GgmlType::F16, 8960, 40, 2),
        (GgmlType::Q8_0, 1536, 33, 5),
    ] {
        let w = weights(ty, rows, cols, false, &mut rng);
        let mut wf = vec![0f32; rows * cols];
        dequantize(ty, &w, &mut wf);
        let x: Vec<f32> = (0..t * cols).map(|_| rng.normal()).collect();
        for band in [None, Some(16)] {
            let y = match band {
                None => super::float::matmul(ty, &w, rows, cols, &x, t),
                Some(b) => super::float::matmul_banded(ty, &w, rows, cols, &x, t, b),
            };
            assert_eq!(y.len(), t * rows);
            for k in 0..t {
                for r in (0..rows).step_by(7).chain([rows - 1]) {
                    let (xs, ws) = (&x[k * cols..(k + 1) * cols], &wf[r * cols..(r + 1) * cols]);
                    let want: f64 = xs.iter().zip(ws).map(|(a, b)| *a as f64 * *b as f64).sum();
                    let scale: f64 = xs.iter().zip(ws).map(|(a, b)| (*a as f64 * *b as f64).abs()).sum();
                    let got = y[k * rows + r] as f64;
                    assert!((got - want).abs() <= 1e-5 * scale + 1e-6, "{ty} {cols}x{rows} t{k} r{r}: {got} vs {want}");
                }
            }
        }
    }
}
