//! AVX2 block dot products (x86-64 with AVX2 and FMA, checked at run time by `Isa::detect`).
//!
//! Eight interleaved weight rows (`tile.rs`) against four activation rows. Per step, one
//! register holds four consecutive codes of each of the eight rows; the four activations they
//! meet are broadcast to every lane, and one `maddubs` (unsigned codes times signed
//! activations; for the signed types ggml's `sign` trick first moves the weight's sign onto the
//! activation) gives each row's two 16-bit pair sums, which cannot saturate (|w| <= 128,
//! |a| <= 127, and unsigned codes are at most 63). Small unsigned codes let two or four steps'
//! pair sums add in 16 bits first. The types' zero points (Q4_0's 8, Q6_K's 32, ...) come off
//! in integers too, as ggml's kernels take them, so no float cancellation enters. A `madd` with the half-block scales (ones for the legacy
//! types) makes them one 32-bit sum per row. Legacy types convert the sums to float
//! once per block, the k-quants once per super-block; either way one conversion and one fused
//! multiply-add serve eight rows.

use super::act::{ActBlocks, TOKEN_GROUP};
use super::tile::{Tile, ROWS};
use std::arch::x86_64::*;

/// Row group `rg` of `tile` against activation rows `k0..k0 + 4`; the same as
/// `scalar::dot_group` up to the order of float additions.
///
/// # Safety
/// The CPU must have AVX2 and FMA (`Isa::Avx2` is only built when it does).
#[target_feature(enable = "avx2,fma")]
pub unsafe fn dot_group(tile: &Tile, rg: usize, acts: &ActBlocks, k0: usize) -> [[f32; ROWS]; TOKEN_GROUP] {
    let sh = tile.shape;
    // Pair sums of unsigned codes up to 31 (63) stay below 2^15 four (two) at a time.
    let pairs = if sh.signed {
        1
    } else if sh.max_code <= 31 {
        4
    } else {
        2
    };
    // The shapes `unpack::shape` gives (the types in the comments).
    match (sh.superblock, sh.signed, sh.offsets, pairs, sh.bias > 0) {
        (false, true, false, _, false) => group::<false, true, false, 1, false>(tile, rg, acts, k0), // Q8_0, IQ4_NL
        (false, false, false, 4, true) => group::<false, false, false, 4, true>(tile, rg, acts, k0), // Q4_0, Q5_0
        (false, false, true, 4, false) => group::<false, false, true, 4, false>(tile, rg, acts, k0), // Q4_1, Q5_1
        (true, true, false, _, false) => group::<true, true, false, 1, false>(tile, rg, acts, k0),   // IQ4_XS
        (true, false, true, 4, false) => group::<true, false, true, 4, false>(tile, rg, acts, k0),   // Q4_K, Q5_K, Q2_K
        (true, false, false, 2, true) => group::<true, false, false, 2, true>(tile, rg, acts, k0),   // Q6_K
        (true, false, false, 4, true) => group::<true, false, false, 4, true>(tile, rg, acts, k0),   // Q3_K
        // Any other shape: the general forms, one pair sum at a time.
        (false, _, _, _, _) => group::<false, true, true, 1, true>(tile, rg, acts, k0),
        (true, _, _, _, _) => group::<true, true, true, 1, true>(tile, rg, acts, k0),
    }
}

