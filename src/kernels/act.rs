//! Activations rounded once per matmul to 8-bit codes in blocks of 32, as ggml rounds them
//! before its dot products: `quantize_row_q8_0` (x86 build) for the legacy and IQ4_NL weights,
//! `quantize_row_q8_K_ref` for the k-quants and IQ4_XS. The values are exactly those of
//! `forward::qlinear::ActRound` (code times scale); here the codes and scales are kept apart so
//! the dot products can run on the codes.

use rayon::prelude::*;

/// Round half to even for |x| < 2^22, as ggml's `nearest_int` (adding 1.5 * 2^23 leaves the
/// rounded integer in the mantissa); branch-free, so the loops vectorize.
#[inline(always)]
pub fn nearest(x: f32) -> f32 {
    (x + 12_582_912.0) - 12_582_912.0
}

/// Which of ggml's 8-bit activation blocks to round to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActFormat {
    /// Blocks of 32, scale amax/127 stored as f16.
    Q8_0,
    /// Blocks of 256, scale -max/127 in f32 (its 8 blocks of 32 share it).
    Q8K,
}

impl ActFormat {
    /// Weights per activation scale.
    pub fn block(self) -> usize {
        match self {
            ActFormat::Q8_0 => 32,
            ActFormat::Q8K => 256,
        }
    }
}

/// Tokens are processed four at a time; the rows past the last token are zero.
pub const TOKEN_GROUP: usize = 4;

/// `t` rows of `cols` activations as codes, with one scale per block of 32, laid out by groups
/// of [`TOKEN_GROUP`] rows so that a dot product reads one stream: block `b` of the group's
/// four rows is contiguous (128 codes), then their four scales, then their half-block sums.
pub struct ActBlocks {
    /// Rows, padded to a multiple of [`TOKEN_GROUP`]; the padding rows are zero.
    pub t_pad: usize,
    pub cols: usize,
    /// `[group][block][row in group][32]`.
    pub codes: Vec<i8>,
    /// `[group][block][row in group]`.
    pub d: Vec<f32>,
    /// `[group][half block][row in group]`: scale times the sum of the codes of each half
    /// block (16 values), for the weight types with offsets (ggml's `s` of Q8_1 and `bsums` of
    /// Q8_K).
    pub dsum: Vec<f32>,
    /// `[group][half block][row in group]`: the sum of the codes of each half block.
    pub isum: Vec<i32>,
}

const G: usize = TOKEN_GROUP;

impl ActBlocks {
    /// Rounds `x` (`t` rows of `cols`, row-major); `cols` is a multiple of `fmt.block()`.
    pub fn quantize(x: &[f32], cols: usize, fmt: ActFormat) -> ActBlocks {
        assert!(cols % fmt.block() == 0 && x.len() % cols == 0, "activation rows of {cols} for {fmt:?}");
        let t = x.len() / cols;
        let t_pad = t.div_ceil(G) * G;
        let nb = cols / 32;
        let mut a = ActBlocks {
            t_pad,
            cols,
            codes: vec![0; t_pad * cols],
            d: vec![0.0; t_pad * nb],
            dsum: vec![0.0; t_pad * 2 * nb],
            isum: vec![0; t_pad * 2 * nb],
        };
        let groups = a.codes.par_chunks_mut(G * cols).zip(a.d.par_chunks_mut(G * nb));
        let sums = a.dsum.par_chunks_mut(G * 2 * nb).zip(a.isum.par_chunks_mut(G * 2 * nb));
        groups.zip(sums).enumerate().for_each(|(g, ((codes, d), (dsum, isum)))| {
            let (mut q, mut dr) = (vec![0i8; cols], vec![0f32; nb]);
            for k in 0..G.min(t.saturating_sub(g * G)) {
                let row = &x[(g * G + k) * cols..(g * G + k + 1) * cols];
                match fmt {
                    ActFormat::Q8_0 => round_q8_0(row, &mut q, &mut dr),
                    ActFormat::Q8K => round_q8_k(row, &mut q, &mut dr),
                }
                for b in 0..nb {
                    codes[(b * G + k) * 32..(b * G + k + 1) * 32].copy_from_slice(&q[32 * b..32 * b + 32]);
                    d[b * G + k] = dr[b];
                }
                for j in 0..2 * nb {
                    let sum: i32 = q[16 * j..16 * j + 16].iter().map(|&c| c as i32).sum();
                    dsum[j * G + k] = dr[j / 2] * sum as f32;
                    isum[j * G + k] = sum;
                }
            }
        });
        a
    }

    /// Code `i` of row `k`.
    pub fn code(&self, k: usize, i: usize) -> i8 {
        let nb = self.cols / 32;
        self.codes[(((k / G) * nb + i / 32) * G + k % G) * 32 + i % 32]
    }

    /// Scale of block `b` of row `k`.
    pub fn scale(&self, k: usize, b: usize) -> f32 {
        self.d[((k / G) * (self.cols / 32) + b) * G + k % G]
    }

    /// Code sum of half block `j` of row `k`.
    pub fn code_sum(&self, k: usize, j: usize) -> i32 {
        self.isum[((k / G) * (self.cols / 16) + j) * G + k % G]
    }

    /// Scale times code sum of half block `j` of row `k`.
    pub fn half_sum(&self, k: usize, j: usize) -> f32 {
        self.dsum[((k / G) * (self.cols / 16) + j) * G + k % G]
    }
}

/// Replaces each value of `x` (whole blocks of `fmt`) by the value its code stands for, code
/// times scale: the rounding the float path applies before its f32 products.
pub fn round_in_place(x: &mut [f32], fmt: ActFormat) {
    let mut q = vec![0i8; x.len()];
    let mut d = vec![0f32; x.len() / 32];
    match fmt {
        ActFormat::Q8_0 => round_q8_0(x, &mut q, &mut d),
        ActFormat::Q8K => round_q8_k(x, &mut q, &mut d),
    }
    for (i, v) in x.iter_mut().enumerate() {
        *v = q[i] as f32 * d[i / 32];
    }
}

/// llama.cpp's x86 `quantize_row_q8_0`: d = amax/127 stored as f16, codes round(x * 127/amax)
/// half to even.
fn round_q8_0(x: &[f32], q: &mut [i8], d: &mut [f32]) {
    for ((x, q), d) in x.chunks_exact(32).zip(q.chunks_exact_mut(32)).zip(d.iter_mut()) {
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        *d = half::f16::from_f32(amax / 127.0).to_f32();
        for (q, &v) in q.iter_mut().zip(x) {
            *q = nearest(v * id) as i8;
        }
    }
}

/// `quantize_row_q8_K_ref`: iscale = -127/max (max: the value of largest magnitude), codes
/// nearest_int(iscale * x) capped at 127, d = 1/iscale for all 8 blocks of 32.
fn round_q8_k(x: &[f32], q: &mut [i8], d: &mut [f32]) {
    for ((x, q), d) in x.chunks_exact(256).zip(q.chunks_exact_mut(256)).zip(d.chunks_exact_mut(8)) {
        let (mut amax, mut max) = (0f32, 0f32);
        for &v in x {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax == 0.0 {
            q.fill(0);
            d.fill(0.0);
            continue;
        }
        let iscale = -127.0 / max;
        d.fill(1.0 / iscale);
        for (q, &v) in q.iter_mut().zip(x) {
            *q = nearest(iscale * v).min(127.0) as i8;
        }
    }
}
