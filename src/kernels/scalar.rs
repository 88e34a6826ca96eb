//! The scalar reference of the block dot products: the spec the SIMD paths are tested against.
//! Each block's integer sum is exact (i32), its half blocks weighted by their integer scales;
//! the float part follows ggml's `vec_dot` kernels: weight scale times activation scale times
//! the integer sum, per block of 32 for the legacy types and per super-block of 256 for the
//! k-quants, plus the offsets times the activations' half-block sums.

use super::act::{ActBlocks, TOKEN_GROUP};
use super::unpack::Tile;

/// Row `r` of `tile` against the activation rows `k0..k0 + TOKEN_GROUP`.
pub fn dot_group(tile: &Tile, r: usize, acts: &ActBlocks, k0: usize) -> [f32; TOKEN_GROUP] {
    let (cols, nb) = (tile.cols, tile.cols / 32);
    let w = &tile.codes[r * cols..(r + 1) * cols];
    let (ws, hs, wo) =
        (&tile.ws[r * nb..(r + 1) * nb], &tile.hs[r * nb..(r + 1) * nb], &tile.wo[r * 2 * nb..(r + 1) * 2 * nb]);
    let per_scale = if tile.shape.superblock { 8 } else { 1 };
    let mut out = [0f32; TOKEN_GROUP];
    for (k, o) in out.iter_mut().enumerate() {
        let k = k0 + k;
        let (mut sum, mut offsets, mut isum) = (0f32, 0f32, 0i32);
        for b in 0..nb {
            for half in 0..2 {
                let i = 32 * b + 16 * half;
                let s: i32 = (i..i + 16).map(|i| w[i] as i32 * acts.code(k, i) as i32).sum();
                isum += hs[b][half] as i32 * s;
                offsets += wo[2 * b + half] * acts.half_sum(k, 2 * b + half);
            }
            if b % per_scale == per_scale - 1 {
                sum += ws[b] * acts.scale(k, b) * isum as f32;
                isum = 0;
            }
        }
        *o = sum + offsets;
    }
    out
}
