//! IQ4_XS: super-blocks of 256 weights in 8 blocks of 32, an fp16 super-block scale, a 6-bit
//! scale per block, and IQ4_NL's non-linear 4-bit levels (4.25 bpw).

use super::block::{GgmlBlock, VecDotType};
use super::codes::Grid;
use super::iq4_nl::{search, KVALUES};
use super::{f16_le, QK_K};
use bytemuck::{Pod, Zeroable};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockIQ4_XS {
    pub d: [u8; 2],
    /// The high 2 bits of each block's scale code, block `ib` at bits `2*ib`.
    pub scales_h: [u8; 2],
    /// The low 4 bits, two blocks to a byte (even block low).
    pub scales_l: [u8; QK_K / 64],
    pub qs: [u8; QK_K / 2],
}
const _: () = assert!(std::mem::size_of::<BlockIQ4_XS>() == 136);

/// `dequantize_row_iq4_xs`.
pub fn dequantize(blocks: &[BlockIQ4_XS], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = f16_le(b.d);
        let scales_h = u16::from_le_bytes(b.scales_h);
        for ib in 0..QK_K / 32 {
            let ls =
                ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) as i32 | ((((scales_h >> (2 * ib)) & 3) as i32) << 4);
            let dl = d * (ls - 32) as f32;
            let (qs, y) = (&b.qs[16 * ib..16 * ib + 16], &mut y[32 * ib..32 * ib + 32]);
            for j in 0..16 {
                y[j] = dl * KVALUES[(qs[j] & 0xf) as usize] as f32;
                y[j + 16] = dl * KVALUES[(qs[j] >> 4) as usize] as f32;
            }
        }
    }
}

/// IQ4_XS's grid: `d * (ls - 32) * KVALUES[c]` per block of 32, codes 0..=15.
pub fn grid(b: &BlockIQ4_XS) -> Grid {
    let mut g = Grid::linear(32, 0, 15);
    g.table = Some(&KVALUES);
    let d = f16_le(b.d);
    let scales_h = u16::from_le_bytes(b.scales_h);
    for ib in 0..QK_K / 32 {
        let ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) as i32 | ((((scales_h >> (2 * ib)) & 3) as i32) << 4);
        g.scale[ib] = d * (ls - 32) as f32;
    }
    g
}

/// Stores one code per weight (0..=15).
pub fn set_codes(b: &mut BlockIQ4_XS, c: &[i32]) {
    for ib in 0..QK_K / 32 {
        let c = &c[32 * ib..32 * ib + 32];
        for j in 0..16 {
            b.qs[16 * ib + j] = c[j] as u8 | ((c[j + 16] as u8) << 4);
        }
    }
}

/// IQ4_XS in the block-format table: `quantize_iq4_xs`, the same search with and without an
/// imatrix.
#[allow(non_camel_case_types)]
pub struct IQ4_XS;

impl GgmlBlock for IQ4_XS {
    const NAME: &'static str = "IQ4_XS";
    const BLOCK_SIZE: usize = QK_K;
    const VEC_DOT: VecDotType = VecDotType::Q8_K;
    type Block = BlockIQ4_XS;
    fn grid(b: &BlockIQ4_XS) -> Option<Grid> {
        Some(grid(b))
    }
    fn set_codes(b: &mut BlockIQ4_XS, codes: &[i32]) {
        set_codes(b, codes)
    }

    fn dequantize(blocks: &[BlockIQ4_XS], y: &mut [f32]) {
        dequantize(blocks, y)
    }
    fn quantize_ref(x: &[f32], out: &mut [BlockIQ4_XS]) {
        quantize(x, None, out)
    }
    fn quantize_weighted(x: &[f32], qw: &[f32], out: &mut [BlockIQ4_XS]) {
        assert_eq!(qw.len(), x.len(), "quantize IQ4_XS: imatrix length mismatch");
        quantize(x, Some(qw), out)
    }
}

fn quantize(x: &[f32], qw: Option<&[f32]>, out: &mut [BlockIQ4_XS]) {
    for (i, (b, xb)) in out.iter_mut().zip(x.chunks_exact(QK_K)).enumerate() {
        let qw = qw.map(|w| -> &[f32; QK_K] { w[QK_K * i..QK_K * i + QK_K].try_into().unwrap() });
        let s = search::<QK_K, { QK_K / 32 }>(xb.try_into().unwrap(), qw);
        b.d = s.d;
        b.qs = s.packed();
        let mut scales_h = 0u16;
        b.scales_l = [0; QK_K / 64];
        for (ib, &ls) in s.ls.iter().enumerate() {
            b.scales_l[ib / 2] |= (ls & 0xf) << (4 * (ib % 2));
            scales_h |= ((ls >> 4) as u16) << (2 * ib);
        }
        b.scales_h = scales_h.to_le_bytes();
    }
}
