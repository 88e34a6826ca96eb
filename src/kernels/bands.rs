//! The output layout both matmul drivers share: bands of weight rows are multiplied on rayon's
//! threads into a rows-by-tokens scratch, one slab of rows at a time, and the slab is then
//! written token-major into the output.

use rayon::prelude::*;

/// Rows per slab of the output (a multiple of the band is used).
const SLAB_ROWS: usize = 8192;

/// `y [t][rows]` (row-major) where `band(scratch, r0, out)` fills `out [m][stride]` with
/// weight rows `r0..r0 + m` (`m = out.len() / stride`) against tokens `0..t` (token `k` of
/// row `i` at `out[i * stride + k]`; `stride >= t` leaves room for padded token groups).
/// `init` makes one scratch per rayon task chain. Rows are done a slab at a time, so the
/// rows-by-tokens scratch stays small beside the output (a 151,936-row head would otherwise
/// hold its logits twice).
pub fn by_bands<S, I, F>(rows: usize, t: usize, stride: usize, band: usize, init: I, f: F) -> Vec<f32>
where
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize, &mut [f32]) + Sync + Send,
{
    assert!(stride >= t && band > 0);
    if t == 0 || rows == 0 {
        return Vec::new();
    }
    let slab = (SLAB_ROWS / band).max(1) * band;
    let mut y = vec![0f32; t * rows];
    let mut yt = vec![0f32; slab.min(rows) * stride];
    for s0 in (0..rows).step_by(slab) {
        let n = slab.min(rows - s0);
        let yt = &mut yt[..n * stride];
        yt.par_chunks_mut(band * stride)
            .enumerate()
            .for_each_init(&init, |scratch, (i, out)| f(scratch, s0 + i * band, out));
        y.par_chunks_mut(rows).enumerate().for_each(|(k, yk)| {
            for (r, v) in yk[s0..s0 + n].iter_mut().enumerate() {
                *v = yt[r * stride + k];
            }
        });
    }
    y
}

/// Rows per band for `rows` rows of `cols` weights: at most `max_weights` weights, a multiple
/// of `multiple`, and small enough that every thread of the pool gets `per_thread` bands or
/// more when the matrix has the rows for it.
pub fn band_rows(rows: usize, cols: usize, max_weights: usize, multiple: usize, per_thread: usize) -> usize {
    let by_cache = (max_weights / cols.max(1) / multiple).max(1) * multiple;
    let tasks = rayon::current_num_threads() * per_thread;
    let by_threads = rows.div_ceil(tasks).div_ceil(multiple) * multiple;
    by_cache.min(by_threads.max(multiple))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_and_token_lands_once() {
        // 20 000 rows in bands of 48: three slabs, the last band and slab partial.
        let (rows, t, stride) = (20_000, 5, 8);
        let y = by_bands(
            rows,
            t,
            stride,
            48,
            || (),
            |_, r0, out| {
                for (i, row) in out.chunks_mut(stride).enumerate() {
                    for (k, v) in row.iter_mut().enumerate() {
                        *v = ((r0 + i) * 10 + k) as f32;
                    }
                }
            },
        );
        for k in 0..t {
            for r in [0, 47, 48, 8159, 8160, 19_999] {
                assert_eq!(y[k * rows + r], (r * 10 + k) as f32, "token {k} row {r}");
            }
        }
    }

    #[test]
    fn bands_are_bounded_and_shared_out() {
        let b = band_rows(100_000, 1000, 1 << 16, 16, 4);
        assert!(b % 16 == 0 && b * 1000 <= 1 << 16);
        // A small matrix still splits over the threads.
        let small = band_rows(576, 576, 1 << 20, 16, 4);
        assert!(small % 16 == 0 && small < 576 && 576usize.div_ceil(small) >= rayon::current_num_threads());
    }
}
