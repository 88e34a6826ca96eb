//! Stored weight blocks unpacked, one row at a time, into one form every dot product shares:
//! blocks of 32 8-bit codes with a float scale, integer scales per half block and float offsets
//! per half block. Weight `i` of block `b` is
//! `ws[b] * hs[b][i / 16] * (codes[32 b + i] - bias) + wo[2 b + i / 16]`, the type's dequantized
//! value up to float rounding (`tests` pin each unpacker to its `dequantize`).
//!
//! Codes are unsigned (0..=63) wherever the type allows, with the type's zero point as `bias`
//! (Q4_0's `q - 8` is code `q`, bias 8), so the dot product multiplies them with one
//! unsigned-by-signed instruction and subtracts the bias in integers; only Q8_0 and the IQ4
//! tables keep signed codes. The
//! k-quants keep their sub-block scales as integers under one float scale per 256 weights, so
//! their sums stay in integers across a super-block, as ggml's do.

use crate::quant::formats::{f16_le, iq4_nl, iq4_xs, q2_k, q3_k, q4_0, q4_1, q4_k, q5_0, q5_1, q5_k, q6_k, q8_0};
use crate::quant::formats::{scale_min_k4, GgmlType};

/// How a type's unpacked blocks are summed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// `ws` is one value per 256 weights (8 blocks) and `hs` carries the sub-block scales: the
    /// integer sums of a super-block add up before one float multiply.
    pub superblock: bool,
    /// Codes may be negative (-128..=127); otherwise they are 0..=63.
    pub signed: bool,
    /// The offsets are not all zero.
    pub offsets: bool,
    /// The largest unsigned code (for the unsigned types): bounds how many 16-bit pair sums
    /// may be added before they could overflow.
    pub max_code: u8,
    /// The zero point subtracted from every code (Q4_0's 8, Q5_0's 16, Q6_K's 32, Q3_K's 4):
    /// the dot products subtract `bias` times the activations' code sums in integers, exactly.
    pub bias: u8,
}

/// The shape of `ty`'s unpacked blocks, or `None` for a type without an integer kernel.
pub fn shape(ty: GgmlType) -> Option<Shape> {
    let (superblock, signed, offsets, max_code, bias) = match ty {
        GgmlType::Q8_0 | GgmlType::IQ4_NL => (false, true, false, 128, 0),
        GgmlType::Q4_0 => (false, false, false, 15, 8),
        GgmlType::Q5_0 => (false, false, false, 31, 16),
        GgmlType::Q4_1 => (false, false, true, 15, 0),
        GgmlType::Q5_1 => (false, false, true, 31, 0),
        GgmlType::IQ4_XS => (true, true, false, 128, 0),
        GgmlType::Q4_K => (true, false, true, 15, 0),
        GgmlType::Q5_K => (true, false, true, 31, 0),
        GgmlType::Q6_K => (true, false, false, 63, 32),
        GgmlType::Q3_K => (true, false, false, 7, 4),
        GgmlType::Q2_K => (true, false, true, 3, 0),
        _ => return None,
    };
    Some(Shape { superblock, signed, offsets, max_code, bias })
}

/// One row unpacked: `[cols]` codes, `[cols / 32]` scales and half-block scales, `[cols / 16]`
/// offsets. `tile.rs` interleaves rows of these for the dot products.
pub struct Row {
    pub codes: Vec<i8>,
    pub ws: Vec<f32>,
    pub hs: Vec<[i16; 2]>,
    pub wo: Vec<f32>,
}

impl Row {
    pub fn new(cols: usize) -> Row {
        Row { codes: vec![0; cols], ws: vec![0.0; cols / 32], hs: vec![[1, 1]; cols / 32], wo: vec![0.0; cols / 16] }
    }

    /// Unpacks one stored row of `ty` (`src`: its bytes).
    pub fn fill(&mut self, ty: GgmlType, src: &[u8]) {
        // Types without sub-block scales or offsets leave them at these values.
        self.hs.fill([1, 1]);
        self.wo.fill(0.0);
        let o = RowOut { codes: &mut self.codes, ws: &mut self.ws, hs: &mut self.hs, wo: &mut self.wo };
        unpack_row(ty, src, o);
    }
}

/// One row's slices.
struct RowOut<'a> {
    codes: &'a mut [i8],
    ws: &'a mut [f32],
    hs: &'a mut [[i16; 2]],
    wo: &'a mut [f32],
}

fn cast<T: bytemuck::Pod>(src: &[u8]) -> &[T] {
    bytemuck::cast_slice(src)
}

