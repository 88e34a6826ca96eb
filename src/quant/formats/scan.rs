//! The per-block scans of the legacy reference quantizers, with ggml's exact results but
//! vectorizable. ggml's loops (`if (amax < fabsf(v)) {...}`, `if (v < min) min = v`) compile to a
//! chain of dependent selects; here eight lanes each keep a partial result with the same select,
//! and the lanes are combined after. That gives the same value except where ggml's order shows:
//! which of several equal values wins (only visible for +0 versus -0, and for the sign of the
//! abs-max, both handled) and NaN in Q8_0's `MAX` (handled by falling back to ggml's loop).

const LANES: usize = 8;

/// `quantize_row_q4_0_ref`'s / `quantize_row_q5_0_ref`'s scan: the largest `|v|` (NaN ignored)
/// and the first `v` that has it; `(0, 0)` if none is above zero.
#[inline]
pub(crate) fn abs_max<const N: usize>(x: &[f32; N]) -> (f32, f32) {
    let amax = lane_max(x);
    if amax == 0.0 {
        return (0.0, 0.0);
    }
    let max = *x.iter().find(|v| v.abs() == amax).unwrap();
    (amax, max)
}

/// `quantize_row_q8_0_ref`'s `amax = MAX(amax, fabsf(v))` (a NaN replaces `amax` until a later
/// value does, so blocks with one take ggml's loop).
#[inline]
pub(crate) fn amax_q8<const N: usize>(x: &[f32; N]) -> f32 {
    if x.iter().any(|v| v.is_nan()) {
        let mut amax = 0f32;
        for &v in x {
            let a = v.abs();
            amax = if amax > a { amax } else { a };
        }
        return amax;
    }
    lane_max(x)
}

/// Largest `|v|`, NaN ignored, at least 0.
#[inline(always)]
fn lane_max<const N: usize>(x: &[f32; N]) -> f32 {
    let mut lanes = [0f32; LANES];
    for c in x.chunks_exact(LANES) {
        for k in 0..LANES {
            let a = c[k].abs();
            lanes[k] = if lanes[k] < a { a } else { lanes[k] };
        }
    }
    lanes.iter().fold(0f32, |m, &a| if m < a { a } else { m })
}

/// `quantize_row_q4_1_ref`'s / `quantize_row_q5_1_ref`'s `min` and `max` (NaN ignored; from
/// `FLT_MAX` and `-FLT_MAX`). With a zero result the sign of zero depends on which came first,
/// so ggml's loop decides it.
#[inline]
pub(crate) fn min_max<const N: usize>(x: &[f32; N]) -> (f32, f32) {
    let (mut mins, mut maxs) = ([f32::MAX; LANES], [-f32::MAX; LANES]);
    for c in x.chunks_exact(LANES) {
        for k in 0..LANES {
            mins[k] = if c[k] < mins[k] { c[k] } else { mins[k] };
            maxs[k] = if c[k] > maxs[k] { c[k] } else { maxs[k] };
        }
    }
    let min = mins.iter().fold(f32::MAX, |m, &v| if v < m { v } else { m });
    let max = maxs.iter().fold(-f32::MAX, |m, &v| if v > m { v } else { m });
    if min != 0.0 && max != 0.0 {
        return (min, max);
    }
    let (mut min, mut max) = (f32::MAX, -f32::MAX);
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    (min, max)
}
