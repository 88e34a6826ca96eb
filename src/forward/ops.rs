//! Fused CPU kernels for the forward pass's elementwise work (one pass, all cores, no
//! intermediate tensors): RMSNorm, rotary embedding, masked softmax. The matrix products stay
//! in candle's GEMM.

use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

fn to_vec(x: &Tensor) -> Result<Vec<f32>> {
    x.flatten_all()?.to_vec1::<f32>()
}

/// RMSNorm over the last dimension: `x / sqrt(mean(x^2) + eps) * w`.
pub fn rms_norm(x: &Tensor, w: &[f32], eps: f64) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let n = w.len();
    let mut v = to_vec(x)?;
    v.par_chunks_mut(n).for_each(|row| {
        let ms = row.iter().map(|a| a * a).sum::<f32>() / n as f32;
        let r = 1.0 / (ms + eps as f32).sqrt();
        row.iter_mut().zip(w).for_each(|(a, g)| *a = *a * r * g);
    });
    Tensor::from_vec(v, dims, &Device::Cpu)
}

/// LayerNorm over the last dimension: `(x - mean) / sqrt(var + eps) * w + b`.
pub fn layer_norm(x: &Tensor, w: &[f32], b: Option<&[f32]>, eps: f64) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let n = w.len();
    let mut v = to_vec(x)?;
    v.par_chunks_mut(n).for_each(|row| {
        let mean = row.iter().sum::<f32>() / n as f32;
        let var = row.iter().map(|a| (a - mean) * (a - mean)).sum::<f32>() / n as f32;
        let r = 1.0 / (var + eps as f32).sqrt();
        row.iter_mut().zip(w).for_each(|(a, g)| *a = (*a - mean) * r * g);
        if let Some(b) = b {
            row.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
    });
    Tensor::from_vec(v, dims, &Device::Cpu)
}

/// `cap * tanh(x / cap)` elementwise (Gemma-2's soft-capping).
pub fn softcap(x: &Tensor, cap: f64) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let c = cap as f32;
    let mut v = to_vec(x)?;
    v.par_iter_mut().for_each(|a| *a = c * (*a / c).tanh());
    Tensor::from_vec(v, dims, &Device::Cpu)
}

/// Rotary embedding (GPT-NeoX halves) of `x [heads, t, hd]` for positions `0..t`, with
/// `cos`/`sin` tables `[positions, half]`: the first `2 * half` dimensions of each head are
/// rotated (partial rotary when that is less than `hd`), the rest pass through.
pub fn rope(x: &Tensor, cos: &[f32], sin: &[f32], half: usize) -> Result<Tensor> {
    let (h, t, hd) = x.dims3()?;
    debug_assert!(2 * half <= hd);
    let mut v = to_vec(x)?;
    v.par_chunks_mut(t * hd).for_each(|head| {
        for (p, row) in head.chunks_mut(hd).enumerate() {
            let (c, s) = (&cos[p * half..(p + 1) * half], &sin[p * half..(p + 1) * half]);
            let (a, b) = row[..2 * half].split_at_mut(half);
            for i in 0..half {
                let (x1, x2) = (a[i], b[i]);
                a[i] = x1 * c[i] - x2 * s[i];
                b[i] = x2 * c[i] + x1 * s[i];
            }
        }
    });
    Tensor::from_vec(v, (h, t, hd), &Device::Cpu)
}

/// Softmax of attention scores `[heads, t, t]` (already scaled) where query `i` sees keys
/// `j <= i` with `i - j < window`; masked entries come out exactly 0.
pub fn causal_softmax(scores: &Tensor, window: Option<usize>) -> Result<Tensor> {
    let (h, t, t2) = scores.dims3()?;
    debug_assert_eq!(t, t2);
    let w = window.unwrap_or(usize::MAX);
    let mut v = to_vec(scores)?;
    v.par_chunks_mut(t).enumerate().for_each(|(r, row)| {
        let i = r % t;
        let lo = (i + 1).saturating_sub(w);
        let seen = &mut row[lo..=i];
        let max = seen.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let inv = (1.0 / crate::kernels::exp::exp_in_place(seen, max)) as f32;
        seen.iter_mut().for_each(|x| *x *= inv);
        row[..lo].iter_mut().for_each(|x| *x = 0.0);
        row[i + 1..].iter_mut().for_each(|x| *x = 0.0);
    });
    Tensor::from_vec(v, (h, t, t), &Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_kernels_match_plain_formulas() {
        let x = Tensor::from_vec(vec![1f32, -2.0, 3.0, 0.5, 0.0, 4.0], (2, 3), &Device::Cpu).unwrap();
        let y = rms_norm(&x, &[1.0, 2.0, 0.5], 1e-6).unwrap().to_vec2::<f32>().unwrap();
        let r0 = 1.0 / ((1.0f32 + 4.0 + 9.0) / 3.0 + 1e-6).sqrt();
        assert!((y[0][1] - (-2.0 * r0 * 2.0)).abs() < 1e-6);
        let s =
            Tensor::from_vec(vec![0.0f32, 5.0, 7.0, 1.0, 2.0, 9.0, 3.0, 3.0, 3.0], (1, 3, 3), &Device::Cpu).unwrap();
        let p = causal_softmax(&s, None).unwrap().to_vec3::<f32>().unwrap();
        assert_eq!(p[0][0], vec![1.0, 0.0, 0.0]);
        let e = 1.0 / (1.0 + 1f32.exp());
        assert!((p[0][1][0] - e).abs() < 1e-6 && p[0][1][2] == 0.0);
        assert!((p[0][2].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let p = causal_softmax(&s, Some(2)).unwrap().to_vec3::<f32>().unwrap();
        assert_eq!(p[0][2][0], 0.0, "outside the window");
        assert!((p[0][2][1] - 0.5).abs() < 1e-6);
        // RoPE at position 0 is the identity; at position 1 it rotates each (x_i, x_{i+half}) pair.
        let x = Tensor::from_vec(vec![1f32, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0], (1, 2, 4), &Device::Cpu).unwrap();
        let (c, s) = ([1.0f32, 1.0, 0.0, 0.5], [0.0f32, 0.0, 1.0, 0.25]);
        let y = rope(&x, &c, &s, 2).unwrap().to_vec3::<f32>().unwrap();
        assert_eq!(y[0][0], vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            y[0][1],
            vec![1.0 * 0.0 - 3.0 * 1.0, 2.0 * 0.5 - 4.0 * 0.25, 3.0 * 0.0 + 1.0 * 1.0, 4.0 * 0.5 + 2.0 * 0.25]
        );
    }
}
