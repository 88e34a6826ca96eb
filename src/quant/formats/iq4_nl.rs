//! IQ4_NL: 32 weights, one fp16 scale, 4-bit indices into a fixed non-linear table of 16 values
//! (4.5 bpw, the size of Q4_0, with levels denser near zero where most weights are). The
//! search both it and IQ4_XS use (`quantize_row_iq4_nl_impl`) is here.

use super::block::{GgmlBlock, VecDotType};
use super::codes::Grid;
use super::search::{nearest_int, GROUP_MAX_EPS};
use super::{f16_bytes, f16_le};
use bytemuck::{Pod, Zeroable};

pub const QK: usize = 32;

/// `kvalues_iq4nl`: the 16 levels, in units of the block scale.
pub const KVALUES: [i8; 16] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/// ggml's `ntry` for `quantize_iq4_nl` and `quantize_iq4_xs` (with or without an imatrix).
const NTRY: i32 = 7;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct BlockIQ4_NL {
    pub d: [u8; 2],
    pub qs: [u8; QK / 2],
}
const _: () = assert!(std::mem::size_of::<BlockIQ4_NL>() == 18);

/// `dequantize_row_iq4_nl`.
pub fn dequantize(blocks: &[BlockIQ4_NL], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK)) {
        let d = f16_le(b.d);
        for j in 0..QK / 2 {
            y[j] = d * KVALUES[(b.qs[j] & 0xf) as usize] as f32;
            y[j + QK / 2] = d * KVALUES[(b.qs[j] >> 4) as usize] as f32;
        }
    }
}

/// IQ4_NL's grid: `d * KVALUES[c]`, codes 0..=15.
pub fn grid(b: &BlockIQ4_NL) -> Grid {
    let mut g = Grid::linear(QK, 0, 15);
    g.scale[0] = f16_le(b.d);
    g.table = Some(&KVALUES);
    g
}

/// Stores one code per weight (0..=15).
pub fn set_codes(b: &mut BlockIQ4_NL, c: &[i32]) {
    for j in 0..QK / 2 {
        b.qs[j] = c[j] as u8 | ((c[j + QK / 2] as u8) << 4);
    }
}

/// IQ4_NL in the block-format table: `quantize_iq4_nl`, whose search is the same with and
/// without an imatrix (without one, each weight counts as its square).
#[allow(non_camel_case_types)]
pub struct IQ4_NL;

impl GgmlBlock for IQ4_NL {
    const NAME: &'static str = "IQ4_NL";
    const BLOCK_SIZE: usize = QK;
    const VEC_DOT: VecDotType = VecDotType::Q8_0;
    type Block = BlockIQ4_NL;
    fn grid(b: &BlockIQ4_NL) -> Option<Grid> {
        Some(grid(b))
    }
    fn set_codes(b: &mut BlockIQ4_NL, codes: &[i32]) {
        set_codes(b, codes)
    }

    fn dequantize(blocks: &[BlockIQ4_NL], y: &mut [f32]) {
        dequantize(blocks, y)
    }
    fn quantize_ref(x: &[f32], out: &mut [BlockIQ4_NL]) {
        quantize(x, None, out)
    }
    fn quantize_weighted(x: &[f32], qw: &[f32], out: &mut [BlockIQ4_NL]) {
        assert_eq!(qw.len(), x.len(), "quantize IQ4_NL: imatrix length mismatch");
        quantize(x, Some(qw), out)
    }
}

fn quantize(x: &[f32], qw: Option<&[f32]>, out: &mut [BlockIQ4_NL]) {
    for (i, (b, xb)) in out.iter_mut().zip(x.chunks_exact(QK)).enumerate() {
        let qw = qw.map(|w| -> &[f32; QK] { w[QK * i..QK * i + QK].try_into().unwrap() });
        let s = search::<QK, 1>(xb.try_into().unwrap(), qw);
        b.d = s.d;
        b.qs = s.packed();
    }
}

/// `best_index_int8(16, kvalues_iq4nl, x)`: the nearest level (the lower one on a tie).
#[inline(always)]
pub(super) fn best_index(x: f32) -> u8 {
    let v = |i: usize| KVALUES[i] as f32;
    if x <= v(0) {
        return 0;
    }
    if x >= v(15) {
        return 15;
    }
    let (mut ml, mut mu) = (0usize, 15usize);
    while mu - ml > 1 {
        let mav = (ml + mu) / 2;
        if x < v(mav) {
            mu = mav;
        } else {
            ml = mav;
        }
    }
    if x - v(mu - 1) < v(mu) - x {
        (mu - 1) as u8
    } else {
        mu as u8
    }
}

