//! The scalar reference of the block dot products: the spec the SIMD paths are tested against.
//! Each block's integer sum is exact (i32), codes less their bias, its half blocks weighted by
//! their integer scales;
//! the float part follows ggml's `vec_dot` kernels: weight scale times activation scale times
//! the integer sum, per block of 32 for the legacy types and per super-block of 256 for the
//! k-quants, plus the offsets times the activations' half-block sums.

use super::act::{ActBlocks, TOKEN_GROUP};
use super::tile::{Tile, ROWS};

/// Row group `rg` of `tile` against the activation rows `k0..k0 + TOKEN_GROUP`:
/// `out[k][j]` for activation row `k0 + k` and weight row `ROWS rg + j`.
pub fn dot_group(tile: &Tile, rg: usize, acts: &ActBlocks, k0: usize) -> [[f32; ROWS]; TOKEN_GROUP] {
    let nb = tile.cols / 32;
    let per_scale = if tile.shape.superblock { 8 } else { 1 };
    let bias = tile.shape.bias as i32;
    let mut out = [[0f32; ROWS]; TOKEN_GROUP];
    for (k, out) in out.iter_mut().enumerate() {
        let k = k0 + k;
        for (j, o) in out.iter_mut().enumerate() {
            let r = rg * ROWS + j;
            let (mut sum, mut offsets, mut isum) = (0f32, 0f32, 0i32);
            for b in 0..nb {
                for half in 0..2 {
                    let i = 32 * b + 16 * half;
                    let s: i32 = (i..i + 16).map(|i| (tile.code(r, i) as i32 - bias) * acts.code(k, i) as i32).sum();
                    isum += tile.half_scale(r, b, half) as i32 * s;
                    offsets += tile.offset(r, 2 * b + half) * acts.half_sum(k, 2 * b + half);
                }
                if b % per_scale == per_scale - 1 {
                    sum += tile.scale(r, b) * acts.scale(k, b) * isum as f32;
                    isum = 0;
                }
            }
            *o = sum + offsets;
        }
    }
    out
}
