//! The reversible changes llama.cpp's converter makes to Hugging Face weights, and their
//! inverses. sinkquant's canonical layout is Hugging Face's.

use super::arch::Arch;
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

#[cfg(test)]
mod tests {
    use super::*;

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
