//! Per-token statistics from logits, as llama.cpp's perplexity tool computes them.

/// log-softmax of one row in f64 (max subtracted first; f32 `exp` summed in f64, as
/// llama.cpp's perplexity tool sums `expf`).
pub fn log_softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = max as f64 + crate::kernels::exp::exp_sum(logits, max).ln();
    logits.iter().map(|&l| l as f64 - lse).collect()
}

pub fn argmax(x: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in x.iter().enumerate() {
        if *v > x[best] {
            best = i;
        }
    }
    best
}

/// KL(base || candidate) from two log-probability rows.
pub fn kl_divergence(base: &[f64], cand: &[f64]) -> f64 {
    base.iter().zip(cand).map(|(b, c)| b.exp() * (b - c)).sum::<f64>().max(0.0)
}

/// Mean and its standard error.
pub fn mean_stderr(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// The `q`-quantile (0..=1) by nearest rank on a sorted copy.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let idx = ((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1);
    v[idx]
}

/// Perplexity and its uncertainty from per-token negative log-likelihoods, as llama.cpp reports
/// them: `exp(mean)` and `sqrt(var / (n - 1)) * ppl` with the population variance.
pub fn ppl_stderr(nll: &[f64]) -> (f64, f64) {
    let n = nll.len() as f64;
    let mean = nll.iter().sum::<f64>() / n;
    let mean2 = nll.iter().map(|x| x * x).sum::<f64>() / n;
    let ppl = mean.exp();
    let var = mean2 - mean * mean;
    let err = if var > 0.0 && n > 1.0 { (var / (n - 1.0)).sqrt() * ppl } else { 0.0 };
    (ppl, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_normalizes_and_kl_is_zero_on_itself() {
        let l = log_softmax(&[1.0, 2.0, 3.0]);
        // The terms are f32 `exp`s (as llama.cpp's): f32 precision, summed in f64.
        let total: f64 = l.iter().map(|x| x.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
        assert!((l[2] - (3.0 - (1f64.exp() + 2f64.exp() + 3f64.exp()).ln())).abs() < 1e-6);
        assert_eq!(kl_divergence(&l, &l), 0.0);
        let m = log_softmax(&[3.0, 2.0, 1.0]);
        assert!(kl_divergence(&l, &m) > 0.5);
    }

    #[test]
    fn ppl_of_uniform_guess_is_vocab_size() {
        let nll = vec![(4f64).ln(); 10];
        let (ppl, err) = ppl_stderr(&nll);
        assert!((ppl - 4.0).abs() < 1e-12 && err == 0.0);
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.99), 3.0);
        assert_eq!(argmax(&[0.1, 0.5, 0.2]), 1);
    }
}
