//! The scan report: massive dimensions (where they appear and vanish, the tokens they fire on,
//! their value at the sink token), the super weights that write them, attention sinks, and the
//! per-layer magnitude curve.

use super::collect::{Collector, Criterion};
use crate::error::Result;
use crate::forward::LinearSite;
use crate::model::{LayerTensor, Model, Role};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize, Clone, Debug)]
pub struct MassiveEntry {
    pub layer: usize,
    pub dim: usize,
    pub value: f32,
    pub chunk: usize,
    pub token_index: usize,
    pub token: String,
}

#[derive(Serialize, Clone, Debug)]
pub struct MassiveDim {
    pub dim: usize,
    /// The layer after which the first token's value in this dimension grows the most.
    pub origin_layer: usize,
    pub first_layer: usize,
    pub last_layer: usize,
    pub layers: Vec<usize>,
    pub max_abs: f32,
    pub median_ratio: f32,
    pub hits: u64,
    /// Signed mean of the massive value at `first_layer` over the tokens where it fires.
    pub mean_value: f64,
    /// Value at the first token after `first_layer`: mean and standard deviation over chunks.
    pub first_token_mean: f64,
    pub first_token_std: f64,
    /// Token strings it fires on (at any layer), most frequent first, with counts.
    pub tokens: Vec<(String, u64)>,
    /// Share of its hits at position 0.
    pub first_position_share: f64,
    /// What the FFN of `origin_layer` writes into this dimension at the first token of the first
    /// chunk (sum over the down projection's inputs), next to the residual value there.
    pub ffn_write: Option<f64>,
}

#[derive(Serialize, Clone, Debug)]
pub struct SuperWeight {
    /// GGUF name of the down projection.
    pub tensor: String,
    pub layer: usize,
    /// Row = output (residual) dimension, col = input (FFN) channel, in Hugging Face layout.
    pub row: usize,
    pub col: usize,
    pub value: f32,
    /// The FFN input at that channel (first token) and the product written into the dimension.
    pub input: f32,
    pub contribution: f64,
}

#[derive(Serialize, Clone, Debug)]
pub struct LayerCurve {
    pub layer: usize,
    pub top1: f32,
    pub top2: f32,
    pub top3: f32,
    pub median: f64,
}

#[derive(Serialize, Clone, Debug)]
pub struct LinearChannels {
    /// GGUF names of the tensors that read this input.
    pub tensors: Vec<String>,
    pub count: u64,
    pub mean_sq: Vec<f32>,
    pub max_abs: Vec<f32>,
}

#[derive(Serialize, Clone, Debug)]
pub struct ScanReport {
    pub model: String,
    pub architecture: String,
    pub calibration: serde_json::Value,
    pub criterion: Criterion,
    pub massive_dims: Vec<MassiveDim>,
    pub super_weights: Vec<SuperWeight>,
    /// Where each massive dimension comes from (super weight, norm gain, attention output).
    pub origins: Vec<super::origin::DimOrigin>,
    pub sink_share: Vec<f64>,
    pub sink_share_per_head: Vec<Vec<f64>>,
    pub layers: Vec<LayerCurve>,
    pub massive: Vec<MassiveEntry>,
    pub massive_truncated: usize,
    pub linear: Vec<LinearChannels>,
}

