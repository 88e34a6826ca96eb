//! AVX2 block dot products (x86-64 with AVX2 and FMA, checked at run time by `Isa::detect`).
//!
//! One weight row against four activation rows: per block of 32, the row's codes are loaded
//! once; each activation row then costs one 8-bit multiply into 16-bit pair sums
//! (`maddubs`, unsigned codes times signed activations; for the signed types ggml's `sign`
//! trick first moves the weight's sign onto the activation), which cannot saturate
//! (|w| <= 128, |a| <= 127, and unsigned codes are at most 63), and a `madd` with the
//! half-block scales into eight 32-bit sums. Legacy types convert each block's sums to float
//! with their scales; the k-quants keep adding integers over a super-block first.

use super::act::{ActBlocks, TOKEN_GROUP};
use super::unpack::Tile;
use std::arch::x86_64::*;

/// Row `r` of `tile` against activation rows `k0..k0 + 4`; same result as
/// `scalar::dot_group` up to the order of float additions.
///
/// # Safety
/// The CPU must have AVX2 and FMA (`Isa::Avx2` is only built when it does).
#[target_feature(enable = "avx2,fma")]
pub unsafe fn dot_group(tile: &Tile, r: usize, acts: &ActBlocks, k0: usize) -> [f32; TOKEN_GROUP] {
    let sh = tile.shape;
    match (sh.superblock, sh.signed, sh.offsets) {
        (false, true, false) => group::<false, true, false>(tile, r, acts, k0),
        (false, false, _) => group::<false, false, true>(tile, r, acts, k0),
        (true, true, false) => group::<true, true, false>(tile, r, acts, k0),
        (true, false, _) => group::<true, false, true>(tile, r, acts, k0),
        (false, true, true) => group::<false, true, true>(tile, r, acts, k0),
        (true, true, true) => group::<true, true, true>(tile, r, acts, k0),
    }
}

#[target_feature(enable = "avx2,fma")]
fn group<const SUPER: bool, const SIGNED: bool, const OFFSETS: bool>(
    tile: &Tile,
    r: usize,
    acts: &ActBlocks,
    k0: usize,
) -> [f32; TOKEN_GROUP] {
    const G: usize = TOKEN_GROUP;
    let (cols, nb, g) = (tile.cols, tile.cols / 32, k0 / G);
    let w = &tile.codes[r * cols..(r + 1) * cols];
    let (ws, hs, wo) =
        (&tile.ws[r * nb..(r + 1) * nb], &tile.hs[r * nb..(r + 1) * nb], &tile.wo[r * 2 * nb..(r + 1) * 2 * nb]);
    let a = &acts.codes[g * nb * G * 32..(g + 1) * nb * G * 32];
    let ad = &acts.d[g * nb * G..(g + 1) * nb * G];
    let ds = &acts.dsum[g * 2 * nb * G..(g + 1) * 2 * nb * G];
    let per_scale = if SUPER { 8 } else { 1 };
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); G];
    let mut off = _mm_setzero_ps();
    for s0 in (0..nb).step_by(per_scale) {
        let mut isum = [_mm256_setzero_si256(); G];
        for b in s0..s0 + per_scale {
            // SAFETY (all loads): 32 codes at 32 b of the weight row, 32 at 32 (G b + k) of
            // the group's codes, 4 floats at 4 j of its sums: in bounds of the slices above.
            let wv = unsafe { _mm256_loadu_si256(w.as_ptr().add(32 * b).cast()) };
            let wa = if SIGNED { _mm256_sign_epi8(wv, wv) } else { wv };
            let hv = if SUPER { _mm256_set_m128i(_mm_set1_epi16(hs[b][1]), _mm_set1_epi16(hs[b][0])) } else { ones };
            for k in 0..G {
                let av = unsafe { _mm256_loadu_si256(a.as_ptr().add(32 * (G * b + k)).cast()) };
                let av = if SIGNED { _mm256_sign_epi8(av, wv) } else { av };
                isum[k] = _mm256_add_epi32(isum[k], _mm256_madd_epi16(_mm256_maddubs_epi16(wa, av), hv));
            }
            if OFFSETS {
                let (d0, d1) = unsafe {
                    (_mm_loadu_ps(ds.as_ptr().add(G * 2 * b)), _mm_loadu_ps(ds.as_ptr().add(G * (2 * b + 1))))
                };
                off = _mm_fmadd_ps(d0, _mm_set1_ps(wo[2 * b]), off);
                off = _mm_fmadd_ps(d1, _mm_set1_ps(wo[2 * b + 1]), off);
            }
        }
        let s = ws[s0];
        for k in 0..G {
            acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[k]), _mm256_set1_ps(s * ad[G * s0 + k]), acc[k]);
        }
    }
    let mut out = [0f32; G];
    let mut offs = [0f32; G];
    // SAFETY: 4 floats into a 4-float array.
    unsafe { _mm_storeu_ps(offs.as_mut_ptr(), off) };
    for k in 0..G {
        out[k] = hsum(acc[k]) + offs[k];
    }
    out
}

#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}
