//! Q6_K: 256-weight super-block of 16 sub-blocks of 16; signed 8-bit sub-block scales against
//! an fp16 super-scale, 6-bit codes split into 4 low bits (`ql`) and 2 high bits (`qh`)
//! (6.5625 bpw).

use super::block::{GgmlBlock, VecDotType};
use super::codes::Grid;
use super::search::{make_qx_quants, nearest_int, GROUP_MAX_EPS};
use super::{each, f16_bytes, f16_le, sub, sub_mut, QK_K};
use bytemuck::{Pod, Zeroable};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockQ6K {
    pub ql: [u8; QK_K / 2],
    pub qh: [u8; QK_K / 4],
    pub scales: [u8; QK_K / 16],
    pub d: [u8; 2],
}
const _: () = assert!(std::mem::size_of::<BlockQ6K>() == 210);

/// `dequantize_row_q6_K`.
pub fn dequantize(blocks: &[BlockQ6K], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = f16_le(b.d);
        for (n, y) in y.chunks_exact_mut(128).enumerate() {
            let ql = &b.ql[n * 64..n * 64 + 64];
            let qh = &b.qh[n * 32..n * 32 + 32];
            let sc = &b.scales[n * 8..n * 8 + 8];
            for l in 0..32 {
                let is = l / 16;
                let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
                let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
                y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
            }
        }
    }
}

/// Q6_K's grid: `d * sc * c` per group of 16, codes -32..=31 (stored `c + 32`).
pub fn grid(b: &BlockQ6K) -> Grid {
    let mut g = Grid::linear(16, -32, 31);
    let d = f16_le(b.d);
    for (is, sc) in b.scales.iter().enumerate() {
        g.scale[is] = d * (*sc as i8) as f32;
    }
    g
}

/// Stores one code per weight (-32..=31): weight `128 n + 32 k + l` in nibble `k / 2` of
/// `ql[64 n + 32 (k % 2) + l]` and bits `2k` of `qh[32 n + l]`.
pub fn set_codes(b: &mut BlockQ6K, c: &[i32]) {
    b.ql = [0; QK_K / 2];
    b.qh = [0; QK_K / 4];
    for (e, &c) in c.iter().enumerate() {
        let (n, k, l) = (e / 128, (e % 128) / 32, e % 32);
        let q = (c + 32) as u8;
        b.ql[64 * n + 32 * (k % 2) + l] |= (q & 0xF) << (4 * (k / 2));
        b.qh[32 * n + l] |= (q >> 4) << (2 * k);
    }
}

/// Q6_K in the block-format table.
#[allow(non_camel_case_types)]
pub struct Q6_K;

impl GgmlBlock for Q6_K {
    const NAME: &'static str = "Q6_K";
    const BLOCK_SIZE: usize = QK_K;
    const VEC_DOT: VecDotType = VecDotType::Q8_K;
    type Block = BlockQ6K;
    fn grid(b: &BlockQ6K) -> Option<Grid> {
        Some(grid(b))
    }
    fn set_codes(b: &mut BlockQ6K, codes: &[i32]) {
        set_codes(b, codes)
    }

    fn dequantize(blocks: &[BlockQ6K], y: &mut [f32]) {
        dequantize(blocks, y)
    }
    fn quantize_ref(x: &[f32], out: &mut [BlockQ6K]) {
        quantize(x, None, out)
    }
    fn quantize_weighted(x: &[f32], qw: &[f32], out: &mut [BlockQ6K]) {
        quantize(x, Some(qw), out)
    }
}

/// `quantize_q6_K` for one row: `quantize_row_q6_K_ref` without an imatrix, else
/// `quantize_row_q6_K_impl` (`imatrix` has one weight per column of the row). The two differ
/// only in the weights of the sub-block search: `x*x`, or the imatrix itself.
fn quantize(x: &[f32], imatrix: Option<&[f32]>, out: &mut [BlockQ6K]) {
    assert_eq!(x.len(), out.len() * QK_K, "quantize Q6_K: length mismatch");
    if let Some(qw) = imatrix {
        assert_eq!(qw.len(), x.len(), "quantize Q6_K: imatrix length mismatch");
    }
    for (i, (b, x)) in out.iter_mut().zip(x.chunks_exact(QK_K)).enumerate() {
        quantize_block(x.try_into().unwrap(), imatrix.map(|qw| sub::<QK_K>(qw, i)), b);
    }
}

fn quantize_block(x: &[f32; QK_K], qw: Option<&[f32; QK_K]>, b: &mut BlockQ6K) {
    let mut l = [0i8; QK_K];
    let mut scales = [0f32; QK_K / 16];
    let mut max_scale = 0f32;
    let mut max_abs_scale = 0f32;
    for ib in 0..QK_K / 16 {
        let scale = make_qx_quants(32, sub::<16>(x, ib), sub_mut::<16, _>(&mut l, ib), qw.map(|w| sub::<16>(w, ib)));
        scales[ib] = scale;
        let abs_scale = scale.abs();
        if abs_scale > max_abs_scale {
            max_abs_scale = abs_scale;
            max_scale = scale;
        }
    }
    if max_abs_scale < GROUP_MAX_EPS {
        *b = bytemuck::Zeroable::zeroed();
        b.d = f16_bytes(0.0);
        return;
    }
    let iscale = -128.0 / max_scale;
    b.d = f16_bytes(1.0 / iscale);
    for ib in 0..QK_K / 16 {
        b.scales[ib] = nearest_int(iscale * scales[ib]).min(127) as i8 as u8;
    }
    let d_all = f16_le(b.d);
    for j in 0..QK_K / 16 {
        let d = d_all * (b.scales[j] as i8) as f32;
        if d == 0.0 {
            continue;
        }
        for ii in 0..16 {
            l[16 * j + ii] = (nearest_int(x[16 * j + ii] / d).clamp(-32, 31) + 32) as i8;
        }
    }
    let l = each(&l, |v| v as u8);
    for (n, l) in l.chunks_exact(128).enumerate() {
        let (ql, qh) = (&mut b.ql[64 * n..64 * n + 64], &mut b.qh[32 * n..32 * n + 32]);
        for i in 0..32 {
            let (q1, q2, q3, q4) = (l[i] & 0xF, l[i + 32] & 0xF, l[i + 64] & 0xF, l[i + 96] & 0xF);
            ql[i] = q1 | (q3 << 4);
            ql[i + 32] = q2 | (q4 << 4);
            qh[i] = (l[i] >> 4) | ((l[i + 32] >> 4) << 2) | ((l[i + 64] >> 4) << 4) | ((l[i + 96] >> 4) << 6);
        }
    }
}
