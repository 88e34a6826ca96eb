//! Q2_K: 256-weight super-block of 16 sub-blocks of 16; 4-bit sub-block scales and mins
//! against fp16 super-scales, 2-bit codes (2.625 bpw).

use super::block::{GgmlBlock, VecDotType};
use super::codes::Grid;
use super::search::{make_qp_quants, nearest_int};
use super::search_qkx::make_qkx_quants;
use super::{each, f16_bytes, f16_le, sub, sub_mut, QK_K};
use bytemuck::{Pod, Zeroable};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ2K {
    pub scales: [u8; QK_K / 16],
    pub qs: [u8; QK_K / 4],
    pub d: [u8; 2],
    pub dmin: [u8; 2],
}
const _: () = assert!(std::mem::size_of::<BlockQ2K>() == 84);

/// `dequantize_row_q2_K`.
pub fn dequantize(blocks: &[BlockQ2K], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = f16_le(b.d);
        let min = f16_le(b.dmin);
        let mut out = 0;
        let mut is = 0;
        for n in 0..QK_K / 128 {
            let q = &b.qs[n * 32..n * 32 + 32];
            for shift in [0u32, 2, 4, 6] {
                for half in 0..2 {
                    let sc = b.scales[is];
                    is += 1;
                    let dl = d * (sc & 0xF) as f32;
                    let ml = min * (sc >> 4) as f32;
                    for l in 0..16 {
                        y[out] = dl * ((q[l + 16 * half] >> shift) & 3) as f32 - ml;
                        out += 1;
                    }
                }
            }
        }
    }
}

/// Q2_K's grid: `d * sc * c - dmin * m` per group of 16, codes 0..=3.
pub fn grid(b: &BlockQ2K) -> Grid {
    let mut g = Grid::linear(16, 0, 3);
    let (d, min) = (f16_le(b.d), f16_le(b.dmin));
    for (is, sc) in b.scales.iter().enumerate() {
        g.scale[is] = d * (sc & 0xF) as f32;
        g.offset[is] = -(min * (sc >> 4) as f32);
    }
    g
}

/// Stores one code per weight (0..=3): weight `128 n + 32 k + 16 h + l` in bits `2k` of
/// `qs[32 n + 16 h + l]`.
pub fn set_codes(b: &mut BlockQ2K, c: &[i32]) {
    b.qs = [0; QK_K / 4];
    for (e, &c) in c.iter().enumerate() {
        let (n, k, i) = (e / 128, (e % 128) / 32, e % 32);
        b.qs[32 * n + i] |= (c as u8) << (2 * k);
    }
}

/// Q2_K in the block-format table.
#[allow(non_camel_case_types)]
pub struct Q2_K;

impl GgmlBlock for Q2_K {
    const NAME: &'static str = "Q2_K";
    const BLOCK_SIZE: usize = QK_K;
    const VEC_DOT: VecDotType = VecDotType::Q8_K;
    type Block = BlockQ2K;
    fn grid(b: &BlockQ2K) -> Option<Grid> {
        Some(grid(b))
    }
    fn set_codes(b: &mut BlockQ2K, codes: &[i32]) {
        set_codes(b, codes)
    }

    fn dequantize(blocks: &[BlockQ2K], y: &mut [f32]) {
        dequantize(blocks, y)
    }
    fn quantize_ref(x: &[f32], out: &mut [BlockQ2K]) {
        quantize(x, None, out)
    }
    fn quantize_weighted(x: &[f32], qw: &[f32], out: &mut [BlockQ2K]) {
        quantize(x, Some(qw), out)
    }
}

/// `quantize_q2_K` for one row: `quantize_row_q2_K_ref` without an imatrix, else
/// `quantize_row_q2_K_impl` (`imatrix` has one weight per column of the row).
fn quantize(x: &[f32], imatrix: Option<&[f32]>, out: &mut [BlockQ2K]) {
    assert_eq!(x.len(), out.len() * QK_K, "quantize Q2_K: length mismatch");
    match imatrix {
        None => {
            for (b, x) in out.iter_mut().zip(x.chunks_exact(QK_K)) {
                quantize_block_ref(x.try_into().unwrap(), b);
            }
        }
        Some(qw) => {
            assert_eq!(qw.len(), x.len(), "quantize Q2_K: imatrix length mismatch");
            for ((b, x), qw) in out.iter_mut().zip(x.chunks_exact(QK_K)).zip(qw.chunks_exact(QK_K)) {
                quantize_block_impl(x.try_into().unwrap(), qw.try_into().unwrap(), b);
            }
        }
    }
}

