//! Q5_K: like Q4_K with a fifth bit per code in `qh` (5.5 bpw).

use super::block::{GgmlBlock, VecDotType};
use super::codes::Grid;
use super::q4_k::{codes_impl, codes_ref};
use super::{f16_le, scale_min_k4, sub, QK_K};
use bytemuck::{Pod, Zeroable};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ5K {
    pub d: [u8; 2],
    pub dmin: [u8; 2],
    pub scales: [u8; 12],
    pub qh: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 2],
}
const _: () = assert!(std::mem::size_of::<BlockQ5K>() == 176);

/// `dequantize_row_q5_K`.
pub fn dequantize(blocks: &[BlockQ5K], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = f16_le(b.d);
        let min = f16_le(b.dmin);
        let (mut u1, mut u2) = (1u8, 2u8);
        for (j, y) in y.chunks_exact_mut(64).enumerate() {
            let ql = &b.qs[j * 32..j * 32 + 32];
            let (sc1, m1) = scale_min_k4(2 * j, &b.scales);
            let (sc2, m2) = scale_min_k4(2 * j + 1, &b.scales);
            let (d1, m1) = (d * sc1 as f32, min * m1 as f32);
            let (d2, m2) = (d * sc2 as f32, min * m2 as f32);
            for l in 0..32 {
                let h1 = if b.qh[l] & u1 != 0 { 16 } else { 0 };
                let h2 = if b.qh[l] & u2 != 0 { 16 } else { 0 };
                y[l] = d1 * ((ql[l] & 0xF) + h1) as f32 - m1;
                y[l + 32] = d2 * ((ql[l] >> 4) + h2) as f32 - m2;
            }
            u1 = u1.wrapping_shl(2);
            u2 = u2.wrapping_shl(2);
        }
    }
}

/// Q5_K's grid: `d * sc * c - dmin * m` per group of 32, codes 0..=31.
pub fn grid(b: &BlockQ5K) -> Grid {
    let mut g = Grid::linear(32, 0, 31);
    let (d, min) = (f16_le(b.d), f16_le(b.dmin));
    for j in 0..QK_K / 32 {
        let (sc, m) = scale_min_k4(j, &b.scales);
        g.scale[j] = d * sc as f32;
        g.offset[j] = -(min * m as f32);
    }
    g
}

/// Stores one code per weight (0..=31): the low nibbles as Q4_K's, the fifth bit of weight
/// `32 g + l` in bit `g` of `qh[l]`.
pub fn set_codes(b: &mut BlockQ5K, c: &[i32]) {
    b.qh = [0; QK_K / 8];
    for j in 0..QK_K / 64 {
        for l in 0..32 {
            let (lo, hi) = (c[64 * j + l] as u8, c[64 * j + 32 + l] as u8);
            b.qs[32 * j + l] = (lo & 0xF) | ((hi & 0xF) << 4);
            b.qh[l] |= ((lo >> 4) << (2 * j)) | ((hi >> 4) << (2 * j + 1));
        }
    }
}

/// Q5_K in the block-format table.
#[allow(non_camel_case_types)]
pub struct Q5_K;

impl GgmlBlock for Q5_K {
    const NAME: &'static str = "Q5_K";
    const BLOCK_SIZE: usize = QK_K;
    const VEC_DOT: VecDotType = VecDotType::Q8_K;
    type Block = BlockQ5K;
    fn grid(b: &BlockQ5K) -> Option<Grid> {
        Some(grid(b))
    }
    fn set_codes(b: &mut BlockQ5K, codes: &[i32]) {
        set_codes(b, codes)
    }

    fn dequantize(blocks: &[BlockQ5K], y: &mut [f32]) {
        dequantize(blocks, y)
    }
    fn quantize_ref(x: &[f32], out: &mut [BlockQ5K]) {
        quantize(x, None, out)
    }
    fn quantize_weighted(x: &[f32], qw: &[f32], out: &mut [BlockQ5K]) {
        quantize(x, Some(qw), out)
    }
}

/// `quantize_q5_K` for one row: `quantize_row_q5_K_ref` without an imatrix, else
/// `quantize_row_q5_K_impl` (`imatrix` has one weight per column of the row). The scale search
/// is Q4_K's with 5-bit codes.
fn quantize(x: &[f32], imatrix: Option<&[f32]>, out: &mut [BlockQ5K]) {
    assert_eq!(x.len(), out.len() * QK_K, "quantize Q5_K: length mismatch");
    for (i, (b, x)) in out.iter_mut().zip(x.chunks_exact(QK_K)).enumerate() {
        let x = x.try_into().unwrap();
        let mut l = [0u8; QK_K];
        let header = match imatrix {
            None => codes_ref(x, 31, -0.5, 15, &mut l),
            Some(qw) => codes_impl(x, sub::<QK_K>(qw, i), 31, true, &mut l),
        };
        (b.d, b.dmin, b.scales) = header;
        b.qh = [0; QK_K / 8];
        let (mut m1, mut m2) = (1u8, 2u8);
        for (n, l) in l.chunks_exact(64).enumerate() {
            for j in 0..32 {
                let mut l1 = l[j];
                if l1 > 15 {
                    l1 -= 16;
                    b.qh[j] |= m1;
                }
                let mut l2 = l[j + 32];
                if l2 > 15 {
                    l2 -= 16;
                    b.qh[j] |= m2;
                }
                b.qs[32 * n + j] = l1 | (l2 << 4);
            }
            m1 = m1.wrapping_shl(2);
            m2 = m2.wrapping_shl(2);
        }
    }
}