#[target_feature(enable = "avx2,fma")]
fn group<const SUPER: bool, const SIGNED: bool, const OFFSETS: bool, const PAIRS: usize, const BIAS: bool>(
    tile: &Tile,
    rg: usize,
    acts: &ActBlocks,
    k0: usize,
) -> [[f32; ROWS]; TOKEN_GROUP] {
    const G: usize = TOKEN_GROUP;
    let (nb, g) = (tile.cols / 32, k0 / G);
    let w = &tile.codes[rg * nb * 256..(rg + 1) * nb * 256];
    let ws = &tile.ws[rg * nb * ROWS..(rg + 1) * nb * ROWS];
    let hs = &tile.hs[rg * nb * 4 * ROWS..(rg + 1) * nb * 4 * ROWS];
    let wo = &tile.wo[rg * 2 * nb * ROWS..(rg + 1) * 2 * nb * ROWS];
    let a = &acts.codes[g * nb * G * 32..(g + 1) * nb * G * 32];
    let ad = &acts.d[g * nb * G..(g + 1) * nb * G];
    let ds = &acts.dsum[g * 2 * nb * G..(g + 1) * 2 * nb * G];
    let acts_sum = &acts.isum[g * 2 * nb * G..(g + 1) * 2 * nb * G];
    let half_bias = tile.shape.bias as i32 / 2;
    let per_scale = if SUPER { 8 } else { 1 };
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); G];
    for s0 in (0..nb).step_by(per_scale) {
        let mut isum = [_mm256_setzero_si256(); G];
        for b in s0..s0 + per_scale {
            for half in 0..2 {
                // SAFETY (all loads below): offsets within the slices taken above, whose
                // lengths follow the layouts of `Tile` and `ActBlocks`.
                let hv = if SUPER {
                    unsafe { _mm256_loadu_si256(hs.as_ptr().add((2 * b + half) * 2 * ROWS).cast()) }
                } else {
                    ones
                };
                for q0 in (4 * half..4 * half + 4).step_by(PAIRS) {
                    let mut pair_sums = [_mm256_setzero_si256(); G];
                    for q in q0..q0 + PAIRS {
                        let wv = unsafe { _mm256_loadu_si256(w.as_ptr().add(b * 256 + q * 32).cast()) };
                        let wa = if SIGNED { _mm256_sign_epi8(wv, wv) } else { wv };
                        for k in 0..G {
                            let quad =
                                unsafe { a.as_ptr().add((G * b + k) * 32 + 4 * q).cast::<i32>().read_unaligned() };
                            let av = _mm256_set1_epi32(quad);
                            let av = if SIGNED { _mm256_sign_epi8(av, wv) } else { av };
                            pair_sums[k] = _mm256_add_epi16(pair_sums[k], _mm256_maddubs_epi16(wa, av));
                        }
                    }
                    for k in 0..G {
                        isum[k] = _mm256_add_epi32(isum[k], _mm256_madd_epi16(pair_sums[k], hv));
                    }
                }
                if BIAS {
                    // Less bias times the half block's activation sum S, times the row's
                    // scale: madd of (h, h) with (c, c), c = bias/2 * S, which fits 16 bits
                    // (bias <= 32, |S| <= 16 * 127).
                    for k in 0..G {
                        let c = half_bias * acts_sum[(2 * b + half) * G + k];
                        let cc = _mm256_set1_epi32((c & 0xFFFF) | (c << 16));
                        isum[k] = _mm256_sub_epi32(isum[k], _mm256_madd_epi16(hv, cc));
                    }
                }
                if OFFSETS {
                    let wov = unsafe { _mm256_loadu_ps(wo.as_ptr().add((2 * b + half) * ROWS)) };
                    for k in 0..G {
                        acc[k] = _mm256_fmadd_ps(wov, _mm256_set1_ps(ds[(2 * b + half) * G + k]), acc[k]);
                    }
                }
            }
        }
        let wsv = unsafe { _mm256_loadu_ps(ws.as_ptr().add(s0 * ROWS)) };
        for k in 0..G {
            let scale = _mm256_mul_ps(wsv, _mm256_set1_ps(ad[G * s0 + k]));
            acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[k]), scale, acc[k]);
        }
    }
    let mut out = [[0f32; ROWS]; G];
    for k in 0..G {
        // SAFETY: 8 floats into an 8-float array.
        unsafe { _mm256_storeu_ps(out[k].as_mut_ptr(), acc[k]) };
    }
    out
}