fn unpack_row(ty: GgmlType, src: &[u8], o: RowOut) {
    match ty {
        GgmlType::Q8_0 => q8_0_row(cast(src), o),
        GgmlType::Q4_0 => q4_0_row(cast(src), o),
        GgmlType::Q4_1 => q4_1_row(cast(src), o),
        GgmlType::Q5_0 => q5_0_row(cast(src), o),
        GgmlType::Q5_1 => q5_1_row(cast(src), o),
        GgmlType::IQ4_NL => iq4_nl_row(cast(src), o),
        GgmlType::Q4_K => q4_k_row(cast(src), o),
        GgmlType::Q5_K => q5_k_row(cast(src), o),
        GgmlType::Q6_K => q6_k_row(cast(src), o),
        GgmlType::Q3_K => q3_k_row(cast(src), o),
        GgmlType::Q2_K => q2_k_row(cast(src), o),
        GgmlType::IQ4_XS => iq4_xs_row(cast(src), o),
        _ => unreachable!("{ty}: no integer kernel (kernels::unpack::shape)"),
    }
}

/// The 32 codes of a legacy block: its nibbles, plus a fifth bit from `qh`.
fn legacy_codes(qs: &[u8; 16], qh: Option<u32>, out: &mut [i8]) {
    for j in 0..16 {
        let (h0, h1) = match qh {
            Some(qh) => (((qh >> j) << 4) & 0x10, (qh >> (j + 12)) & 0x10),
            None => (0, 0),
        };
        out[j] = ((qs[j] as u32 & 0x0F) | h0) as i8;
        out[j + 16] = ((qs[j] as u32 >> 4) | h1) as i8;
    }
}

fn q8_0_row(blocks: &[q8_0::BlockQ8_0], o: RowOut) {
    for (b, blk) in blocks.iter().enumerate() {
        o.ws[b] = f16_le(blk.d);
        o.codes[32 * b..32 * b + 32].copy_from_slice(bytemuck::cast_slice(&blk.qs));
    }
}

fn q4_0_row(blocks: &[q4_0::BlockQ4_0], o: RowOut) {
    for (b, blk) in blocks.iter().enumerate() {
        let d = f16_le(blk.d);
        o.ws[b] = d;
        legacy_codes(&blk.qs, None, &mut o.codes[32 * b..]);
    }
}

fn q4_1_row(blocks: &[q4_1::BlockQ4_1], o: RowOut) {
    for (b, blk) in blocks.iter().enumerate() {
        o.ws[b] = f16_le(blk.d);
        o.wo[2 * b..2 * b + 2].fill(f16_le(blk.m));
        legacy_codes(&blk.qs, None, &mut o.codes[32 * b..]);
    }
}

fn q5_0_row(blocks: &[q5_0::BlockQ5_0], o: RowOut) {
    for (b, blk) in blocks.iter().enumerate() {
        let d = f16_le(blk.d);
        o.ws[b] = d;
        legacy_codes(&blk.qs, Some(u32::from_le_bytes(blk.qh)), &mut o.codes[32 * b..]);
    }
}

fn q5_1_row(blocks: &[q5_1::BlockQ5_1], o: RowOut) {
    for (b, blk) in blocks.iter().enumerate() {
        o.ws[b] = f16_le(blk.d);
        o.wo[2 * b..2 * b + 2].fill(f16_le(blk.m));
        legacy_codes(&blk.qs, Some(u32::from_le_bytes(blk.qh)), &mut o.codes[32 * b..]);
    }
}

fn iq4_nl_row(blocks: &[iq4_nl::BlockIQ4_NL], o: RowOut) {
    for (b, blk) in blocks.iter().enumerate() {
        o.ws[b] = f16_le(blk.d);
        let c = &mut o.codes[32 * b..32 * b + 32];
        for j in 0..16 {
            c[j] = iq4_nl::KVALUES[(blk.qs[j] & 0xf) as usize];
            c[j + 16] = iq4_nl::KVALUES[(blk.qs[j] >> 4) as usize];
        }
    }
}

/// Q4_K and Q5_K: 64-weight chunks of two 32-weight sub-blocks with 6-bit scales and mins;
/// `hi(l, j)` is the fifth bit (0 or 16) of weight `l` of chunk `j`'s low (`0`) or high (`1`)
/// sub-block.
fn k4_row(
    d: f32,
    min: f32,
    scales: &[u8; 12],
    qs: &[u8],
    hi: impl Fn(usize, usize, usize) -> u8,
    o: &mut RowOut,
    sb: usize,
) {
    for j in 0..4 {
        let q = &qs[32 * j..32 * j + 32];
        for half in 0..2 {
            let b = sb * 8 + 2 * j + half;
            let (sc, m) = scale_min_k4(2 * j + half, scales);
            (o.ws[b], o.hs[b]) = (d, [sc as i16; 2]);
            o.wo[2 * b..2 * b + 2].fill(-(min * m as f32));
            for l in 0..32 {
                let nib = if half == 0 { q[l] & 0xF } else { q[l] >> 4 };
                o.codes[32 * b + l] = (nib + hi(l, j, half)) as i8;
            }
        }
    }
}

fn q4_k_row(blocks: &[q4_k::BlockQ4K], mut o: RowOut) {
    for (sb, blk) in blocks.iter().enumerate() {
        k4_row(f16_le(blk.d), f16_le(blk.dmin), &blk.scales, &blk.qs, |_, _, _| 0, &mut o, sb);
    }
}

