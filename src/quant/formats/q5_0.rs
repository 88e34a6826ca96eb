//! Q5_0: 32 weights, fp16 scale, 5-bit codes (4 low bits in `qs`, the fifth in `qh`) with an
//! implicit offset of 16 (5.5 bpw).

use super::block::{GgmlBlock, VecDotType};
use super::codes::Grid;
use super::scan::abs_max;
use super::search::make_qx_quants;
use super::{c_trunc_block, each, f16_bytes, f16_le, row_sigma2};
use bytemuck::{Pod, Zeroable};

pub const QK: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ5_0 {
    pub d: [u8; 2],
    pub qh: [u8; 4],
    pub qs: [u8; QK / 2],
}
const _: () = assert!(std::mem::size_of::<BlockQ5_0>() == 22);

/// `dequantize_row_q5_0`.
pub fn dequantize(blocks: &[BlockQ5_0], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK)) {
        let d = f16_le(b.d);
        let qh = u32::from_le_bytes(b.qh);
        for j in 0..QK / 2 {
            let xh0 = ((qh >> j) << 4) & 0x10;
            let xh1 = (qh >> (j + 12)) & 0x10;
            let x0 = ((b.qs[j] as u32 & 0x0F) | xh0) as i32 - 16;
            let x1 = ((b.qs[j] as u32 >> 4) | xh1) as i32 - 16;
            y[j] = x0 as f32 * d;
            y[j + QK / 2] = x1 as f32 * d;
        }
    }
}

/// Q5_0's grid: `d * c`, codes -16..=15 (stored `c + 16`).
pub fn grid(b: &BlockQ5_0) -> Grid {
    let mut g = Grid::linear(QK, -16, 15);
    g.scale[0] = f16_le(b.d);
    g
}

/// Stores one code per weight as 5 bits: low nibbles in `qs`, fifth bits in `qh`.
pub fn set_codes(b: &mut BlockQ5_0, c: &[i32]) {
    let mut qh = 0u32;
    for j in 0..QK / 2 {
        let (l0, l1) = ((c[j] + 16) as u32, (c[j + QK / 2] + 16) as u32);
        b.qs[j] = (l0 & 0x0F) as u8 | (((l1 & 0x0F) as u8) << 4);
        qh |= ((l0 & 0x10) >> 4) << j;
        qh |= ((l1 & 0x10) >> 4) << (j + QK / 2);
    }
    b.qh = qh.to_le_bytes();
}

/// Q5_0 in the block-format table. `quantize_q5_0` for one row: `quantize_row_q5_0_ref`
/// without an imatrix, else `quantize_row_q5_0_impl` (one weight per column of the row).
#[allow(non_camel_case_types)]
pub struct Q5_0;

impl GgmlBlock for Q5_0 {
    const NAME: &'static str = "Q5_0";
    const BLOCK_SIZE: usize = QK;
    const VEC_DOT: VecDotType = VecDotType::Q8_0;
    type Block = BlockQ5_0;
    fn grid(b: &BlockQ5_0) -> Option<Grid> {
        Some(grid(b))
    }
    fn set_codes(b: &mut BlockQ5_0, codes: &[i32]) {
        set_codes(b, codes)
    }

    fn dequantize(blocks: &[BlockQ5_0], y: &mut [f32]) {
        dequantize(blocks, y)
    }
    fn quantize_ref(x: &[f32], out: &mut [BlockQ5_0]) {
        quantize_ref(x, out)
    }
    fn quantize_weighted(x: &[f32], qw: &[f32], out: &mut [BlockQ5_0]) {
        quantize_impl(x, qw, out)
    }
}

/// Packs 5-bit codes: low nibbles in `qs`, fifth bits in `qh`.
fn pack(l: &[u8; QK], b: &mut BlockQ5_0) {
    let mut qh = 0u32;
    for j in 0..QK / 2 {
        let (xi0, xi1) = (l[j], l[j + QK / 2]);
        b.qs[j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
        qh |= ((xi0 as u32 & 0x10) >> 4) << j;
        qh |= ((xi1 as u32 & 0x10) >> 4) << (j + QK / 2);
    }
    b.qh = qh.to_le_bytes();
}

/// `quantize_row_q5_0_ref`.
fn quantize_ref(x: &[f32], out: &mut [BlockQ5_0]) {
    for (b, x) in out.iter_mut().zip(x.chunks_exact(QK)) {
        let x: &[f32; QK] = x.try_into().unwrap();
        let (_, max) = abs_max(x);
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16_bytes(d);
        // `MIN(31, (int8_t)(x*id + 16.5f))`.
        let l = each(&c_trunc_block(&each(x, |v| v * id + 16.5)), |t| 31.min(t as i8 as i32) as u8);
        pack(&l, b);
    }
}

/// `quantize_row_q5_0_impl` with quant weights.
fn quantize_impl(x: &[f32], qw: &[f32], out: &mut [BlockQ5_0]) {
    assert_eq!(qw.len(), x.len(), "quantize Q5_0: imatrix length mismatch");
    let sigma2 = row_sigma2(x);
    for ((b, xb), qw) in out.iter_mut().zip(x.chunks_exact(QK)).zip(qw.chunks_exact(QK)) {
        let xb: &[f32; QK] = xb.try_into().unwrap();
        let mut weight = [0f32; QK];
        for j in 0..QK {
            weight[j] = qw[j] * (sigma2 + xb[j] * xb[j]).sqrt();
        }
        let mut l = [0i8; QK];
        let d = make_qx_quants(16, xb, &mut l, Some(&weight));
        b.d = f16_bytes(d);
        pack(&each(&l, |v| v as u8), b);
    }
}
