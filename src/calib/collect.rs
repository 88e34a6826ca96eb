//! The statistics a calibration pass collects through the forward pass's hook: residual-stream
//! outliers per layer (Sun et al.'s massive activations), attention to the first token per
//! head (sinks), and per-channel input statistics of every linear layer (importance).

use crate::forward::{Branch, Hook, LinearSite};
use crate::model::LayerTensor;
use crate::Result;
use candle_core::Tensor;
use std::collections::{BTreeMap, HashMap};

/// Sun et al.'s criterion: |a| > `abs_min` and |a| >= `ratio` x the median |a| of the layer's
/// hidden state (all tokens and dimensions of the sequence).
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Criterion {
    pub abs_min: f32,
    pub ratio: f32,
}

impl Criterion {
    /// Whether a magnitude `m` is massive given the hidden state's median magnitude.
    pub fn is_massive(&self, m: f32, median: f32) -> bool {
        m > self.abs_min && m >= self.ratio * median
    }
}

impl Default for Criterion {
    fn default() -> Self {
        Criterion { abs_min: 100.0, ratio: 1000.0 }
    }
}

/// Median of |x|.
pub fn median_abs(row: &[f32]) -> f32 {
    let mut a: Vec<f32> = row.iter().map(|x| x.abs()).collect();
    let mid = a.len() / 2;
    *a.select_nth_unstable_by(mid, f32::total_cmp).1
}

/// One massive activation seen in calibration.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Hit {
    pub layer: usize,
    pub dim: usize,
    pub value: f32,
    pub chunk: usize,
    pub token_index: usize,
    pub token_id: u32,
    pub median: f32,
}

#[derive(Clone, Debug, Default)]
pub struct LayerStats {
    /// The three largest |a| of the residual stream after this layer, over all tokens.
    pub top3: [f32; 3],
    /// Sum over chunks of the median |a| of the hidden state, and the number of chunks.
    pub median_sum: f64,
    pub tokens: u64,
    /// Residual at the first token, per chunk (for the sink token's values).
    pub first_token: Vec<Vec<f32>>,
}

/// Per-input-channel statistics of a linear layer: sum of x^2, max |x|, token count.
#[derive(Clone, Debug)]
pub struct ChannelStats {
    pub sum_sq: Vec<f64>,
    pub max_abs: Vec<f32>,
    pub count: u64,
}

impl ChannelStats {
    fn new(n: usize) -> Self {
        ChannelStats { sum_sq: vec![0.0; n], max_abs: vec![0.0; n], count: 0 }
    }
}

pub struct Collector {
    pub criterion: Criterion,
    pub max_hits: usize,
    pub chunk: usize,
    pub tokens: Vec<u32>,
    pub layers: Vec<LayerStats>,
    /// Massive activations in chunk order, then layer, token and dimension (after [`finish`]).
    ///
    /// [`finish`]: Collector::finish
    pub hits: Vec<Hit>,
    pub hits_dropped: usize,
    /// Hits per layer as they come (at most `max_hits` each) and how many were seen.
    layer_hits: Vec<Vec<Hit>>,
    hits_seen: usize,
    /// Per (layer, dim): count, sum of signed values, max |a|, max ratio to the median.
    pub dim_stats: BTreeMap<(usize, usize), (u64, f64, f32, f32)>,
    /// Per layer, per head: sum over chunks of the mean attention of queries 1.. on key 0.
    pub sink_sum: Vec<Vec<f64>>,
    pub sink_chunks: Vec<u64>,
    /// Keyed by the first site whose input it is; Q/K/V share AttnQ's, gate/up share FfnGate's.
    pub linear: HashMap<LinearSite, ChannelStats>,
    /// Input of each layer's down projection at the first token of the first chunk processed.
    pub down_input_first: HashMap<usize, Vec<f32>>,
    /// What each branch adds to the residual at the first token of the first chunk processed.
    pub branch_first: HashMap<(usize, Branch), Vec<f32>>,
    /// Each linear input's `X^T X`, when asked for (GPTQ needs them; they are large).
    pub hessians: Option<super::hessian::Hessians>,
    /// The last linear input seen (shared inputs are reported once per matrix).
    last_input: Option<candle_core::TensorId>,
}

impl Collector {
    pub fn new(n_layers: usize, criterion: Criterion) -> Self {
        Collector {
            criterion,
            max_hits: 20_000,
            chunk: 0,
            tokens: Vec::new(),
            layers: vec![LayerStats::default(); n_layers],
            hits: Vec::new(),
            hits_dropped: 0,
            layer_hits: vec![Vec::new(); n_layers],
            hits_seen: 0,
            dim_stats: BTreeMap::new(),
            sink_sum: vec![Vec::new(); n_layers],
            last_input: None,
            branch_first: HashMap::new(),
            sink_chunks: vec![0; n_layers],
            linear: HashMap::new(),
            down_input_first: HashMap::new(),
            hessians: None,
        }
    }

