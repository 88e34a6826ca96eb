//! Observation hooks: what calibration and analysis see of a forward pass. A hook is handed to
//! the forward pass explicitly (no global state); when none is given, nothing is computed for
//! it. Every method has a no-op default, so a hook implements only what it needs.

use crate::model::LayerTensor;
use crate::Result;
use candle_core::Tensor;

/// The input of a linear layer: a matrix of one transformer layer, or the output head. Ordered
/// by layer, then role, with the head last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LinearSite {
    Layer(usize, LayerTensor),
    Output,
}

/// The two branches of a block that add into the residual stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Branch {
    Attention,
    FeedForward,
}

pub trait Hook {
    /// The calls that follow are for chunk `id` (the caller's name for it) of token ids `tokens`.
    /// Chunks may run layer by layer ([`super::Transformer::run_chunks`]): a hook keeping
    /// per-chunk state keys it by this.
    fn begin_chunk(&mut self, _id: usize, _tokens: &[u32]) {}

    /// The residual stream `[tokens, d_model]` after layer `layer` (0-based). Returning a tensor
    /// replaces the residual stream from there on (e.g. to set chosen activations to a value).
    fn residual(&mut self, _layer: usize, _x: &Tensor) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// The input `[tokens, in_features]` of a linear layer, before its matrix multiplication.
    /// Q, K and V (and gate and up) share one input and are reported once each.
    fn linear_input(&mut self, _site: LinearSite, _x: &Tensor) -> Result<()> {
        Ok(())
    }

    /// What a branch of layer `layer` adds to the residual stream `[tokens, d_model]` (after
    /// its post-norm, where the architecture has one).
    fn branch(&mut self, _layer: usize, _branch: Branch, _out: &Tensor) -> Result<()> {
        Ok(())
    }

    /// Attention probabilities `[heads, queries, keys]` of layer `layer`, after the softmax.
    fn attention(&mut self, _layer: usize, _probs: &Tensor) -> Result<()> {
        Ok(())
    }
}
