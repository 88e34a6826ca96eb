//! RoPE frequency scaling: what config.json's `rope_scaling` / `rope_parameters` and GGUF's
//! `rope.scaling.*` keys or `rope_freqs` tensor ask for, as the divisor of each rotary
//! frequency. Types the forward pass does not implement are refused, never ignored.

use super::hparams::ConfigError;
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RopeScaling {
    /// Positions divided by `factor` (every frequency divided by it).
    Linear { factor: f64 },
    /// Llama 3.1's: low frequencies divided by `factor`, high ones kept, a smooth blend between.
    Llama3 { factor: f64, low_freq_factor: f64, high_freq_factor: f64, original_ctx: usize },
    /// One divisor per frequency, as llama.cpp's `rope_freqs` tensor holds them.
    Factors(Vec<f32>),
    /// Phi-3's LongRoPE: per-frequency divisors for contexts up to `original_ctx` (short) and
    /// beyond (long; not implemented: longer chunks are refused), and cos/sin scaled by
    /// `attn_factor`.
    LongRope { short_factor: Vec<f32>, long_factor: Vec<f32>, original_ctx: usize, attn_factor: f64 },
}

fn unimplemented(t: &str) -> ConfigError {
    ConfigError::Unimplemented(format!(
        "RoPE scaling of type {t:?} (the forward pass implements default, linear, llama3 and longrope)"
    ))
}

impl RopeScaling {
    /// From one `rope_scaling` or `rope_parameters` object; `None` for default RoPE. `ctx` is
    /// config.json's (`max_position_embeddings`, `original_max_position_embeddings`).
    pub fn from_hf(r: &Value, ctx: (Option<usize>, Option<usize>)) -> Result<Option<RopeScaling>, ConfigError> {
        if r.is_null() {
            return Ok(None);
        }
        let t = r.get("rope_type").or_else(|| r.get("type")).and_then(Value::as_str).unwrap_or("(unnamed)");
        let num = |k: &str| -> Result<f64, ConfigError> {
            r.get(k)
                .and_then(Value::as_f64)
                .ok_or_else(|| ConfigError::Malformed(format!("config.json: RoPE scaling {t:?} has no number {k}")))
        };
        Ok(Some(match t {
            "default" => return Ok(None),
            "linear" => RopeScaling::Linear { factor: num("factor")? },
            "llama3" => RopeScaling::Llama3 {
                factor: num("factor")?,
                low_freq_factor: num("low_freq_factor")?,
                high_freq_factor: num("high_freq_factor")?,
                original_ctx: num("original_max_position_embeddings")? as usize,
            },
            "longrope" => {
                let factors = |k: &str| -> Result<Vec<f32>, ConfigError> {
                    r.get(k)
                        .and_then(Value::as_array)
                        .and_then(|a| a.iter().map(|x| x.as_f64().map(|x| x as f32)).collect::<Option<Vec<_>>>())
                        .ok_or_else(|| ConfigError::Malformed(format!("config.json: longrope has no list {k}")))
                };
                let original_ctx = r
                    .get("original_max_position_embeddings")
                    .and_then(Value::as_u64)
                    .map(|x| x as usize)
                    .or(ctx.1)
                    .or(ctx.0)
                    .ok_or_else(|| {
                        ConfigError::Malformed("config.json: longrope without an original context".into())
                    })?;
                let factor = ctx.0.map_or(1.0, |m| m as f64 / original_ctx as f64);
                let attn_factor = match r.get("attention_factor").and_then(Value::as_f64) {
                    Some(a) => a,
                    None if factor <= 1.0 => 1.0,
                    None => (1.0 + factor.ln() / (original_ctx as f64).ln()).sqrt(),
                };
                RopeScaling::LongRope {
                    short_factor: factors("short_factor")?,
                    long_factor: factors("long_factor")?,
                    original_ctx,
                    attn_factor,
                }
            }
            other => return Err(unimplemented(other)),
        }))
    }

    /// The scale of cos and sin (LongRoPE's attention factor; 1 otherwise).
    pub fn attn_factor(&self) -> f64 {
        match self {
            RopeScaling::LongRope { attn_factor, .. } => *attn_factor,
            _ => 1.0,
        }
    }

    /// The longest chunk the implemented path covers (LongRoPE's short path).
    pub fn max_tokens(&self) -> Option<usize> {
        match self {
            RopeScaling::LongRope { original_ctx, .. } => Some(*original_ctx),
            _ => None,
        }
    }

