//! compressed-tensors' `pack_to_int32`: signed `bits`-bit values packed into I32 words, low
//! bits first, along the rows (weights) or down the columns (zero points).

use rayon::prelude::*;

/// Packs one row of signed `bits`-bit values (offset by `2^(bits-1)`) into `out`, which must be
/// zeroed and hold `ceil(len * bits / 32)` words.
pub fn pack_row(q: &[i8], bits: u8, out: &mut [i32]) {
    let bits = bits as usize;
    let (offset, mask) = (1i32 << (bits - 1), (1u32 << bits) - 1);
    for (j, &v) in q.iter().enumerate() {
        let u = ((v as i32 + offset) as u32) & mask;
        let (word, shift) = (j * bits / 32, j * bits % 32);
        out[word] |= (u << shift) as i32;
        if shift + bits > 32 {
            out[word + 1] |= (u >> (32 - shift)) as i32;
        }
    }
}

/// Inverse of `pack_row` for `out.len()` values.
pub(super) fn unpack_row(words: &[i32], bits: u8, out: &mut [i8]) {
    let bits = bits as usize;
    let (offset, mask) = (1i32 << (bits - 1), (1u32 << bits) - 1);
    for (j, d) in out.iter_mut().enumerate() {
        let (word, shift) = (j * bits / 32, j * bits % 32);
        let mut u = (words[word] as u32) >> shift;
        if shift + bits > 32 {
            u |= (words[word + 1] as u32) << (32 - shift);
        }
        *d = ((u & mask) as i32 - offset) as i8;
    }
}

/// Packs a row-major `rows x cols` matrix of `bits`-bit values along its rows
/// (compressed-tensors' `pack_to_int32(.., packed_dim=1)`): `rows x ceil(cols * bits / 32)`.
pub fn pack(q: &[i8], rows: usize, cols: usize, bits: u8) -> Vec<i32> {
    assert!((1..=8).contains(&bits) && q.len() == rows * cols);
    let pc = (cols * bits as usize).div_ceil(32);
    let mut out = vec![0i32; rows * pc];
    if pc > 0 {
        out.par_chunks_mut(pc).zip(q.par_chunks(cols)).for_each(|(o, r)| pack_row(r, bits, o));
    }
    out
}

/// Inverse of `pack`.
pub fn unpack(packed: &[i32], rows: usize, cols: usize, bits: u8) -> Vec<i8> {
    let pc = (cols * bits as usize).div_ceil(32);
    assert!((1..=8).contains(&bits) && packed.len() == rows * pc);
    let mut out = vec![0i8; rows * cols];
    if cols > 0 {
        out.par_chunks_mut(cols).zip(packed.par_chunks(pc)).for_each(|(o, w)| unpack_row(w, bits, o));
    }
    out
}

fn transpose<T: Copy + Default>(x: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = vec![T::default(); x.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
    out
}

/// Packs `rows x groups` zero points along the rows (`pack_to_int32(.., packed_dim=0)`):
/// `ceil(rows * bits / 32) x groups`.
pub fn pack_zero_points(zp: &[i8], rows: usize, groups: usize, bits: u8) -> Vec<i32> {
    let t = pack(&transpose(zp, rows, groups), groups, rows, bits);
    transpose(&t, groups, (rows * bits as usize).div_ceil(32))
}

/// Inverse of `pack_zero_points`.
pub fn unpack_zero_points(packed: &[i32], rows: usize, groups: usize, bits: u8) -> Vec<i8> {
    let pr = (rows * bits as usize).div_ceil(32);
    let t = unpack(&transpose(packed, pr, groups), groups, rows, bits);
    transpose(&t, groups, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-computed words, as compressed-tensors' pack_to_int32 writes them.
    #[test]
    fn pack_layout() {
        // 4 bits: q + 8, element j in nibble j (low nibble first).
        let q: Vec<i8> = vec![-8, -7, 0, 7, 1, 2, 3, -1, 5];
        let words = pack(&q, 1, 9, 4);
        // nibbles 0,1,8,15,9,10,11,7 -> 0x7BA9F810; then 13 -> 0x0000000D
        assert_eq!(words, vec![0x7BA9_F810u32 as i32, 0xD]);
        assert_eq!(unpack(&words, 1, 9, 4), q);
        // 8 bits: q + 128, element j in byte j.
        let q: Vec<i8> = vec![-128, 127, 0, -1, 5];
        let words = pack(&q, 1, 5, 8);
        assert_eq!(words, vec![0x7F_80_FF_00u32 as i32, 0x85]);
        assert_eq!(unpack(&words, 1, 5, 8), q);
        // Zero points are packed down the rows: 8 rows x 2 groups -> 1 x 2 words.
        let zp: Vec<i8> = (0..16).map(|i| (i % 16) as i8 - 8).collect(); // row r: [2r-8, 2r-7]
        let pz = pack_zero_points(&zp, 8, 2, 4);
        assert_eq!(pz, vec![0xECA8_6420u32 as i32, 0xFDB9_7531u32 as i32]);
        assert_eq!(unpack_zero_points(&pz, 8, 2, 4), zp);
        // Dense packing straddles words for widths that do not divide 32.
        let q: Vec<i8> = (0..40).map(|i| (i % 8) as i8 - 4).collect();
        assert_eq!(unpack(&pack(&q, 2, 20, 3), 2, 20, 3), q);
    }
}