/// GGUF names of the tensors that read the input observed at `site`.
pub fn site_tensors(model: &Model, site: LinearSite) -> Vec<String> {
    super::importance::site_roles(model, site).iter().map(|r| r.gguf_name()).collect()
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let m = xs.iter().sum::<f64>() / n;
    (m, (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt())
}

/// Mean |value| of dimension `dim` at the first token after layer `l`, over the chunks.
fn first_token_abs(c: &Collector, l: usize, dim: usize) -> f64 {
    let v = &c.layers[l].first_token;
    v.iter().map(|r| r[dim].abs() as f64).sum::<f64>() / v.len().max(1) as f64
}

/// The super weights of massive dimension `dim`: the largest contributions of row `dim` of the
/// origin layer's down projection, weighted by its input at the first token. Returns what the
/// down projection writes into `dim` (when the calibration saw its input) and the weights.
fn super_weights(model: &Model, c: &Collector, dim: usize, origin: usize) -> Result<(Option<f64>, Vec<SuperWeight>)> {
    let Some(x) = c.down_input_first.get(&origin) else { return Ok((None, vec![])) };
    let (_, w) = model.read_canonical(Role::Layer(origin, LayerTensor::FfnDown))?;
    let n = x.len();
    let row = &w[dim * n..(dim + 1) * n];
    let mut contrib: Vec<(usize, f64)> =
        row.iter().zip(x).map(|(w, x)| (*w as f64) * (*x as f64)).enumerate().collect();
    let written: f64 = contrib.iter().map(|(_, v)| v).sum();
    contrib.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let total = written.abs();
    // Only when the down projection really writes the value (a quarter of what the first token
    // holds after the origin layer). Gemma-3's massive values come instead from the gains of
    // its post-attention/post-FFN norms, which a later check must cover.
    let written_share = total / first_token_abs(c, origin, dim).max(f64::MIN_POSITIVE);
    let mut supers = Vec::new();
    for &(col, v) in contrib.iter().take(3).filter(|_| written_share >= 0.25) {
        // Keep the columns that carry a real share of what is written.
        if v.abs() >= 0.1 * total {
            supers.push(SuperWeight {
                tensor: Role::Layer(origin, LayerTensor::FfnDown).gguf_name(),
                layer: origin,
                row: dim,
                col,
                value: row[col],
                input: x[col],
                contribution: v,
            });
        }
    }
    Ok((Some(written), supers))
}

/// One massive dimension from its per-layer statistics, with the super weights writing it.
fn massive_dim(
    model: &Model,
    c: &Collector,
    token_text: &dyn Fn(u32) -> String,
    dim: usize,
    per_layer: &[(usize, (u64, f64, f32, f32))],
) -> Result<(MassiveDim, Vec<SuperWeight>)> {
    let layers: Vec<usize> = per_layer.iter().map(|(l, _)| *l).collect();
    let (first, last) = (layers[0], *layers.last().expect("non-empty"));
    let first_stats = per_layer[0].1;
    let mut tokens: BTreeMap<String, u64> = BTreeMap::new();
    let (mut at_zero, mut seen) = (0u64, 0u64);
    for h in c.hits.iter().filter(|h| h.dim == dim) {
        *tokens.entry(token_text(h.token_id)).or_default() += 1;
        at_zero += (h.token_index == 0) as u64;
        seen += 1;
    }
    let mut tokens: Vec<(String, u64)> = tokens.into_iter().collect();
    tokens.sort_by(|a, b| b.1.cmp(&a.1));
    tokens.truncate(8);
    let firsts: Vec<f64> = c.layers[first].first_token.iter().map(|r| r[dim] as f64).collect();
    let (fm, fs) = mean_std(&firsts);
    // Origin: the layer (up to the last where it is seen) after which the first token's value
    // in this dimension grows the most.
    let grows = |l: usize| first_token_abs(c, l, dim) - if l == 0 { 0.0 } else { first_token_abs(c, l - 1, dim) };
    let origin = (0..=last).map(|l| (l, grows(l))).max_by(|a, b| a.1.total_cmp(&b.1)).map_or(first, |(l, _)| l);
    let (ffn_write, supers) = super_weights(model, c, dim, origin)?;
    let d = MassiveDim {
        dim,
        origin_layer: origin,
        first_layer: first,
        last_layer: last,
        max_abs: per_layer.iter().map(|(_, s)| s.2).fold(0.0, f32::max),
        median_ratio: per_layer.iter().map(|(_, s)| s.3).fold(0.0, f32::max),
        hits: per_layer.iter().map(|(_, s)| s.0).sum(),
        mean_value: first_stats.1 / first_stats.0 as f64,
        first_token_mean: fm,
        first_token_std: fs,
        tokens,
        first_position_share: if seen > 0 { at_zero as f64 / seen as f64 } else { 0.0 },
        ffn_write,
        layers,
    };
    Ok((d, supers))
}

fn layer_curves(c: &Collector) -> Vec<LayerCurve> {
    let curve = |(i, l): (usize, &super::collect::LayerStats)| LayerCurve {
        layer: i,
        top1: l.top3[0],
        top2: l.top3[1],
        top3: l.top3[2],
        median: l.median_sum / l.tokens.max(1) as f64,
    };
    c.layers.iter().enumerate().map(curve).collect()
}

fn linear_channels(model: &Model, c: &Collector) -> Vec<LinearChannels> {
    let mut sites: Vec<&LinearSite> = c.linear.keys().collect();
    sites.sort();
    let channels = |s: &LinearSite| {
        let st = &c.linear[s];
        LinearChannels {
            tensors: site_tensors(model, *s),
            count: st.count,
            mean_sq: st.sum_sq.iter().map(|v| (v / st.count.max(1) as f64) as f32).collect(),
            max_abs: st.max_abs.clone(),
        }
    };
    sites.into_iter().map(channels).collect()
}

pub fn build(
    model: &Model,
    c: &Collector,
    token_text: &dyn Fn(u32) -> String,
    calibration: serde_json::Value,
    max_entries: usize,
) -> Result<ScanReport> {
    // Group hits by dimension.
    let mut by_dim: BTreeMap<usize, Vec<(usize, (u64, f64, f32, f32))>> = BTreeMap::new();
    for (&(layer, dim), &s) in &c.dim_stats {
        by_dim.entry(dim).or_default().push((layer, s));
    }
    let (mut dims, mut supers, mut origins) = (Vec::new(), Vec::new(), Vec::new());
    for (dim, per_layer) in by_dim {
        let (d, s) = massive_dim(model, c, token_text, dim, &per_layer)?;
        origins.extend(super::origin::origin(model, c, dim, d.origin_layer)?);
        dims.push(d);
        supers.extend(s);
    }
    dims.sort_by(|a, b| b.max_abs.total_cmp(&a.max_abs));
    supers.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
    let sink_share_per_head: Vec<Vec<f64>> =
        c.sink_sum.iter().zip(&c.sink_chunks).map(|(s, &n)| s.iter().map(|v| v / n.max(1) as f64).collect()).collect();
    let sink_share = sink_share_per_head.iter().map(|h| h.iter().sum::<f64>() / h.len().max(1) as f64).collect();
    let entry = |h: &super::collect::Hit| MassiveEntry {
        layer: h.layer,
        dim: h.dim,
        value: h.value,
        chunk: h.chunk,
        token_index: h.token_index,
        token: token_text(h.token_id),
    };
    let massive: Vec<MassiveEntry> = c.hits.iter().take(max_entries).map(entry).collect();
    let (layers, linear) = (layer_curves(c), linear_channels(model, c));
    Ok(ScanReport {
        model: model.path.display().to_string(),
        architecture: model.arch().to_string(),
        calibration,
        criterion: c.criterion,
        massive_truncated: c.hits.len() + c.hits_dropped - massive.len(),
        massive_dims: dims,
        super_weights: supers,
        origins,
        sink_share,
        sink_share_per_head,
        layers,
        massive,
        linear,
    })
}
