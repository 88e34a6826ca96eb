//! The reversible changes between files and sinkquant's canonical layout, and their inverses.
//! Canonical is Hugging Face's layout and conventions (llama's Q/K rows in HF order, Gemma's
//! norms as `w` of `1 + w`), with linear weights as `[out, in]` and fused Q/K/V rows stacked
//! q, k, v: GPT-2's transposed `Conv1D` weights and GPT-NeoX's per-head `query_key_value` are
//! converted on reading (`hf_to_canonical`) and back on writing (`canonical_to_hf`).

use super::arch::{Arch, Layout};
use super::hparams::HParams;
use super::roles::{LayerTensor, Role};

/// Number of heads whose rows a Q or K tensor (or bias) holds, if the role is permuted in GGUF.
fn permuted_heads(arch: Arch, hp: &HParams, role: Role) -> Option<usize> {
    if !arch.gguf_permutes_qk() {
        return None;
    }
    match role {
        Role::Layer(_, LayerTensor::AttnQ | LayerTensor::AttnQBias) => Some(hp.n_heads),
        Role::Layer(_, LayerTensor::AttnK | LayerTensor::AttnKBias) => Some(hp.n_kv_heads),
        _ => None,
    }
}

/// Row `r` of the GGUF tensor holds row `map(r)` of the HF tensor: within each head, GGUF
/// interleaves the two rotary halves (`permute` in convert_hf_to_gguf.py).
fn hf_row_of_gguf_row(r: usize, head_rows: usize) -> usize {
    let (h, j) = (r / head_rows, r % head_rows);
    let half = head_rows / 2;
    h * head_rows + (j % 2) * half + j / 2
}

/// Rows of a matrix stored as `n_rows` equal runs of `T` (f32 values, or the bytes of quantized
/// rows), moved between GGUF's and Hugging Face's order of each head's rows.
pub fn permute_rows<T: Copy + Default>(data: &[T], n_rows: usize, n_heads: usize, to_hf: bool) -> Vec<T> {
    let row_len = data.len() / n_rows;
    let head_rows = n_rows / n_heads;
    let mut out = vec![T::default(); data.len()];
    for r in 0..n_rows {
        let h = hf_row_of_gguf_row(r, head_rows);
        let (src, dst) = if to_hf { (r, h) } else { (h, r) };
        out[dst * row_len..(dst + 1) * row_len].copy_from_slice(&data[src * row_len..(src + 1) * row_len]);
    }
    out
}

/// Number of heads whose rows a GGUF tensor of `role` holds permuted (llama's Q and K), if any.
pub fn gguf_permuted_heads(hp: &HParams, role: Role) -> Option<usize> {
    permuted_heads(hp.arch, hp, role)
}

/// GGUF values of `role` (dequantized, row-major `shape`) to Hugging Face's.
pub fn gguf_to_hf(hp: &HParams, role: Role, shape: &[usize], data: Vec<f32>) -> Vec<f32> {
    convert(hp, role, shape, data, true)
}

/// Hugging Face values of `role` to what llama.cpp expects in a GGUF.
pub fn hf_to_gguf(hp: &HParams, role: Role, shape: &[usize], data: Vec<f32>) -> Vec<f32> {
    convert(hp, role, shape, data, false)
}

fn convert(hp: &HParams, role: Role, shape: &[usize], mut data: Vec<f32>, to_hf: bool) -> Vec<f32> {
    if let Some(n) = permuted_heads(hp.arch, hp, role) {
        data = permute_rows(&data, shape[0], n, to_hf);
    }
    let offset = hp.arch.gguf_norm_offset();
    if offset != 0.0 && role.is_norm() {
        let delta = if to_hf { -offset } else { offset };
        data.iter_mut().for_each(|x| *x += delta);
    }
    data
}

/// A Hugging Face tensor of `role` (row-major `shape`) in the canonical layout.
pub fn hf_to_canonical(hp: &HParams, role: Role, shape: &[usize], data: Vec<f32>) -> (Vec<usize>, Vec<f32>) {
    match hp.arch.hf_layout(role) {
        Layout::Plain => (shape.to_vec(), data),
        Layout::Conv1D => (vec![shape[1], shape[0]], transpose(&data, shape[0], shape[1])),
        Layout::QkvPerHead => (shape.to_vec(), qkv_per_head(&data, hp.n_heads, shape[0], true)),
    }
}

