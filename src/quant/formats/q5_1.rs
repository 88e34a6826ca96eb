//! Q5_1: 32 weights, fp16 scale and min, 5-bit codes (6 bpw).

use super::block::{GgmlBlock, VecDotType};
use super::codes::Grid;
use super::scan::min_max;
use super::search_qkx::make_qkx_quants;
use super::{c_trunc_block, each, f16_bytes, f16_le, row_sigma2};
use bytemuck::{Pod, Zeroable};

pub const QK: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ5_1 {
    pub d: [u8; 2],
    pub m: [u8; 2],
    pub qh: [u8; 4],
    pub qs: [u8; QK / 2],
}
const _: () = assert!(std::mem::size_of::<BlockQ5_1>() == 24);

/// `dequantize_row_q5_1`.
pub fn dequantize(blocks: &[BlockQ5_1], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK)) {
        let d = f16_le(b.d);
        let m = f16_le(b.m);
        let qh = u32::from_le_bytes(b.qh);
        for j in 0..QK / 2 {
            let xh0 = ((qh >> j) << 4) & 0x10;
            let xh1 = (qh >> (j + 12)) & 0x10;
            let x0 = (b.qs[j] as u32 & 0x0F) | xh0;
            let x1 = (b.qs[j] as u32 >> 4) | xh1;
            y[j] = x0 as f32 * d + m;
            y[j + QK / 2] = x1 as f32 * d + m;
        }
    }
}

/// Q5_1's grid: `d * c + m`, codes 0..=31.
pub fn grid(b: &BlockQ5_1) -> Grid {
    let mut g = Grid::linear(QK, 0, 31);
    g.scale[0] = f16_le(b.d);
    g.offset[0] = f16_le(b.m);
    g
}

/// Stores one code per weight as 5 bits: low nibbles in `qs`, fifth bits in `qh`.
pub fn set_codes(b: &mut BlockQ5_1, c: &[i32]) {
    let mut qh = 0u32;
    for j in 0..QK / 2 {
        let (l0, l1) = (c[j] as u32, c[j + QK / 2] as u32);
        b.qs[j] = (l0 & 0x0F) as u8 | (((l1 & 0x0F) as u8) << 4);
        qh |= ((l0 & 0x10) >> 4) << j;
        qh |= ((l1 & 0x10) >> 4) << (j + QK / 2);
    }
    b.qh = qh.to_le_bytes();
}

/// Q5_1 in the block-format table. `quantize_q5_1` for one row: `quantize_row_q5_1_ref`
/// without an imatrix, else `quantize_row_q5_1_impl` (one weight per column of the row).
#[allow(non_camel_case_types)]
pub struct Q5_1;

impl GgmlBlock for Q5_1 {
    const NAME: &'static str = "Q5_1";
    const BLOCK_SIZE: usize = QK;
    const VEC_DOT: VecDotType = VecDotType::Q8_0;
    type Block = BlockQ5_1;
    fn grid(b: &BlockQ5_1) -> Option<Grid> {
        Some(grid(b))
    }
    fn set_codes(b: &mut BlockQ5_1, codes: &[i32]) {
        set_codes(b, codes)
    }

    fn dequantize(blocks: &[BlockQ5_1], y: &mut [f32]) {
        dequantize(blocks, y)
    }
    fn quantize_ref(x: &[f32], out: &mut [BlockQ5_1]) {
        quantize_ref(x, out)
    }
    fn quantize_weighted(x: &[f32], qw: &[f32], out: &mut [BlockQ5_1]) {
        quantize_impl(x, qw, out)
    }
}

/// Packs 5-bit codes: low nibbles in `qs`, fifth bits in `qh`.
fn pack(l: &[u8; QK], b: &mut BlockQ5_1) {
    let mut qh = 0u32;
    for j in 0..QK / 2 {
        let (xi0, xi1) = (l[j], l[j + QK / 2]);
        b.qs[j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
        qh |= ((xi0 as u32 & 0x10) >> 4) << j;
        qh |= ((xi1 as u32 & 0x10) >> 4) << (j + QK / 2);
    }
    b.qh = qh.to_le_bytes();
}

/// `quantize_row_q5_1_ref`.
fn quantize_ref(x: &[f32], out: &mut [BlockQ5_1]) {
    for (b, x) in out.iter_mut().zip(x.chunks_exact(QK)) {
        let x: &[f32; QK] = x.try_into().unwrap();
        let (min, max) = min_max(x);
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16_bytes(d);
        b.m = f16_bytes(min);
        // `(uint8_t)((x - min)*id + 0.5f)`.
        let l = each(&c_trunc_block(&each(x, |v| (v - min) * id + 0.5)), |t| t as u8);
        pack(&l, b);
    }
}

/// `quantize_row_q5_1_impl` with quant weights.
fn quantize_impl(x: &[f32], qw: &[f32], out: &mut [BlockQ5_1]) {
    assert_eq!(qw.len(), x.len(), "quantize Q5_1: imatrix length mismatch");
    let sigma2 = row_sigma2(x);
    for ((b, xb), qw) in out.iter_mut().zip(x.chunks_exact(QK)).zip(qw.chunks_exact(QK)) {
        let xb: &[f32; QK] = xb.try_into().unwrap();
        let mut weight = [0f32; QK];
        for j in 0..QK {
            weight[j] = qw[j] * (sigma2 + xb[j] * xb[j]).sqrt();
        }
        let mut l = [0u8; QK];
        let (d, min) = make_qkx_quants(31, xb, &weight, &mut l, -0.9, 0.05, 36, false);
        b.d = f16_bytes(d);
        b.m = f16_bytes(-min);
        pack(&l, b);
    }
}
