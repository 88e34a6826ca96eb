//! Q8_0: 32 weights, fp16 scale, signed 8-bit codes (8.5 bpw).

use super::block::{GgmlBlock, VecDotType};
use super::codes::Grid;
use super::scan::amax_q8;
use super::{c_trunc_block, each, f16_bytes, f16_le};
use bytemuck::{Pod, Zeroable};

pub const QK: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ8_0 {
    pub d: [u8; 2],
    pub qs: [u8; QK],
}
const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);

/// `dequantize_row_q8_0`.
pub fn dequantize(blocks: &[BlockQ8_0], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK)) {
        let d = f16_le(b.d);
        for j in 0..QK {
            y[j] = (b.qs[j] as i8) as f32 * d;
        }
    }
}

/// Q8_0's grid: `d * c`, codes -128..=127.
pub fn grid(b: &BlockQ8_0) -> Grid {
    let mut g = Grid::linear(QK, -128, 127);
    g.scale[0] = f16_le(b.d);
    g
}

/// Stores one code per weight (-128..=127).
pub fn set_codes(b: &mut BlockQ8_0, c: &[i32]) {
    for j in 0..QK {
        b.qs[j] = c[j] as i8 as u8;
    }
}

/// Q8_0 in the block-format table. ggml has no importance-weighted Q8_0: `quantize_q8_0` ignores
/// the imatrix, and so does the trait's default `quantize_weighted`.
#[allow(non_camel_case_types)]
pub struct Q8_0;

impl GgmlBlock for Q8_0 {
    const NAME: &'static str = "Q8_0";
    const BLOCK_SIZE: usize = QK;
    const VEC_DOT: VecDotType = VecDotType::Q8_0;
    type Block = BlockQ8_0;
    fn grid(b: &BlockQ8_0) -> Option<Grid> {
        Some(grid(b))
    }
    fn set_codes(b: &mut BlockQ8_0, codes: &[i32]) {
        set_codes(b, codes)
    }

    fn dequantize(blocks: &[BlockQ8_0], y: &mut [f32]) {
        dequantize(blocks, y)
    }
    fn quantize_ref(x: &[f32], out: &mut [BlockQ8_0]) {
        quantize_ref(x, out)
    }
}

/// `quantize_row_q8_0_ref`.
fn quantize_ref(x: &[f32], out: &mut [BlockQ8_0]) {
    assert_eq!(x.len(), out.len() * QK, "quantize Q8_0: length mismatch");
    for (b, x) in out.iter_mut().zip(x.chunks_exact(QK)) {
        let x: &[f32; QK] = x.try_into().unwrap();
        let d = amax_q8(x) / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16_bytes(d);
        // `(int8_t)roundf(x*id)`: round half away from zero as truncation plus a correction, so it
        // vectorizes; out of int range (infinite `id` of a subnormal block, NaN) C gives INT_MIN.
        let v = each(x, |v| v * id);
        let t = c_trunc_block(&v);
        for j in 0..QK {
            let frac = v[j] - t[j] as f32;
            let r = t[j].wrapping_add((frac >= 0.5) as i32).wrapping_sub((frac <= -0.5) as i32);
            b.qs[j] = if v[j].abs() < 2147483648.0 { r } else { i32::MIN } as u8;
        }
    }
}
