//! Where a massive dimension comes from, whatever the mechanism: at the layer where the first
//! token's value grows most, the branch (attention or feed-forward) that adds most of the
//! growth, and within it either a post-norm gain far above the others (Gemma's post-attention
//! and post-FFN norms), a super weight of the down projection, or the attention output.

use super::collect::Collector;
use crate::forward::Branch;
use crate::model::{LayerTensor, Model, Role};
use crate::Result;
use serde::Serialize;

/// A gain at least this many times the median |gain| of its norm counts as the origin.
pub const GAIN_RATIO: f64 = 8.0;

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// The down projection writes it (its super weights are listed).
    SuperWeight,
    /// A post-norm's gain at the dimension amplifies the branch's output.
    NormGain,
    /// The attention's output projection writes it.
    AttentionOutput,
}

#[derive(Serialize, Clone, Debug)]
pub struct DimOrigin {
    pub dim: usize,
    pub layer: usize,
    pub mechanism: Mechanism,
    /// GGUF name of the tensor responsible.
    pub tensor: String,
    pub branch: Branch,
    /// What each branch adds to the dimension at the first token of the first chunk.
    pub attention_adds: f32,
    pub feed_forward_adds: f32,
    /// For a norm gain: the effective gain at the dimension and its ratio to the median.
    pub gain: Option<f32>,
    pub gain_ratio: Option<f64>,
}

impl DimOrigin {
    /// One line for the terminal.
    pub fn describe(&self) -> String {
        let what = match self.mechanism {
            Mechanism::SuperWeight => "super weight(s) of".to_string(),
            Mechanism::NormGain => format!(
                "norm gain {:.1} ({:.0}x the median) of",
                self.gain.unwrap_or_default(),
                self.gain_ratio.unwrap_or_default()
            ),
            Mechanism::AttentionOutput => "attention output projection".to_string(),
        };
        format!(
            "dim {} comes from the {} {} at layer {} (attention adds {:.1}, feed-forward {:.1} at the first token)",
            self.dim, what, self.tensor, self.layer, self.attention_adds, self.feed_forward_adds
        )
    }
}

fn median_abs(v: &[f32]) -> f64 {
    let mut a: Vec<f32> = v.iter().map(|x| x.abs()).collect();
    a.sort_by(f32::total_cmp);
    a.get(a.len() / 2).copied().unwrap_or(0.0) as f64
}

/// The post-norm of `branch` in layer `layer`, as (role, effective gain), if the model has one.
fn post_norm(model: &Model, layer: usize, branch: Branch) -> Result<Option<(Role, Vec<f32>)>> {
    let t = match branch {
        Branch::Attention => LayerTensor::PostAttnNorm,
        Branch::FeedForward => LayerTensor::PostFfnNorm,
    };
    let role = Role::Layer(layer, t);
    if model.tensor(role).is_none() {
        return Ok(None);
    }
    Ok(Some((role, model.norm_gain(role)?)))
}

/// The origin of dimension `dim`, which grows most after layer `layer`; `None` when the
/// calibration did not record the branches there.
pub fn origin(model: &Model, c: &Collector, dim: usize, layer: usize) -> Result<Option<DimOrigin>> {
    let at = |b: Branch| c.branch_first.get(&(layer, b)).and_then(|v| v.get(dim)).copied();
    let (Some(a), Some(f)) = (at(Branch::Attention), at(Branch::FeedForward)) else { return Ok(None) };
    let branch = if a.abs() > f.abs() { Branch::Attention } else { Branch::FeedForward };
    let mut o = DimOrigin {
        dim,
        layer,
        mechanism: Mechanism::SuperWeight,
        tensor: Role::Layer(layer, LayerTensor::FfnDown).gguf_name(),
        branch,
        attention_adds: a,
        feed_forward_adds: f,
        gain: None,
        gain_ratio: None,
    };
    if let Some((role, g)) = post_norm(model, layer, branch)? {
        let ratio = g[dim].abs() as f64 / median_abs(&g).max(f64::MIN_POSITIVE);
        if ratio >= GAIN_RATIO {
            (o.mechanism, o.tensor, o.gain, o.gain_ratio) =
                (Mechanism::NormGain, role.gguf_name(), Some(g[dim]), Some(ratio));
            return Ok(Some(o));
        }
    }
    if branch == Branch::Attention {
        o.mechanism = Mechanism::AttentionOutput;
        o.tensor = Role::Layer(layer, LayerTensor::AttnOutput).gguf_name();
    }
    Ok(Some(o))
}