    /// Orders the hits as a chunk-by-chunk pass meets them and keeps the first `max_hits`:
    /// the same list whether the chunks ran one by one or layer by layer. Call once all chunks
    /// have run.
    pub fn finish(&mut self) {
        let mut all: Vec<Hit> = self.layer_hits.iter_mut().flat_map(std::mem::take).collect();
        // Stable: within a (chunk, layer) the hits stay in token and dimension order.
        all.sort_by_key(|h| h.chunk);
        all.truncate(self.max_hits);
        self.hits_dropped = self.hits_seen - all.len();
        self.hits = all;
    }
}

fn rows(x: &Tensor) -> Result<(Vec<f32>, usize)> {
    let (_, d) = x.dims2()?;
    Ok((x.flatten_all()?.to_vec1::<f32>()?, d))
}

impl Hook for Collector {
    fn begin_chunk(&mut self, id: usize, tokens: &[u32]) {
        if self.chunk != id || self.tokens != tokens {
            self.chunk = id;
            self.tokens = tokens.to_vec();
        }
    }

    fn residual(&mut self, layer: usize, x: &Tensor) -> Result<Option<Tensor>> {
        let (v, d) = rows(x)?;
        let c = self.criterion;
        let ls = &mut self.layers[layer];
        ls.first_token.push(v[..d].to_vec());
        // Sun et al. compare with the median magnitude of the layer's whole hidden state
        // (all tokens and dimensions of the sequence).
        let med = median_abs(&v);
        ls.median_sum += med as f64;
        ls.tokens += 1;
        for (t, row) in v.chunks(d).enumerate() {
            for (dim, &a) in row.iter().enumerate() {
                let m = a.abs();
                if m > ls.top3[2] {
                    ls.top3[2] = m;
                    ls.top3.sort_by(|a, b| b.total_cmp(a));
                }
                if c.is_massive(m, med) {
                    let e = self.dim_stats.entry((layer, dim)).or_insert((0, 0.0, 0.0, 0.0));
                    e.0 += 1;
                    e.1 += a as f64;
                    e.2 = e.2.max(m);
                    e.3 = e.3.max(if med > 0.0 { m / med } else { f32::INFINITY });
                    self.hits_seen += 1;
                    // The first max_hits of every layer include the first max_hits overall.
                    if self.layer_hits[layer].len() < self.max_hits {
                        let token_id = self.tokens.get(t).copied().unwrap_or(0);
                        self.layer_hits[layer].push(Hit {
                            layer,
                            dim,
                            value: a,
                            chunk: self.chunk,
                            token_index: t,
                            token_id,
                            median: med,
                        });
                    }
                }
            }
        }
        Ok(None)
    }

    fn linear_input(&mut self, site: LinearSite, x: &Tensor) -> Result<()> {
        // Q/K/V and gate/up see the same input, reported for each: collect it once, under the
        // first site that reports it.
        if self.last_input == Some(x.id()) {
            return Ok(());
        }
        self.last_input = Some(x.id());
        if let Some(h) = &mut self.hessians {
            h.add(site, x)?;
        }
        let (v, d) = rows(x)?;
        if let LinearSite::Layer(l, LayerTensor::FfnDown) = site {
            // The first chunk processed.
            self.down_input_first.entry(l).or_insert_with(|| v[..d].to_vec());
        }
        let s = self.linear.entry(site).or_insert_with(|| ChannelStats::new(d));
        for row in v.chunks(d) {
            for ((ss, mx), &a) in s.sum_sq.iter_mut().zip(s.max_abs.iter_mut()).zip(row) {
                *ss += (a as f64) * (a as f64);
                *mx = mx.max(a.abs());
            }
        }
        s.count += (v.len() / d) as u64;
        Ok(())
    }

    fn branch(&mut self, layer: usize, branch: Branch, out: &Tensor) -> Result<()> {
        if !self.branch_first.contains_key(&(layer, branch)) {
            let row: Vec<f32> = out.narrow(0, 0, 1)?.flatten_all()?.to_vec1()?;
            self.branch_first.insert((layer, branch), row);
        }
        Ok(())
    }

    fn attention(&mut self, layer: usize, probs: &Tensor) -> Result<()> {
        let (h, t, _) = probs.dims3()?;
        if t < 2 {
            return Ok(());
        }
        // Column 0 of every query row but the first (which can only attend to itself).
        let col0: Vec<Vec<f32>> = probs.narrow(2, 0, 1)?.squeeze(2)?.to_vec2()?;
        let s = &mut self.sink_sum[layer];
        if s.is_empty() {
            *s = vec![0.0; h];
        }
        for (head, col) in col0.iter().enumerate() {
            s[head] += col[1..].iter().map(|&p| p as f64).sum::<f64>() / (t - 1) as f64;
        }
        self.sink_chunks[layer] += 1;
        Ok(())
    }
}
