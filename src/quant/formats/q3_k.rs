//! Q3_K: 256-weight super-block of 16 sub-blocks of 16; 6-bit signed sub-block scales against
//! an fp16 super-scale, 3-bit codes split into 2 low bits (`qs`) and a high bit (`hmask`)
//! (3.4375 bpw).

use super::block::{GgmlBlock, VecDotType};
use super::codes::Grid;
use super::search::{make_q3_quants, make_qx_quants, nearest_int};
use super::{each, f16_bytes, f16_le, sub, sub_mut, QK_K};
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

/// Q3_K's grid: `d * (sc - 32) * c` per group of 16, codes -4..=3 (low 2 bits in `qs`, the
/// third in `hmask`, set for codes >= 0).
pub fn grid(b: &BlockQ3K) -> Grid {
    let mut g = Grid::linear(16, -4, 3);
    let d_all = f16_le(b.d);
    for (is, sc) in unpack_scales(&b.scales).iter().enumerate() {
        g.scale[is] = d_all * (*sc as i32 - 32) as f32;
    }
    g
}

/// Stores one code per weight (-4..=3): weight `128 n + 32 k + 16 h + l` in bits `2k` of
/// `qs[32 n + 16 h + l]` and bit `4 n + k` of `hmask[16 h + l]`.
pub fn set_codes(b: &mut BlockQ3K, c: &[i32]) {
    b.qs = [0; QK_K / 4];
    b.hmask = [0; QK_K / 8];
    for (e, &c) in c.iter().enumerate() {
        let (n, k, i) = (e / 128, (e % 128) / 32, e % 32);
        let l = (c + 4) as u8;
        b.qs[32 * n + i] |= (l & 3) << (2 * k);
        b.hmask[i] |= (l >> 2) << (4 * n + k);
    }
}

/// Q3_K in the block-format table.
#[allow(non_camel_case_types)]
pub struct Q3_K;

impl GgmlBlock for Q3_K {
    const NAME: &'static str = "Q3_K";
    const BLOCK_SIZE: usize = QK_K;
    const VEC_DOT: VecDotType = VecDotType::Q8_K;
    type Block = BlockQ3K;
    fn grid(b: &BlockQ3K) -> Option<Grid> {
        Some(grid(b))
    }
    fn set_codes(b: &mut BlockQ3K, codes: &[i32]) {
        set_codes(b, codes)
    }

    fn dequantize(blocks: &[BlockQ3K], y: &mut [f32]) {
        dequantize(blocks, y)
    }
    fn quantize_ref(x: &[f32], out: &mut [BlockQ3K]) {
        quantize(x, None, out)
    }
    fn quantize_weighted(x: &[f32], qw: &[f32], out: &mut [BlockQ3K]) {
        quantize(x, Some(qw), out)
    }
}

/// `quantize_q3_K` for one row: `quantize_row_q3_K_ref` without an imatrix, else
/// `quantize_row_q3_K_impl` (`imatrix` has one weight per column of the row).
fn quantize(x: &[f32], imatrix: Option<&[f32]>, out: &mut [BlockQ3K]) {
    assert_eq!(x.len(), out.len() * QK_K, "quantize Q3_K: length mismatch");
    match imatrix {
        None => {
            for (b, x) in out.iter_mut().zip(x.chunks_exact(QK_K)) {
                quantize_block_ref(x.try_into().unwrap(), b);
            }
        }
        Some(qw) => {
            assert_eq!(qw.len(), x.len(), "quantize Q3_K: imatrix length mismatch");
            for ((b, x), qw) in out.iter_mut().zip(x.chunks_exact(QK_K)).zip(qw.chunks_exact(QK_K)) {
                quantize_block_impl(x.try_into().unwrap(), qw.try_into().unwrap(), b);
            }
        }
    }
}

/// Stores the biased 6-bit scale `l` (0..=63) of sub-block `j`, the inverse of `unpack_scales`.
/// `packed` must start zeroed.
fn pack_scale(j: usize, l: u8, packed: &mut [u8; 12]) {
    if j < 8 {
        packed[j] = l & 0xF;
    } else {
        packed[j - 8] |= (l & 0xF) << 4;
    }
    packed[j % 4 + 8] |= (l >> 4) << (2 * (j / 4));
}