/// What `quantize_row_iq4_nl_impl` gives for a super-block of `N` weights in `NB` blocks of 32.
pub(super) struct Searched<const N: usize, const NB: usize> {
    /// The super-block's fp16 scale.
    pub d: [u8; 2],
    /// Each weight's level.
    pub l: [u8; N],
    /// Each block's 6-bit scale code (`l + 32`), when `NB > 1`.
    pub ls: [u8; NB],
}

impl<const N: usize, const NB: usize> Searched<N, NB> {
    /// The levels two to a byte as ggml packs them: in each 32, weight `j` low, `j + 16` high.
    pub fn packed<const H: usize>(&self) -> [u8; H] {
        let mut q4 = [0u8; H];
        for i in 0..N / 32 {
            for j in 0..16 {
                q4[16 * i + j] = self.l[32 * i + j] | (self.l[32 * i + 16 + j] << 4);
            }
        }
        q4
    }
}

/// `quantize_row_iq4_nl_impl(N, 32, x, ..., kvalues_iq4nl, qw, ntry = 7)`, keeping ggml's order
/// of floating-point operations.
pub(super) fn search<const N: usize, const NB: usize>(x: &[f32; N], qw: Option<&[f32; N]>) -> Searched<N, NB> {
    const BS: usize = 32;
    let v0 = KVALUES[0] as f32;
    let mut sigma2 = 0f32;
    for j in 0..N {
        sigma2 += x[j] * x[j];
    }
    sigma2 *= 2.0 / N as f32;
    let mut l = [0u8; N];
    let mut scales = [0f32; NB];
    let (mut max_scale, mut amax_scale) = (0f32, 0f32);
    for ib in 0..NB {
        let xb: &[f32; BS] = x[ib * BS..ib * BS + BS].try_into().unwrap();
        let mut weight = [0f32; BS];
        for j in 0..BS {
            weight[j] = match qw {
                Some(qw) => qw[ib * BS + j] * (sigma2 + xb[j] * xb[j]).sqrt(),
                None => xb[j] * xb[j],
            };
        }
        let (mut amax, mut max) = (0f32, 0f32);
        for &v in xb {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax < GROUP_MAX_EPS {
            scales[ib] = 0.0;
            continue;
        }
        let sums = |id: f32, lb: Option<&mut [u8]>| {
            let (mut sumqx, mut sumq2) = (0f32, 0f32);
            let mut lb = lb;
            for j in 0..BS {
                let li = best_index(id * xb[j]);
                if let Some(lb) = lb.as_deref_mut() {
                    lb[j] = li;
                }
                let q = KVALUES[li as usize] as f32;
                let w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            (sumqx, sumq2)
        };
        // ntry > 0: d = -max/values[0].
        let d = -max / v0;
        let (sumqx, sumq2) = sums(1.0 / d, Some(&mut l[ib * BS..ib * BS + BS]));
        let mut d = if sumq2 > 0.0 { sumqx / sumq2 } else { 0.0 };
        let mut best = d * sumqx;
        for itry in -NTRY..=NTRY {
            let id = (itry + KVALUES[0] as i32) as f32 / max;
            let (sumqx, sumq2) = sums(id, None);
            if sumq2 > 0.0 && sumqx * sumqx > best * sumq2 {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        if d.abs() > amax_scale {
            amax_scale = d.abs();
            max_scale = d;
        }
    }
    let mut ls = [0u8; NB];
    let dh;
    if NB > 1 {
        let d = -max_scale / 32.0;
        dh = f16_bytes(d);
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        for ib in 0..NB {
            let li = nearest_int(id * scales[ib]).clamp(-32, 31);
            let dl = d * li as f32;
            let idl = if dl != 0.0 { 1.0 / dl } else { 0.0 };
            for j in 0..BS {
                l[ib * BS + j] = best_index(idl * x[ib * BS + j]);
            }
            ls[ib] = (li + 32) as u8;
        }
    } else {
        dh = f16_bytes(scales[0]);
        let id = if scales[0] != 0.0 { 1.0 / scales[0] } else { 0.0 };
        for j in 0..N {
            l[j] = best_index(id * x[j]);
        }
    }
    Searched { d: dh, l, ls }
}