/// The canonical tensor of `role` as Hugging Face files store it, with its stored shape.
pub fn canonical_to_hf(hp: &HParams, role: Role, shape: &[usize], data: Vec<f32>) -> (Vec<usize>, Vec<f32>) {
    match hp.arch.hf_layout(role) {
        Layout::Plain => (shape.to_vec(), data),
        Layout::Conv1D => (vec![shape[1], shape[0]], transpose(&data, shape[0], shape[1])),
        Layout::QkvPerHead => (shape.to_vec(), qkv_per_head(&data, hp.n_heads, shape[0], false)),
    }
}

/// The shape a Hugging Face file stores for a canonical `shape` of `role`, and the canonical
/// shape of a stored one (the only change of shape, Conv1D's transpose, is its own inverse).
pub fn hf_shape(arch: Arch, role: Role, shape: &[usize]) -> Vec<usize> {
    match arch.hf_layout(role) {
        Layout::Conv1D => vec![shape[1], shape[0]],
        _ => shape.to_vec(),
    }
}

/// `[rows, cols]` to `[cols, rows]`.
fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}

/// GPT-NeoX's fused rows: per head q, k, v (`to_canonical`: into all q, all k, all v; or back).
fn qkv_per_head(data: &[f32], n_heads: usize, n_rows: usize, to_canonical: bool) -> Vec<f32> {
    let row_len = data.len() / n_rows;
    let hd = n_rows / (3 * n_heads);
    let mut out = vec![0f32; data.len()];
    for h in 0..n_heads {
        for j in 0..3 {
            for k in 0..hd {
                let per_head = h * 3 * hd + j * hd + k;
                let stacked = j * n_heads * hd + h * hd + k;
                let (src, dst) = if to_canonical { (per_head, stacked) } else { (stacked, per_head) };
                out[dst * row_len..(dst + 1) * row_len].copy_from_slice(&data[src * row_len..(src + 1) * row_len]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neox_rows_and_conv1d_round_trip() {
        // Two heads of two rows: HF q0 q0 k0 k0 v0 v0 q1 q1 k1 k1 v1 v1 -> q0 q0 q1 q1 k0 ...
        let hf: Vec<f32> = (0..12).map(|x| x as f32).collect();
        let c = qkv_per_head(&hf, 2, 12, true);
        assert_eq!(c, vec![0., 1., 6., 7., 2., 3., 8., 9., 4., 5., 10., 11.]);
        assert_eq!(qkv_per_head(&c, 2, 12, false), hf);
        assert_eq!(transpose(&[1., 2., 3., 4., 5., 6.], 2, 3), vec![1., 4., 2., 5., 3., 6.]);
    }

    /// The permutation is convert_hf_to_gguf.py's: reshape(n_head, 2, hd/2, ...).swapaxes(1, 2).
    #[test]
    fn permutation_matches_convert_script() {
        // One head of 8 rows: HF rows [0..4) are the first rotary half, [4..8) the second.
        // GGUF interleaves them: 0,4,1,5,2,6,3,7.
        let hf: Vec<f32> = (0..8).map(|x| x as f32).collect();
        let gguf = permute_rows(&hf, 8, 1, false);
        assert_eq!(gguf, vec![0., 4., 1., 5., 2., 6., 3., 7.]);
        assert_eq!(permute_rows(&gguf, 8, 1, true), hf);
        // Two heads, rows of two values: heads are permuted independently.
        let hf: Vec<f32> = (0..16).map(|x| x as f32).collect();
        let gguf = permute_rows(&hf, 8, 2, false);
        assert_eq!(&gguf[..8], &[0., 1., 4., 5., 2., 3., 6., 7.]);
        assert_eq!(&gguf[8..], &[8., 9., 12., 13., 10., 11., 14., 15.]);
    }
}