    /// A GGUF's scaling: `rope.scaling.type` (none or linear), or the `rope_freqs` divisors.
    pub fn from_gguf(
        kind: Option<&str>,
        factor: Option<f64>,
        freqs: Option<Vec<f32>>,
    ) -> Result<Option<RopeScaling>, ConfigError> {
        match kind {
            None | Some("none") => Ok(freqs.map(RopeScaling::Factors)),
            Some("linear") => match factor {
                Some(f) if f > 0.0 => Ok(Some(RopeScaling::Linear { factor: f })),
                _ => Err(ConfigError::Malformed(
                    "rope.scaling.type linear without a positive rope.scaling.factor".into(),
                )),
            },
            Some(t) => Err(unimplemented(t)),
        }
    }

    /// The divisor of each of the `rotary_dim / 2` frequencies of base `theta`.
    pub fn divisors(&self, rotary_dim: usize, theta: f64) -> Vec<f64> {
        let half = rotary_dim / 2;
        match self {
            RopeScaling::Linear { factor } => vec![*factor; half],
            RopeScaling::Factors(f) | RopeScaling::LongRope { short_factor: f, .. } => {
                f.iter().map(|&x| x as f64).collect()
            }
            RopeScaling::Llama3 { factor, low_freq_factor: low, high_freq_factor: high, original_ctx } => {
                let ctx = *original_ctx as f64;
                (0..half)
                    .map(|i| {
                        let freq = 1.0 / theta.powf(2.0 * i as f64 / rotary_dim as f64);
                        let wavelen = 2.0 * std::f64::consts::PI / freq;
                        if wavelen < ctx / high {
                            1.0
                        } else if wavelen > ctx / low {
                            *factor
                        } else {
                            let smooth = (ctx / wavelen - low) / (high - low);
                            1.0 / ((1.0 - smooth) / factor + smooth)
                        }
                    })
                    .collect()
            }
        }
    }

    /// The `rope_scaling` object of a config.json for rotary parts of `rotary_dim` with base
    /// `theta`; a GGUF's `rope_freqs` divisors are said as the llama3 (or linear) scaling that
    /// gives them, `None` when none does.
    pub fn to_hf(&self, rotary_dim: usize, theta: f64) -> Option<Value> {
        if let RopeScaling::Factors(d) = self {
            let fitted = fit_llama3(d, rotary_dim, theta)?;
            return fitted.to_hf(rotary_dim, theta);
        }
        match self {
            RopeScaling::Linear { factor } => Some(json!({"rope_type": "linear", "factor": factor})),
            RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_ctx } => Some(json!({
                "rope_type": "llama3",
                "factor": factor,
                "low_freq_factor": low_freq_factor,
                "high_freq_factor": high_freq_factor,
                "original_max_position_embeddings": original_ctx,
            })),
            RopeScaling::LongRope { short_factor, long_factor, original_ctx, attn_factor } => Some(json!({
                "rope_type": "longrope",
                "short_factor": short_factor,
                "long_factor": long_factor,
                "original_max_position_embeddings": original_ctx,
                "attention_factor": attn_factor,
            })),
            RopeScaling::Factors(_) => None,
        }
    }
}

/// The llama3 (or linear) scaling whose divisors are `d`. Only the ratios of the original
/// context to the two frequency factors matter, so the low factor is taken as 1 (or the one
/// that makes the original context a whole number) from two divisors of the smooth band.
fn fit_llama3(d: &[f32], rotary_dim: usize, theta: f64) -> Option<RopeScaling> {
    let factor = d.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-5 * b.abs().max(1.0);
    if near(factor, 1.0) {
        return None;
    }
    if d.iter().all(|&x| near(x as f64, factor)) {
        return Some(RopeScaling::Linear { factor });
    }
    let wavelen = |i: usize| 2.0 * std::f64::consts::PI * theta.powf(2.0 * i as f64 / rotary_dim as f64);
    let smooth: Vec<usize> = (0..d.len()).filter(|&i| !near(d[i] as f64, 1.0) && !near(d[i] as f64, factor)).collect();
    let s = |i: usize| (1.0 / d[i] as f64 - 1.0 / factor) / (1.0 - 1.0 / factor);
    // With the low factor taken as 1, `smooth = (orig / wavelen - 1) / (high - 1)`.
    let (orig, high) = match smooth[..] {
        [] | [_] => {
            // Too few points to read the band: put the original context between the
            // wavelength of the last kept (or smoothed) frequency and the first divided one.
            let last = smooth.first().copied().or_else(|| (0..d.len()).rev().find(|&i| near(d[i] as f64, 1.0)))?;
            let orig = (wavelen(last) * wavelen(last + 1)).sqrt().round();
            let high = match smooth.first() {
                Some(&i) => 1.0 + (orig / wavelen(i) - 1.0) / s(i),
                None => orig / (wavelen(last) * 1.001),
            };
            (orig, high)
        }
        [i, .., j] => {
            // Two points give a line in 1 / wavelen: smooth = a / wavelen + b.
            let a = (s(i) - s(j)) / (1.0 / wavelen(i) - 1.0 / wavelen(j));
            let b = s(i) - a / wavelen(i);
            if !(a > 0.0 && b < 0.0) {
                return None;
            }
            // orig = -a / b, high = 1 - 1 / b; scaled so that orig is a whole number.
            let (orig, high) = (-a / b, 1.0 - 1.0 / b);
            let k = orig.round().max(1.0) / orig;
            let fitted = RopeScaling::Llama3 {
                factor,
                low_freq_factor: k,
                high_freq_factor: k * high,
                original_ctx: orig.round().max(1.0) as usize,
            };
            return reproduces(fitted, d, rotary_dim, theta);
        }
    };
    let fitted =
        RopeScaling::Llama3 { factor, low_freq_factor: 1.0, high_freq_factor: high, original_ctx: orig as usize };
    reproduces(fitted, d, rotary_dim, theta)
}

