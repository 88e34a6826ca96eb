//! `make_qkx2_quants` / `make_qkx3_quants` of ggml/src/ggml-quants.c (ggml 0.25.3): the
//! asymmetric (scale and min) search behind Q2_K, Q4_K, Q5_K and the importance-weighted Q4_1
//! and Q5_1, bit-identical to ggml.
//!
//! One function stands for both: they differ only in `max == min` versus `max <= min` (the same
//! test, since `min <= max` whenever both are numbers, and both false with NaN) and in
//! `make_qkx3_quants` accepting NULL weights, which no caller passes.
//!
//! Speed: ggml tries its candidate scales one after the other, each a chain of dependent float
//! additions. A candidate depends on the earlier ones only through `min`, which changes when a
//! candidate wins. So candidates are evaluated `LANES` at a time with the current `min` (each
//! lane does ggml's scalar operations in ggml's order), then taken in ggml's order; when a win
//! changes `min`, the candidates after it are evaluated again with the new one. The codes of
//! the last winner are recomputed at the end instead of copied at every win. On x86-64 CPUs with
//! AVX2 a batch is one 8-lane register (explicit intrinsics, the same IEEE operations; Rust never
//! fuses a multiply and an add); elsewhere plain lane loops.

use super::search::{clamp_f, nearest_int};

/// Candidate scales evaluated together.
const LANES: usize = 8;

/// Codes `L` in `0..=nmax` with a scale and a min, searched over `nstep + 1` candidate scales
/// `(rmin + rdelta*is + nmax) / (max - min)` with a weighted least-squares fit of (scale, min) for
/// each; the error is absolute (`use_mad`) or squared. Returns `(scale, the_min)`: the block
/// decodes as `scale * L - the_min`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn make_qkx_quants<const N: usize>(
    nmax: i32,
    x: &[f32; N],
    weights: &[f32; N],
    l_out: &mut [u8; N],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
    use_mad: bool,
) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<const N: usize>(
            nmax: i32,
            x: &[f32; N],
            w: &[f32; N],
            l: &mut [u8; N],
            rmin: f32,
            rdelta: f32,
            nstep: i32,
            use_mad: bool,
        ) -> (f32, f32) {
            search::<N, true>(nmax, x, w, l, rmin, rdelta, nstep, use_mad)
        }
        // SAFETY: the CPU has AVX2.
        return unsafe { avx2(nmax, x, weights, l_out, rmin, rdelta, nstep, use_mad) };
    }
    search::<N, false>(nmax, x, weights, l_out, rmin, rdelta, nstep, use_mad)
}