fn q5_k_row(blocks: &[q5_k::BlockQ5K], mut o: RowOut) {
    for (sb, blk) in blocks.iter().enumerate() {
        let hi = |l: usize, j: usize, half: usize| if blk.qh[l] & (1 << (2 * j + half)) != 0 { 16 } else { 0 };
        k4_row(f16_le(blk.d), f16_le(blk.dmin), &blk.scales, &blk.qs, hi, &mut o, sb);
    }
}

fn q6_k_row(blocks: &[q6_k::BlockQ6K], o: RowOut) {
    for (sb, blk) in blocks.iter().enumerate() {
        let d = f16_le(blk.d);
        for n in 0..2 {
            let (ql, qh) = (&blk.ql[64 * n..64 * n + 64], &blk.qh[32 * n..32 * n + 32]);
            let sc = &blk.scales[8 * n..8 * n + 8];
            for part in 0..4 {
                let b = sb * 8 + 4 * n + part;
                let h = [sc[2 * part] as i8 as i16, sc[2 * part + 1] as i8 as i16];
                (o.ws[b], o.hs[b]) = (d, h);
                // Part p is ggml's q(p+1): low nibble of ql[l] / ql[l + 32] for p < 2, high
                // nibble for p >= 2, and bits 2p, 2p+1 of qh[l].
                for l in 0..32 {
                    let byte = ql[l + 32 * (part % 2)];
                    let low = if part < 2 { byte & 0xF } else { byte >> 4 };
                    o.codes[32 * b + l] = (low | (((qh[l] >> (2 * part)) & 3) << 4)) as i8;
                }
            }
        }
    }
}

/// Q3_K and Q2_K share the order of their 16-weight groups: per 128 weights, four 2-bit planes
/// of 32 weights, each two groups.
fn q3_k_row(blocks: &[q3_k::BlockQ3K], o: RowOut) {
    for (sb, blk) in blocks.iter().enumerate() {
        let d = f16_le(blk.d);
        let scales = q3_k::unpack_scales(&blk.scales);
        for n in 0..2 {
            let q = &blk.qs[32 * n..32 * n + 32];
            for (p, shift) in [0u32, 2, 4, 6].into_iter().enumerate() {
                let b = sb * 8 + 4 * n + p;
                let m = 1u8 << (4 * n + p);
                let h = [scales[2 * (4 * n + p)] as i16 - 32, scales[2 * (4 * n + p) + 1] as i16 - 32];
                (o.ws[b], o.hs[b]) = (d, h);
                // ggml's value low - (hmask bit clear ? 4 : 0), plus the bias 4.
                for i in 0..32 {
                    let high = if blk.hmask[i] & m != 0 { 4 } else { 0 };
                    o.codes[32 * b + i] = (((q[i] >> shift) & 3) + high) as i8;
                }
            }
        }
    }
}

fn q2_k_row(blocks: &[q2_k::BlockQ2K], o: RowOut) {
    for (sb, blk) in blocks.iter().enumerate() {
        let (d, min) = (f16_le(blk.d), f16_le(blk.dmin));
        for n in 0..2 {
            let q = &blk.qs[32 * n..32 * n + 32];
            for (p, shift) in [0u32, 2, 4, 6].into_iter().enumerate() {
                let b = sb * 8 + 4 * n + p;
                let sc = [blk.scales[2 * (4 * n + p)], blk.scales[2 * (4 * n + p) + 1]];
                o.ws[b] = d;
                o.hs[b] = [(sc[0] & 0xF) as i16, (sc[1] & 0xF) as i16];
                o.wo[2 * b] = -(min * (sc[0] >> 4) as f32);
                o.wo[2 * b + 1] = -(min * (sc[1] >> 4) as f32);
                for i in 0..32 {
                    o.codes[32 * b + i] = ((q[i] >> shift) & 3) as i8;
                }
            }
        }
    }
}

fn iq4_xs_row(blocks: &[iq4_xs::BlockIQ4_XS], o: RowOut) {
    for (sb, blk) in blocks.iter().enumerate() {
        let d = f16_le(blk.d);
        let scales_h = u16::from_le_bytes(blk.scales_h);
        for ib in 0..8 {
            let ls =
                ((blk.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) as i32 | ((((scales_h >> (2 * ib)) & 3) as i32) << 4);
            let b = sb * 8 + ib;
            (o.ws[b], o.hs[b]) = (d, [(ls - 32) as i16; 2]);
            let qs = &blk.qs[16 * ib..16 * ib + 16];
            for j in 0..16 {
                o.codes[32 * b + j] = iq4_nl::KVALUES[(qs[j] & 0xf) as usize];
                o.codes[32 * b + j + 16] = iq4_nl::KVALUES[(qs[j] >> 4) as usize];
            }
        }
    }
}
