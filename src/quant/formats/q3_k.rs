//! Q3_K: 256-weight super-block of 16 sub-blocks of 16; 6-bit signed sub-block scales against
//! an fp16 super-scale, 3-bit codes split into 2 low bits (`qs`) and a high bit (`hmask`)
//! (3.4375 bpw).

use super::{f16_le, QK_K};
use bytemuck::{Pod, Zeroable};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ3K {
    pub hmask: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 4],
    pub scales: [u8; 12],
    pub d: [u8; 2],
}
const _: () = assert!(std::mem::size_of::<BlockQ3K>() == 110);

/// Unpacks the sixteen 6-bit scales (biased by 32) of a Q3_K block, as ggml does with
/// `kmask1`/`kmask2` on four little-endian u32 words.
pub fn unpack_scales(packed: &[u8; 12]) -> [i8; 16] {
    const KMASK1: u32 = 0x0303_0303;
    const KMASK2: u32 = 0x0f0f_0f0f;
    let w = |i: usize| u32::from_le_bytes([packed[4 * i], packed[4 * i + 1], packed[4 * i + 2], packed[4 * i + 3]]);
    let (a0, a1, tmp) = (w(0), w(1), w(2));
    let aux = [
        (a0 & KMASK2) | ((tmp & KMASK1) << 4),
        (a1 & KMASK2) | (((tmp >> 2) & KMASK1) << 4),
        ((a0 >> 4) & KMASK2) | (((tmp >> 4) & KMASK1) << 4),
        ((a1 >> 4) & KMASK2) | (((tmp >> 6) & KMASK1) << 4),
    ];
    let mut out = [0i8; 16];
    for (i, word) in aux.iter().enumerate() {
        for (k, byte) in word.to_le_bytes().iter().enumerate() {
            out[4 * i + k] = *byte as i8;
        }
    }
    out
}

/// `dequantize_row_q3_K`.
pub fn dequantize(blocks: &[BlockQ3K], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d_all = f16_le(b.d);
        let scales = unpack_scales(&b.scales);
        let mut out = 0;
        let mut is = 0;
        let mut m: u8 = 1;
        for n in 0..QK_K / 128 {
            let q = &b.qs[n * 32..n * 32 + 32];
            for shift in [0u32, 2, 4, 6] {
                for half in 0..2 {
                    let dl = d_all * (scales[is] as i32 - 32) as f32;
                    is += 1;
                    for l in 0..16 {
                        let i = l + 16 * half;
                        let low = ((q[i] >> shift) & 3) as i32;
                        let high = if b.hmask[i] & m != 0 { 0 } else { 4 };
                        y[out] = dl * (low - high) as f32;
                        out += 1;
                    }
                }
                m = m.wrapping_shl(1);
            }
        }
    }
}