/// The body of `make_qkx_quants`; `AVX2` selects the batch kernels (only set when the CPU has it).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn search<const N: usize, const AVX2: bool>(
    nmax: i32,
    x: &[f32; N],
    weights: &[f32; N],
    l_out: &mut [u8; N],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
    use_mad: bool,
) -> (f32, f32) {
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..N {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        *l_out = [0; N];
        return (0.0, -min);
    }
    let iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0f32;
    for i in 0..N {
        let l = nearest_int(iscale * (x[i] - min));
        l_out[i] = l.clamp(0, nmax) as u8;
        let diff = scale * l_out[i] as f32 + min - x[i];
        best_error += weights[i] * if use_mad { diff.abs() } else { diff * diff };
    }
    if nstep < 1 {
        return (scale, -min);
    }
    let nmaxf = nmax as f32;
    // The last winner's iscale and the min its codes were computed with.
    let mut winner: Option<(f32, f32)> = None;
    let mut ls = [[0f32; LANES]; N];
    let mut is = 0;
    while is <= nstep {
        let m = min;
        let iscales: [f32; LANES] =
            std::array::from_fn(|k| (rmin + rdelta * (is + k as i32) as f32 + nmaxf) / (max - m));
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `AVX2` is only set when the CPU has it.
        let [sum_l, sum_l2, sum_xl] = if AVX2 {
            unsafe { avx2::sums(x, weights, m, &iscales, nmaxf, &mut ls) }
        } else {
            sums(x, weights, m, &iscales, nmaxf, &mut ls)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let [sum_l, sum_l2, sum_xl] = sums(x, weights, m, &iscales, nmaxf, &mut ls);
        let (mut d, mut this_scale, mut this_min) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
        for k in 0..LANES {
            d[k] = sum_w * sum_l2[k] - sum_l[k] * sum_l[k];
            this_scale[k] = (sum_w * sum_xl[k] - sum_x * sum_l[k]) / d[k];
            this_min[k] = (sum_l2[k] * sum_x - sum_l[k] * sum_xl[k]) / d[k];
            if this_min[k] > 0.0 {
                this_min[k] = 0.0;
                this_scale[k] = sum_xl[k] / sum_l2[k];
            }
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        let cur_error = if AVX2 {
            unsafe { avx2::errors(x, weights, &ls, &this_scale, &this_min, use_mad) }
        } else {
            errors(x, weights, &ls, &this_scale, &this_min, use_mad)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let cur_error = errors(x, weights, &ls, &this_scale, &this_min, use_mad);
        let n = ((nstep - is + 1) as usize).min(LANES);
        let mut next = is + n as i32;
        for k in 0..n {
            if d[k] > 0.0 && cur_error[k] < best_error {
                best_error = cur_error[k];
                scale = this_scale[k];
                min = this_min[k];
                winner = Some((iscales[k], m));
                if min.to_bits() != m.to_bits() {
                    next = is + k as i32 + 1;
                    break;
                }
            }
        }
        is = next;
    }
    if let Some((iscale, m)) = winner {
        for i in 0..N {
            l_out[i] = nearest_int(iscale * (x[i] - m)).clamp(0, nmax) as u8;
        }
    }
    (scale, -min)
}

/// For each lane's `iscale`: the codes `MAX(0, MIN(nmax, nearest_int(iscale*(x - m))))` (as
/// floats: clamping the rounded value as a float gives the same float as clamping the int) and
/// ggml's sums `sum_l`, `sum_l2`, `sum_xl`.
#[inline(always)]
fn sums<const N: usize>(
    x: &[f32; N],
    w: &[f32; N],
    m: f32,
    iscales: &[f32; LANES],
    nmaxf: f32,
    ls: &mut [[f32; LANES]; N],
) -> [[f32; LANES]; 3] {
    let (mut sum_l, mut sum_l2, mut sum_xl) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
    for i in 0..N {
        let xm = x[i] - m;
        for k in 0..LANES {
            let l = clamp_f(nearest_int(iscales[k] * xm) as f32, 0.0, nmaxf);
            ls[i][k] = l;
            let wl = w[i] * l;
            sum_l[k] += wl;
            sum_l2[k] += wl * l;
            sum_xl[k] += wl * x[i];
        }
    }
    [sum_l, sum_l2, sum_xl]
}

/// ggml's weighted error of each lane's fit: sum of `w * |diff|` or `w * diff^2` with
/// `diff = scale*L + min - x`.
#[inline(always)]
fn errors<const N: usize>(
    x: &[f32; N],
    w: &[f32; N],
    ls: &[[f32; LANES]; N],
    scale: &[f32; LANES],
    min: &[f32; LANES],
    use_mad: bool,
) -> [f32; LANES] {
    let mut err = [0f32; LANES];
    for i in 0..N {
        for k in 0..LANES {
            let diff = scale[k] * ls[i][k] + min[k] - x[i];
            err[k] += w[i] * if use_mad { diff.abs() } else { diff * diff };
        }
    }
    err
}

/// `sums` and `errors` with one AVX2 register per batch: the same IEEE operations lane by lane.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::LANES;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sums<const N: usize>(
        x: &[f32; N],
        w: &[f32; N],
        m: f32,
        iscales: &[f32; LANES],
        nmaxf: f32,
        ls: &mut [[f32; LANES]; N],
    ) -> [[f32; LANES]; 3] {
        let iscale = _mm256_loadu_ps(iscales.as_ptr());
        let magic = _mm256_set1_ps(12582912.0);
        let (mask, offset) = (_mm256_set1_epi32(0x007f_ffff), _mm256_set1_epi32(0x0040_0000));
        let (zero, hi) = (_mm256_setzero_ps(), _mm256_set1_ps(nmaxf));
        let (mut sum_l, mut sum_l2, mut sum_xl) = (zero, zero, zero);
        for i in 0..N {
            // nearest_int: the low mantissa bits of `v + 1.5 * 2^23`.
            let v = _mm256_add_ps(_mm256_mul_ps(iscale, _mm256_set1_ps(x[i] - m)), magic);
            let l = _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(v), mask), offset);
            let l = _mm256_max_ps(_mm256_min_ps(_mm256_cvtepi32_ps(l), hi), zero);
            _mm256_storeu_ps(ls[i].as_mut_ptr(), l);
            let wl = _mm256_mul_ps(_mm256_set1_ps(w[i]), l);
            sum_l = _mm256_add_ps(sum_l, wl);
            sum_l2 = _mm256_add_ps(sum_l2, _mm256_mul_ps(wl, l));
            sum_xl = _mm256_add_ps(sum_xl, _mm256_mul_ps(wl, _mm256_set1_ps(x[i])));
        }
        let mut out = [[0f32; LANES]; 3];
        _mm256_storeu_ps(out[0].as_mut_ptr(), sum_l);
        _mm256_storeu_ps(out[1].as_mut_ptr(), sum_l2);
        _mm256_storeu_ps(out[2].as_mut_ptr(), sum_xl);
        out
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn errors<const N: usize>(
        x: &[f32; N],
        w: &[f32; N],
        ls: &[[f32; LANES]; N],
        scale: &[f32; LANES],
        min: &[f32; LANES],
        use_mad: bool,
    ) -> [f32; LANES] {
        let (scale, min) = (_mm256_loadu_ps(scale.as_ptr()), _mm256_loadu_ps(min.as_ptr()));
        let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
        let mut err = _mm256_setzero_ps();
        for i in 0..N {
            let l = _mm256_loadu_ps(ls[i].as_ptr());
            let diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, l), min), _mm256_set1_ps(x[i]));
            let e = if use_mad { _mm256_and_ps(diff, abs_mask) } else { _mm256_mul_ps(diff, diff) };
            err = _mm256_add_ps(err, _mm256_mul_ps(_mm256_set1_ps(w[i]), e));
        }
        let mut out = [0f32; LANES];
        _mm256_storeu_ps(out.as_mut_ptr(), err);
        out
    }
}
