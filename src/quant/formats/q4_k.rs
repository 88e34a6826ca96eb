//! Q4_K: 256-weight super-block of 8 sub-blocks of 32; 6-bit sub-block scales and mins against
//! fp16 super-scales, 4-bit codes (4.5 bpw).

use super::block::{GgmlBlock, VecDotType};
use super::codes::Grid;
use super::search::{make_qp_quants, nearest_int};
use super::search_qkx::make_qkx_quants;
use super::{each, f16_bytes, f16_le, scale_min_k4, sub, sub_mut, QK_K};
use bytemuck::{Pod, Zeroable};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ4K {
    pub d: [u8; 2],
    pub dmin: [u8; 2],
    pub scales: [u8; 12],
    pub qs: [u8; QK_K / 2],
}
const _: () = assert!(std::mem::size_of::<BlockQ4K>() == 144);

/// `dequantize_row_q4_K`.
pub fn dequantize(blocks: &[BlockQ4K], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = f16_le(b.d);
        let min = f16_le(b.dmin);
        for (j, y) in y.chunks_exact_mut(64).enumerate() {
            let q = &b.qs[j * 32..j * 32 + 32];
            let (sc1, m1) = scale_min_k4(2 * j, &b.scales);
            let (sc2, m2) = scale_min_k4(2 * j + 1, &b.scales);
            let (d1, m1) = (d * sc1 as f32, min * m1 as f32);
            let (d2, m2) = (d * sc2 as f32, min * m2 as f32);
            for l in 0..32 {
                y[l] = d1 * (q[l] & 0xF) as f32 - m1;
                y[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
            }
        }
    }
}

/// Q4_K's grid: `d * sc * c - dmin * m` per group of 32, codes 0..=15.
pub fn grid(b: &BlockQ4K) -> Grid {
    let mut g = Grid::linear(32, 0, 15);
    let (d, min) = (f16_le(b.d), f16_le(b.dmin));
    for j in 0..QK_K / 32 {
        let (sc, m) = scale_min_k4(j, &b.scales);
        g.scale[j] = d * sc as f32;
        g.offset[j] = -(min * m as f32);
    }
    g
}

/// Stores one code per weight (0..=15): weight `64 j + l` in the low nibble of `qs[32 j + l]`,
/// `64 j + 32 + l` in its high nibble.
pub fn set_codes(b: &mut BlockQ4K, c: &[i32]) {
    for j in 0..QK_K / 64 {
        for l in 0..32 {
            b.qs[32 * j + l] = c[64 * j + l] as u8 | ((c[64 * j + 32 + l] as u8) << 4);
        }
    }
}

/// Q4_K in the block-format table.
#[allow(non_camel_case_types)]
pub struct Q4_K;

impl GgmlBlock for Q4_K {
    const NAME: &'static str = "Q4_K";
    const BLOCK_SIZE: usize = QK_K;
    const VEC_DOT: VecDotType = VecDotType::Q8_K;
    type Block = BlockQ4K;
    fn grid(b: &BlockQ4K) -> Option<Grid> {
        Some(grid(b))
    }
    fn set_codes(b: &mut BlockQ4K, codes: &[i32]) {
        set_codes(b, codes)
    }

    fn dequantize(blocks: &[BlockQ4K], y: &mut [f32]) {
        dequantize(blocks, y)
    }
    fn quantize_ref(x: &[f32], out: &mut [BlockQ4K]) {
        quantize(x, None, out)
    }
    fn quantize_weighted(x: &[f32], qw: &[f32], out: &mut [BlockQ4K]) {
        quantize(x, Some(qw), out)
    }
}

/// `quantize_q4_K` for one row: `quantize_row_q4_K_ref` without an imatrix, else
/// `quantize_row_q4_K_impl` (`imatrix` has one weight per column of the row).
fn quantize(x: &[f32], imatrix: Option<&[f32]>, out: &mut [BlockQ4K]) {
    assert_eq!(x.len(), out.len() * QK_K, "quantize Q4_K: length mismatch");
    for (i, (b, x)) in out.iter_mut().zip(x.chunks_exact(QK_K)).enumerate() {
        let x = x.try_into().unwrap();
        let mut l = [0u8; QK_K];
        let header = match imatrix {
            None => codes_ref(x, 15, -1.0, 20, &mut l),
            Some(qw) => codes_impl(x, sub::<QK_K>(qw, i), 15, false, &mut l),
        };
        (b.d, b.dmin, b.scales) = header;
        let q = &mut b.qs;
        for (j, l) in l.chunks_exact(64).enumerate() {
            for i in 0..32 {
                q[32 * j + i] = l[i] | (l[i + 32] << 4);
            }
        }
    }
}

/// `d`, `dmin` (fp16 bytes) and the packed 6-bit sub-block scales and mins of a Q4_K/Q5_K block.
pub(super) type Header = ([u8; 2], [u8; 2], [u8; 12]);

