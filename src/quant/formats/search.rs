//! The scale searches shared by ggml's k-quant and importance-weighted quantizers: line-by-line
//! ports of the static helpers of ggml/src/ggml-quants.c (ggml 0.25.3), keeping ggml's order of
//! floating-point operations (libggml-base is built without FMA contraction, and Rust never
//! contracts) so that every code and scale is bit-identical to llama.cpp's.
//!
//! Block lengths are const generics so the loops compile without bounds checks; all scratch is on
//! the stack. Specialisations, each equivalent to ggml for every argument it is called with:
//! `make_qx_quants` only has `rmse_type == 1` (the only value ggml passes for these types);
//! `make_q3_quants` only has `do_rmse == true`. `make_qkx2_quants`/`make_qkx3_quants` are in
//! `search_qkx.rs`.

use super::each;

/// Below this a group counts as all zero (`GROUP_MAX_EPS`).
pub(crate) const GROUP_MAX_EPS: f32 = 1e-15;

/// `nearest_int`: round to nearest (ties to even) through the mantissa of `fval + 1.5 * 2^23`.
/// Only meaningful for `|fval| <= 4194303`; like ggml's release build, larger values are not
/// checked and give the same out-of-range result.
#[inline(always)]
pub(crate) fn nearest_int(fval: f32) -> i32 {
    let val = fval + 12582912.0;
    (val.to_bits() as i32 & 0x007f_ffff) - 0x0040_0000
}

