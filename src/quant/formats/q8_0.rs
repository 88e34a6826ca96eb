//! Q8_0: 32 weights, fp16 scale, signed 8-bit codes (8.5 bpw).

use super::f16_le;
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