/// `s` if its divisors are `d`.
fn reproduces(s: RopeScaling, d: &[f32], rotary_dim: usize, theta: f64) -> Option<RopeScaling> {
    let ok = s.divisors(rotary_dim, theta).iter().zip(d).all(|(a, &b)| (a - b as f64).abs() <= 1e-4 * a.abs());
    ok.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The divisors of transformers' `_compute_llama3_parameters` (Llama-3.1's values, head
    /// dimension 128, base 500000): high frequencies kept, low ones divided by 8.
    #[test]
    fn llama3_divisors_blend_between_one_and_the_factor() {
        let s = RopeScaling::from_hf(
            &json!({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
            (None, None),
        )
        .unwrap()
        .unwrap();
        let d = s.divisors(128, 500_000.0);
        assert_eq!(d.len(), 64);
        assert_eq!(d[0], 1.0);
        assert_eq!(d[63], 8.0);
        assert!(d.windows(2).all(|w| w[0] <= w[1]), "monotone");
        let mid = d.iter().filter(|&&x| x > 1.0 && x < 8.0).count();
        assert!(mid > 0 && mid < 20, "{mid} frequencies in the smooth band");
        assert!(RopeScaling::from_hf(&json!({"rope_type": "yarn", "factor": 4.0}), (None, None))
            .unwrap_err()
            .to_string()
            .contains("yarn"));
        assert_eq!(
            RopeScaling::from_hf(&json!({"rope_type": "default", "rope_theta": 1e4}), (None, None)).unwrap(),
            None
        );
        assert!(RopeScaling::from_gguf(Some("yarn"), Some(4.0), None).is_err());
        // llama.cpp's rope_freqs divisors say the same scaling in a config.json.
        // Two frequencies in the smooth band (base 1e4), one (base 5e5), none (Llama-3.1's).
        for (theta, orig) in [(1e4, 64), (5e5, 64), (5e5, 8192)] {
            let tiny =
                RopeScaling::Llama3 { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_ctx: orig };
            let f: Vec<f32> = tiny.divisors(16, theta).iter().map(|&x| x as f32).collect();
            let back = RopeScaling::Factors(f.clone()).to_hf(16, theta).expect("fitted");
            let again = RopeScaling::from_hf(&back, (None, None)).unwrap().unwrap();
            let g: Vec<f32> = again.divisors(16, theta).iter().map(|&x| x as f32).collect();
            assert!(f.iter().zip(&g).all(|(a, b)| (a - b).abs() < 1e-4 * a), "{f:?} {g:?} from {back}");
        }
        // Phi-3-mini-128k's attention factor: sqrt(1 + ln(32) / ln(4096)).
        let r = json!({"rope_type": "longrope", "short_factor": [1.0, 1.5], "long_factor": [2.0, 9.0]});
        let s = RopeScaling::from_hf(&r, (Some(131072), Some(4096))).unwrap().unwrap();
        assert!((s.attn_factor() - (1.0 + 32f64.ln() / 4096f64.ln()).sqrt()).abs() < 1e-12);
        assert_eq!(s.divisors(4, 1e4), vec![1.0, 1.5]);
        assert_eq!(s.max_tokens(), Some(4096));
    }
}