/// `make_qx_quants(n, nmax, x, L, rmse_type = 1, qw)`: symmetric codes `L` in `0..2*nmax` (signed
/// code plus `nmax`) and the scale minimising the weighted squared error over 19 candidate
/// scales. Weights are `qw`, or `x*x` when `None`.
pub(crate) fn make_qx_quants<const N: usize>(
    nmax: i32,
    x: &[f32; N],
    l_out: &mut [i8; N],
    qw: Option<&[f32; N]>,
) -> f32 {
    let mut max = 0f32;
    let mut amax = 0f32;
    for &v in x {
        let ax = v.abs();
        if ax > amax {
            amax = ax;
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        *l_out = [0; N];
        return 0.0;
    }
    let w: [f32; N] = match qw {
        Some(q) => *q,
        None => each(x, |v| v * v),
    };
    let iscale = -nmax as f32 / max;
    let mut sumlx = 0f32;
    let mut suml2 = 0f32;
    for i in 0..N {
        let l = nearest_int(iscale * x[i]).clamp(-nmax, nmax - 1);
        l_out[i] = (l + nmax) as i8;
        let lf = l as f32;
        sumlx += w[i] * x[i] * lf;
        suml2 += w[i] * lf * lf;
    }
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    // ggml tries `is = -9..=9` (skipping 0) one after the other. The sums of a candidate do not
    // depend on earlier ones, so all 18 are accumulated together, lane by lane (each lane does
    // ggml's scalar operations in ggml's order), and only the selection runs in ggml's order.
    const NC: usize = 18;
    let iscales: [f32; NC] = std::array::from_fn(|k| {
        let is = if k < 9 { k as i32 - 9 } else { k as i32 - 8 };
        -(nmax as f32 + 0.1 * is as f32) / max
    });
    let (lo, hi) = (-nmax as f32, (nmax - 1) as f32);
    let mut sumlx = [0f32; NC];
    let mut suml2 = [0f32; NC];
    for i in 0..N {
        let (wx, wi, xi) = (w[i] * x[i], w[i], x[i]);
        for k in 0..NC {
            // Clamping the rounded value as a float gives the same float as clamping the int.
            let lf = clamp_f(nearest_int(iscales[k] * xi) as f32, lo, hi);
            sumlx[k] += wx * lf;
            suml2[k] += wi * lf * lf;
        }
    }
    let mut winner = None;
    for k in 0..NC {
        if suml2[k] > 0.0 && sumlx[k] * sumlx[k] > best * suml2[k] {
            scale = sumlx[k] / suml2[k];
            best = scale * sumlx[k];
            winner = Some(iscales[k]);
        }
    }
    if let Some(iscale) = winner {
        for i in 0..N {
            let l = nearest_int(iscale * x[i]);
            l_out[i] = (nmax + l.clamp(-nmax, nmax - 1)) as i8;
        }
    }
    scale
}

/// `MAX(lo, MIN(hi, v))` for integer-valued floats, branch-free so it vectorizes.
#[inline(always)]
pub(crate) fn clamp_f(v: f32, lo: f32, hi: f32) -> f32 {
    let v = if v > hi { hi } else { v };
    if v < lo {
        lo
    } else {
        v
    }
}

/// `make_q3_quants(n, nmax, x, L, do_rmse = true)`: symmetric codes refined by coordinate descent
/// on the `x*x`-weighted error; returns the scale, codes `L` in `0..2*nmax`.
pub(crate) fn make_q3_quants<const N: usize>(nmax: i32, x: &[f32; N], l_out: &mut [i8; N]) -> f32 {
    let mut max = 0f32;
    let mut amax = 0f32;
    for &v in x {
        let ax = v.abs();
        if ax > amax {
            amax = ax;
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        *l_out = [0; N];
        return 0.0;
    }
    let iscale = -nmax as f32 / max;
    let mut sumlx = 0f32;
    let mut suml2 = 0f32;
    for i in 0..N {
        let l = nearest_int(iscale * x[i]).clamp(-nmax, nmax - 1);
        l_out[i] = l as i8;
        let w = x[i] * x[i];
        let lf = l as f32;
        sumlx += w * x[i] * lf;
        suml2 += w * lf * lf;
    }
    for _ in 0..5 {
        let mut n_changed = 0;
        for i in 0..N {
            let w = x[i] * x[i];
            let li = l_out[i] as f32;
            let mut slx = sumlx - w * x[i] * li;
            if slx > 0.0 {
                let mut sl2 = suml2 - w * li * li;
                let new_l = nearest_int(x[i] * sl2 / slx).clamp(-nmax, nmax - 1);
                if new_l != l_out[i] as i32 {
                    let nf = new_l as f32;
                    slx += w * x[i] * nf;
                    sl2 += w * nf * nf;
                    if sl2 > 0.0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        l_out[i] = new_l as i8;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed += 1;
                    }
                }
            }
        }
        if n_changed == 0 {
            break;
        }
    }
    for l in l_out.iter_mut() {
        *l += nmax as i8;
    }
    if suml2 > 0.0 {
        sumlx / suml2
    } else {
        0.0
    }
}

/// `make_qp_quants`: codes `L` in `0..=nmax` for non-negative values (sub-block scales or mins)
/// with one positive scale, picked among 9 candidates by weighted squared error and refined by
/// coordinate descent. Returns the scale.
pub(crate) fn make_qp_quants<const N: usize>(nmax: i32, x: &[f32; N], l_out: &mut [u8; N], qw: &[f32; N]) -> f32 {
    let mut max = 0f32;
    for &v in x {
        max = if max > v { max } else { v };
    }
    if max < GROUP_MAX_EPS {
        *l_out = [0; N];
        return 0.0;
    }
    let mut iscale = nmax as f32 / max;
    for i in 0..N {
        l_out[i] = nearest_int(iscale * x[i]) as u8;
    }
    let scale = 1.0 / iscale;
    let mut best_mse = 0f32;
    for i in 0..N {
        let diff = x[i] - scale * l_out[i] as f32;
        best_mse += qw[i] * diff * diff;
    }
    for is in -4..=4 {
        if is == 0 {
            continue;
        }
        let iscale_is = (0.1 * is as f32 + nmax as f32) / max;
        let scale_is = 1.0 / iscale_is;
        let mut mse = 0f32;
        for i in 0..N {
            let l = nearest_int(iscale_is * x[i]).min(nmax);
            let diff = x[i] - scale_is * l as f32;
            mse += qw[i] * diff * diff;
        }
        if mse < best_mse {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    let mut sumlx = 0f32;
    let mut suml2 = 0f32;
    for i in 0..N {
        let l = nearest_int(iscale * x[i]).min(nmax);
        l_out[i] = l as u8;
        let w = qw[i];
        let lf = l as f32;
        sumlx += w * x[i] * lf;
        suml2 += w * lf * lf;
    }
    for _ in 0..5 {
        let mut n_changed = 0;
        for i in 0..N {
            let w = qw[i];
            let li = l_out[i] as f32;
            let mut slx = sumlx - w * x[i] * li;
            let mut sl2 = suml2 - w * li * li;
            if slx > 0.0 && sl2 > 0.0 {
                let new_l = nearest_int(x[i] * sl2 / slx).min(nmax);
                if new_l != l_out[i] as i32 {
                    let nf = new_l as f32;
                    slx += w * x[i] * nf;
                    sl2 += w * nf * nf;
                    if slx * slx * suml2 > sumlx * sumlx * sl2 {
                        l_out[i] = new_l as u8;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed += 1;
                    }
                }
            }
        }
        if n_changed == 0 {
            break;
        }
    }
    if suml2 > 0.0 {
        sumlx / suml2
    } else {
        0.0
    }
}