/// One block of `quantize_row_q2_K_ref`.
fn quantize_block_ref(x: &[f32; QK_K], b: &mut BlockQ2K) {
    const Q4SCALE: f32 = 15.0;
    let mut l = [0u8; QK_K];
    let mut mins = [0f32; QK_K / 16];
    let mut scales = [0f32; QK_K / 16];
    let mut max_scale = 0f32;
    let mut max_min = 0f32;
    for j in 0..QK_K / 16 {
        let xs = sub::<16>(x, j);
        let weights = each(xs, f32::abs);
        let (scale, min) = make_qkx_quants(3, xs, &weights, sub_mut::<16, _>(&mut l, j), -0.5, 0.1, 15, true);
        scales[j] = scale;
        mins[j] = min;
        if scale > max_scale {
            max_scale = scale;
        }
        if min > max_min {
            max_min = min;
        }
    }
    if max_scale > 0.0 {
        let iscale = Q4SCALE / max_scale;
        for j in 0..QK_K / 16 {
            b.scales[j] = nearest_int(iscale * scales[j]) as u8;
        }
        b.d = f16_bytes(max_scale / Q4SCALE);
    } else {
        b.scales = [0; QK_K / 16];
        b.d = f16_bytes(0.0);
    }
    if max_min > 0.0 {
        let iscale = Q4SCALE / max_min;
        for j in 0..QK_K / 16 {
            b.scales[j] |= (nearest_int(iscale * mins[j]) << 4) as u8;
        }
        b.dmin = f16_bytes(max_min / Q4SCALE);
    } else {
        b.dmin = f16_bytes(0.0);
    }
    requantize_and_pack(x, &mut l, b);
}

/// One block of `quantize_row_q2_K_impl`.
fn quantize_block_impl(x: &[f32; QK_K], qw: &[f32; QK_K], b: &mut BlockQ2K) {
    let mut l = [0u8; QK_K];
    let mut mins = [0f32; QK_K / 16];
    let mut scales = [0f32; QK_K / 16];
    let mut sw = [0f32; QK_K / 16];
    let mut sumx2 = 0f32;
    for v in x {
        sumx2 += v * v;
    }
    let sigma2 = sumx2 / QK_K as f32;
    for j in 0..QK_K / 16 {
        let (xs, qw) = (sub::<16>(x, j), sub::<16>(qw, j));
        let mut weight = [0f32; 16];
        for i in 0..16 {
            weight[i] = qw[i] * (sigma2 + xs[i] * xs[i]).sqrt();
        }
        for w in weight {
            sw[j] += w;
        }
        (scales[j], mins[j]) = make_qkx_quants(3, xs, &weight, sub_mut::<16, _>(&mut l, j), -0.9, 0.05, 36, false);
    }
    let (mut ls, mut lm) = ([0u8; QK_K / 16], [0u8; QK_K / 16]);
    let dm = make_qp_quants(15, &scales, &mut ls, &sw);
    let mm = make_qp_quants(15, &mins, &mut lm, &sw);
    b.d = f16_bytes(dm);
    b.dmin = f16_bytes(mm);
    for j in 0..QK_K / 16 {
        b.scales[j] = ls[j] | (lm[j] << 4);
    }
    requantize_and_pack(x, &mut l, b);
}

/// Requantizes every sub-block against its rounded scale and min (sub-blocks whose scale is
/// zero keep their search codes), then packs four 2-bit codes per byte.
fn requantize_and_pack(x: &[f32; QK_K], l: &mut [u8; QK_K], b: &mut BlockQ2K) {
    let (d_all, m_all) = (f16_le(b.d), f16_le(b.dmin));
    for j in 0..QK_K / 16 {
        let d = d_all * (b.scales[j] & 0xF) as f32;
        if d == 0.0 {
            continue;
        }
        let dm = m_all * (b.scales[j] >> 4) as f32;
        for ii in 0..16 {
            l[16 * j + ii] = nearest_int((x[16 * j + ii] + dm) / d).clamp(0, 3) as u8;
        }
    }
    for j in (0..QK_K).step_by(128) {
        for i in 0..32 {
            b.qs[j / 4 + i] = l[j + i] | (l[j + i + 32] << 2) | (l[j + i + 64] << 4) | (l[j + i + 96] << 6);
        }
    }
}
