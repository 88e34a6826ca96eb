//! The matmul driver: bands of weight rows unpacked and multiplied on rayon's threads.

use super::act::{ActBlocks, TOKEN_GROUP};
use super::bands::by_bands;
use super::tile::{Tile, ROWS};
use super::unpack::shape;
use super::{scalar, Isa};
use crate::quant::formats::GgmlType;

/// Unpacked codes per band: small enough to stay in a core's L2 cache while every token group
/// passes over it.
const BAND_CODES: usize = 64 * 1024;

/// `x W^T` for `W` (`rows` rows of `cols` weights of type `ty`, as stored in `w`) and the
/// rounded activations `acts`: `[t][rows]` row-major for the first `t` activation rows.
/// The type must have an integer kernel (`super::supports`).
pub fn matmul(ty: GgmlType, w: &[u8], rows: usize, cols: usize, acts: &ActBlocks, t: usize, isa: Isa) -> Vec<f32> {
    let shape = shape(ty).expect("caller checked kernels::supports");
    assert_eq!(acts.cols, cols, "activation width");
    assert!(t <= acts.t_pad);
    let row_bytes = ty.row_bytes(cols).expect("validated row length");
    assert_eq!(w.len(), rows * row_bytes, "weight bytes");
    let tp = acts.t_pad;
    // A whole number of interleaved row groups per band.
    let band = (BAND_CODES / cols / ROWS).max(1) * ROWS;
    by_bands(
        rows,
        t,
        tp,
        band,
        || Tile::new(shape, cols),
        |tile, r0, out| {
            let m = out.len() / tp;
            tile.fill(ty, &w[r0 * row_bytes..(r0 + m) * row_bytes]);
            band_product(tile, acts, out, isa);
        },
    )
}

/// One band: `out[r][k]` for every row of `tile` and activation row.
fn band_product(tile: &Tile, acts: &ActBlocks, out: &mut [f32], isa: Isa) {
    let tp = acts.t_pad;
    for k0 in (0..tp).step_by(TOKEN_GROUP) {
        for rg in 0..tile.groups() {
            let v = match isa {
                // SAFETY: Isa::Avx2 is only detected on CPUs with AVX2 and FMA.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe { super::avx2::dot_group(tile, rg, acts, k0) },
                _ => scalar::dot_group(tile, rg, acts, k0),
            };
            for j in 0..ROWS.min(tile.rows - rg * ROWS) {
                for (k, v) in v.iter().enumerate() {
                    out[(rg * ROWS + j) * tp + k0 + k] = v[j];
                }
            }
        }
    }
}