/// Stores the 6-bit scale `ls` and min `lm` of sub-block `j` (the inverse of `scale_min_k4`);
/// `j` must go up from 0.
fn pack_scale_min(j: usize, ls: u8, lm: u8, s: &mut [u8; 12]) {
    if j < 4 {
        s[j] = ls;
        s[j + 4] = lm;
    } else {
        s[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
        s[j - 4] |= (ls >> 4) << 6;
        s[j] |= (lm >> 4) << 6;
    }
}

/// The search and requantization of `quantize_row_q4_K_ref` / `quantize_row_q5_K_ref` for one
/// block (they differ only in `nmax` and the search range): codes `0..=nmax` into `l`.
pub(super) fn codes_ref(x: &[f32; QK_K], nmax: i32, rmin: f32, nstep: i32, l: &mut [u8; QK_K]) -> Header {
    let mut mins = [0f32; QK_K / 32];
    let mut scales = [0f32; QK_K / 32];
    let mut max_scale = 0f32;
    let mut max_min = 0f32;
    for j in 0..QK_K / 32 {
        let xs = sub::<32>(x, j);
        let mut sum_x2 = 0f32;
        for v in xs {
            sum_x2 += v * v;
        }
        let av_x = (sum_x2 / 32.0).sqrt();
        let weights = each(xs, |v| av_x + v.abs());
        let (scale, min) = make_qkx_quants(nmax, xs, &weights, sub_mut::<32, _>(l, j), rmin, 0.1, nstep, false);
        scales[j] = scale;
        mins[j] = min;
        if scale > max_scale {
            max_scale = scale;
        }
        if min > max_min {
            max_min = min;
        }
    }
    let inv_scale = if max_scale > 0.0 { 63.0 / max_scale } else { 0.0 };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut packed = [0u8; 12];
    for j in 0..QK_K / 32 {
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        pack_scale_min(j, ls, lm, &mut packed);
    }
    let header = (f16_bytes(max_scale / 63.0), f16_bytes(max_min / 63.0), packed);
    requantize(x, &header, nmax, l);
    header
}

/// The search and requantization of `quantize_row_q4_K_impl` / `quantize_row_q5_K_impl` with
/// quant weights for one block; `clamp63` is the no-op-in-practice `MIN(63, ...)` of the Q5_K one.
pub(super) fn codes_impl(x: &[f32; QK_K], qw: &[f32; QK_K], nmax: i32, clamp63: bool, l: &mut [u8; QK_K]) -> Header {
    let mut mins = [0f32; QK_K / 32];
    let mut scales = [0f32; QK_K / 32];
    let mut sw = [0f32; QK_K / 32];
    let mut sum_x2 = 0f32;
    for v in x {
        sum_x2 += v * v;
    }
    let sigma2 = 2.0 * sum_x2 / QK_K as f32;
    for j in 0..QK_K / 32 {
        let (xs, qw) = (sub::<32>(x, j), sub::<32>(qw, j));
        let mut weights = [0f32; 32];
        for i in 0..32 {
            weights[i] = qw[i] * (sigma2 + xs[i] * xs[i]).sqrt();
        }
        let mut sumw = 0f32;
        for w in weights {
            sumw += w;
        }
        sw[j] = sumw;
        (scales[j], mins[j]) = make_qkx_quants(nmax, xs, &weights, sub_mut::<32, _>(l, j), -0.9, 0.05, 36, false);
    }
    let (mut ls, mut lm) = ([0u8; QK_K / 32], [0u8; QK_K / 32]);
    let d_block = make_qp_quants(63, &scales, &mut ls, &sw);
    let m_block = make_qp_quants(63, &mins, &mut lm, &sw);
    let mut packed = [0u8; 12];
    for j in 0..QK_K / 32 {
        let (ls, lm) = if clamp63 { (ls[j].min(63), lm[j].min(63)) } else { (ls[j], lm[j]) };
        pack_scale_min(j, ls, lm, &mut packed);
    }
    let header = (f16_bytes(d_block), f16_bytes(m_block), packed);
    requantize(x, &header, nmax, l);
    header
}

/// Requantizes every sub-block against its rounded scale and min; sub-blocks whose scale is
/// zero keep their search codes.
fn requantize(x: &[f32; QK_K], (d, dmin, scales): &Header, nmax: i32, l: &mut [u8; QK_K]) {
    let (d_all, m_all) = (f16_le(*d), f16_le(*dmin));
    for j in 0..QK_K / 32 {
        let (sc, m) = scale_min_k4(j, scales);
        let d = d_all * sc as f32;
        if d == 0.0 {
            continue;
        }
        let dm = m_all * m as f32;
        for ii in 0..32 {
            l[32 * j + ii] = nearest_int((x[32 * j + ii] + dm) / d).clamp(0, nmax) as u8;
        }
    }
}
