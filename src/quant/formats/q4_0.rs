//! Q4_0: 32 weights, one fp16 scale, 4-bit codes with an implicit offset of 8 (4.5 bpw).

use super::block::{GgmlBlock, VecDotType};
use super::codes::Grid;
use super::scan::abs_max;
use super::search::make_qx_quants;
use super::{c_trunc_block, each, f16_bytes, f16_le, row_sigma2};
use bytemuck::{Pod, Zeroable};

pub const QK: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ4_0 {
    pub d: [u8; 2],
    pub qs: [u8; QK / 2],
}
const _: () = assert!(std::mem::size_of::<BlockQ4_0>() == 18);

/// `dequantize_row_q4_0`.
pub fn dequantize(blocks: &[BlockQ4_0], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK)) {
        let d = f16_le(b.d);
        for j in 0..QK / 2 {
            let x0 = (b.qs[j] & 0x0F) as i32 - 8;
            let x1 = (b.qs[j] >> 4) as i32 - 8;
            y[j] = x0 as f32 * d;
            y[j + QK / 2] = x1 as f32 * d;
        }
    }
}

/// Q4_0's grid: `d * c`, codes -8..=7 (stored `c + 8`).
pub fn grid(b: &BlockQ4_0) -> Grid {
    let mut g = Grid::linear(QK, -8, 7);
    g.scale[0] = f16_le(b.d);
    g
}

/// Stores one code per weight (-8..=7).
pub fn set_codes(b: &mut BlockQ4_0, c: &[i32]) {
    for j in 0..QK / 2 {
        b.qs[j] = (c[j] + 8) as u8 | (((c[j + QK / 2] + 8) as u8) << 4);
    }
}

/// Q4_0 in the block-format table. `quantize_q4_0` for one row: `quantize_row_q4_0_ref`
/// without an imatrix, else `quantize_row_q4_0_impl` (one weight per column of the row).
#[allow(non_camel_case_types)]
pub struct Q4_0;

impl GgmlBlock for Q4_0 {
    const NAME: &'static str = "Q4_0";
    const BLOCK_SIZE: usize = QK;
    const VEC_DOT: VecDotType = VecDotType::Q8_0;
    type Block = BlockQ4_0;
    fn grid(b: &BlockQ4_0) -> Option<Grid> {
        Some(grid(b))
    }
    fn set_codes(b: &mut BlockQ4_0, codes: &[i32]) {
        set_codes(b, codes)
    }

    fn dequantize(blocks: &[BlockQ4_0], y: &mut [f32]) {
        dequantize(blocks, y)
    }
    fn quantize_ref(x: &[f32], out: &mut [BlockQ4_0]) {
        quantize_ref(x, out)
    }
    fn quantize_weighted(x: &[f32], qw: &[f32], out: &mut [BlockQ4_0]) {
        quantize_impl(x, qw, out)
    }
}

/// `quantize_row_q4_0_ref`.
fn quantize_ref(x: &[f32], out: &mut [BlockQ4_0]) {
    for (b, x) in out.iter_mut().zip(x.chunks_exact(QK)) {
        let x: &[f32; QK] = x.try_into().unwrap();
        let (_, max) = abs_max(x);
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16_bytes(d);
        // `MIN(15, (int8_t)(x*id + 8.5f))`.
        let q = each(&c_trunc_block(&each(x, |v| v * id + 8.5)), |t| 15.min(t as i8 as i32) as u8);
        for j in 0..QK / 2 {
            b.qs[j] = q[j] | (q[j + QK / 2] << 4);
        }
    }
}

/// `quantize_row_q4_0_impl` with quant weights.
fn quantize_impl(x: &[f32], qw: &[f32], out: &mut [BlockQ4_0]) {
    assert_eq!(qw.len(), x.len(), "quantize Q4_0: imatrix length mismatch");
    let sigma2 = row_sigma2(x);
    for ((b, xb), qw) in out.iter_mut().zip(x.chunks_exact(QK)).zip(qw.chunks_exact(QK)) {
        let xb: &[f32; QK] = xb.try_into().unwrap();
        let mut weight = [0f32; QK];
        for j in 0..QK {
            weight[j] = qw[j] * (sigma2 + xb[j] * xb[j]).sqrt();
        }
        let mut l = [0i8; QK];
        let d = make_qx_quants(8, xb, &mut l, Some(&weight));
        b.d = f16_bytes(d);
        for j in 0..QK / 2 {
            b.qs[j] = l[j] as u8 | ((l[j + 16] as u8) << 4);
        }
    }
}