/// One block of `quantize_row_q3_K_ref`.
fn quantize_block_ref(x: &[f32; QK_K], b: &mut BlockQ3K) {
    let mut l = [0i8; QK_K];
    let mut scales = [0f32; QK_K / 16];
    let mut max_scale = 0f32;
    let mut amax = 0f32;
    for j in 0..QK_K / 16 {
        scales[j] = make_q3_quants(4, sub::<16>(x, j), sub_mut::<16, _>(&mut l, j));
        let scale = scales[j].abs();
        if scale > amax {
            amax = scale;
            max_scale = scales[j];
        }
    }
    b.scales = [0; 12];
    if max_scale != 0.0 {
        let iscale = -32.0 / max_scale;
        for j in 0..QK_K / 16 {
            let lj = nearest_int(iscale * scales[j]) as i8;
            pack_scale(j, (lj.clamp(-32, 31) + 32) as u8, &mut b.scales);
        }
        b.d = f16_bytes(1.0 / iscale);
    } else {
        b.d = f16_bytes(0.0);
    }
    requantize_and_pack(x, &mut l, b);
}

/// One block of `quantize_row_q3_K_impl` with quant weights.
fn quantize_block_impl(x: &[f32; QK_K], qw: &[f32; QK_K], b: &mut BlockQ3K) {
    let mut l = [0i8; QK_K];
    let mut scales = [0f32; QK_K / 16];
    let mut sw = [0f32; QK_K / 16];
    let mut sumx2 = 0f32;
    for v in x {
        sumx2 += v * v;
    }
    let sigma2 = 2.0 * sumx2 / QK_K as f32;
    for j in 0..QK_K / 16 {
        let (xs, qw) = (sub::<16>(x, j), sub::<16>(qw, j));
        let mut weight = [0f32; 16];
        for i in 0..16 {
            weight[i] = qw[i] * (sigma2 + xs[i] * xs[i]).sqrt();
        }
        let mut sumw = 0f32;
        for w in weight {
            sumw += w;
        }
        sw[j] = sumw;
        scales[j] = make_qx_quants(4, xs, sub_mut::<16, _>(&mut l, j), Some(&weight));
    }
    b.scales = [0; 12];
    let mut ls = [0i8; QK_K / 16];
    let d_block = make_qx_quants(32, &scales, &mut ls, Some(&sw));
    for j in 0..QK_K / 16 {
        pack_scale(j, ls[j] as u8, &mut b.scales);
    }
    b.d = f16_bytes(d_block);
    requantize_and_pack(x, &mut l, b);
}

/// Requantizes every sub-block against its rounded scale (sub-blocks whose scale is zero keep
/// their search codes), then splits the 3-bit codes into `hmask` and `qs`.
fn requantize_and_pack(x: &[f32; QK_K], l: &mut [i8; QK_K], b: &mut BlockQ3K) {
    let d_all = f16_le(b.d);
    for j in 0..QK_K / 16 {
        let low = if j < 8 { b.scales[j] & 0xF } else { b.scales[j - 8] >> 4 };
        let sc = (low | (((b.scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) as i32 - 32;
        let d = d_all * sc as f32;
        if d == 0.0 {
            continue;
        }
        for ii in 0..16 {
            l[16 * j + ii] = (nearest_int(x[16 * j + ii] / d).clamp(-4, 3) + 4) as i8;
        }
    }
    b.hmask = [0; QK_K / 8];
    for j in 0..QK_K {
        if l[j] > 3 {
            b.hmask[j % (QK_K / 8)] |= 1 << (j / (QK_K / 8));
            l[j] -= 4;
        }
    }
    let l = each(l, |v| v as u8);
    for j in (0..QK_K).step_by(128) {
        for i in 0..32 {
            b.qs[j / 4 + i] = l[j + i] | (l[j + i + 32] << 2) | (l[j + i + 64] << 4) | (l[j + i + 96] << 6);
        }
    }
}
