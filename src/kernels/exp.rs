//! `exp` over f32 rows, vectorised: the log-softmax of the logits (`sum exp(l - max)`, in f64
//! across blocks, as llama.cpp's perplexity sums `expf` in double) and the attention softmax.
//! glibc's `exp`/`expf` are scalar calls; this polynomial (Cephes' `expf`: a degree-5
//! polynomial on `|r| <= ln 2 / 2` after `x = n ln 2 + r`) is written with plain multiplies and
//! adds, so the scalar and AVX2 builds of it give the same values (Rust does not fuse them).

/// `x` is clamped to `[LOW, HIGH]`, so that `2^n` stays a normal f32 and the loops have no
/// branch: below `LOW` the result is `e^LOW` (2^-126) instead of smaller, which no sum of
/// softmax terms (each row holds a 1) can notice; above `HIGH` it is `e^88`. The callers
/// subtract the row's maximum first, so `x <= 0`.
const LOW: f32 = -87.336_54;
const HIGH: f32 = 88.0;

/// `e^x` within 2 ulp for `x` in `[LOW, HIGH]` (clamped outside it; NaN stays NaN).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(LOW, HIGH);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    // ln 2 split in two so that n * LN2_HI is exact.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
    let y = p * r * r + r + 1.0;
    // 2^n as f32 bits; n is in [-126, 127] here.
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Elements summed in f32 lanes before each f64 addition.
const BLOCK: usize = 256;

/// `sum exp(x - shift)` over `row`, in f64 across blocks of 256.
pub fn exp_sum(row: &[f32], shift: f32) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if super::Isa::detect() == super::Isa::Avx2 {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { exp_sum_avx2(row, shift) };
    }
    exp_sum_body(row, shift)
}

/// `x = exp(x - shift)` over `row`; returns their f64 sum.
pub fn exp_in_place(row: &mut [f32], shift: f32) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if super::Isa::detect() == super::Isa::Avx2 {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { exp_in_place_avx2(row, shift) };
    }
    exp_in_place_body(row, shift)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_sum_avx2(row: &[f32], shift: f32) -> f64 {
    exp_sum_body(row, shift)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_in_place_avx2(row: &mut [f32], shift: f32) -> f64 {
    exp_in_place_body(row, shift)
}

#[inline(always)]
fn exp_sum_body(row: &[f32], shift: f32) -> f64 {
    let mut total = 0f64;
    for block in row.chunks(BLOCK) {
        let mut lanes = [0f32; 8];
        let mut chunks = block.chunks_exact(8);
        for c in &mut chunks {
            for (l, v) in lanes.iter_mut().zip(c) {
                *l += exp(*v - shift);
            }
        }
        let tail: f32 = chunks.remainder().iter().map(|v| exp(*v - shift)).sum();
        total += lanes.iter().map(|&l| l as f64).sum::<f64>() + tail as f64;
    }
    total
}

#[inline(always)]
fn exp_in_place_body(row: &mut [f32], shift: f32) -> f64 {
    let mut total = 0f64;
    for block in row.chunks_mut(BLOCK) {
        let mut lanes = [0f32; 8];
        let mut chunks = block.chunks_exact_mut(8);
        for c in &mut chunks {
            for (l, v) in lanes.iter_mut().zip(c) {
                *v = exp(*v - shift);
                *l += *v;
            }
        }
        let mut tail = 0f32;
        for v in chunks.into_remainder() {
            *v = exp(*v - shift);
            tail += *v;
        }
        total += lanes.iter().map(|&l| l as f64).sum::<f64>() + tail as f64;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_is_within_two_ulp_of_f64() {
        let mut worst = 0;
        let mut x = LOW;
        while x < HIGH {
            let want = (x as f64).exp() as f32;
            if want.is_normal() {
                worst = worst.max(ulps(exp(x), want));
            }
            x += 0.000_731;
        }
        assert!(worst <= 2, "worst {worst} ulp");
        assert_eq!((exp(-100.0), exp(0.0)), (exp(LOW), 1.0));
        assert!(exp(-100.0) < 1.2e-38 && exp(100.0) == exp(HIGH));
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn sums_match_f64_and_the_paths_agree() {
        // A vocabulary-sized row of logits, not a multiple of 8 or of the block.
        let row: Vec<f32> = (0..151_937).map(|i| ((i * 7919 % 10_007) as f32 / 10_007.0) * 30.0 - 20.0).collect();
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let want: f64 = row.iter().map(|&l| (l as f64 - max as f64).exp()).sum();
        let got = exp_sum(&row, max);
        assert!((got / want - 1.0).abs() < 1e-6, "{got} vs {want}");
        assert_eq!(got, exp_sum_body(&row, max), "AVX2 and scalar builds differ");
        let mut r = row.clone();
        let s = exp_in_place(&mut r, max);
        assert_eq!(s, got);
        for (a, b) in r.iter().zip(&row) {
            assert_eq!(*a, exp(*b - max));
        }
    }
}
