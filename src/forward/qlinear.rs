//! Matrix multiplication with weights kept in their stored (quantized) form.
//!
//! Types with an integer kernel run on `crate::kernels` (8-bit codes, AVX2) where the CPU has
//! one. Otherwise `y = x W^T` is computed band by band (`kernels::float`): each thread
//! dequantizes a band of W's rows into a small f32 buffer and multiplies it with faer's GEMM, so
//! memory stays at the quantized size plus one band per thread. Activations are first rounded the way ggml rounds
//! them before its dot products (its `vec_dot_type`: Q8_0 blocks of 32 for the legacy types,
//! Q8_K blocks of 256 for the k-quants, f16 for F16 weights), so the arithmetic follows
//! llama.cpp's: dequantized weight times dequantized activation, summed.

use crate::kernels::{self, ActBlocks, ActFormat, Isa};
use crate::quant::formats::{GgmlType, VecDotType};
use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

/// How activations are rounded before meeting a weight (ggml's `vec_dot_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActRound {
    None,
    F16,
    BF16,
    /// Blocks of 32, scale amax/127 stored as f16 (llama.cpp's x86 `quantize_row_q8_0`).
    Q8_0,
    /// Blocks of 256, scale -max/127 in f32 (`quantize_row_q8_K_ref`).
    Q8K,
}

impl ActRound {
    /// llama.cpp's vec_dot_type for weights of type `t`.
    pub fn for_weight(t: GgmlType) -> Self {
        match t.format().vec_dot_type() {
            VecDotType::F32 => ActRound::None,
            VecDotType::F16 => ActRound::F16,
            VecDotType::BF16 => ActRound::BF16,
            VecDotType::Q8_0 => ActRound::Q8_0,
            VecDotType::Q8_K => ActRound::Q8K,
        }
    }

    /// The integer kernels' activation blocks for this rounding, if it is 8-bit.
    pub fn kernel_format(self) -> Option<ActFormat> {
        match self {
            ActRound::Q8_0 => Some(ActFormat::Q8_0),
            ActRound::Q8K => Some(ActFormat::Q8K),
            _ => None,
        }
    }

    /// Rounds one row of activations in place.
    pub fn apply(self, x: &mut [f32]) {
        match self {
            ActRound::None => {}
            ActRound::F16 => {
                use half::slice::HalfFloatSliceExt;
                let mut h = vec![half::f16::ZERO; x.len()];
                h.convert_from_f32_slice(x);
                h.convert_to_f32_slice(x);
            }
            ActRound::BF16 => x.iter_mut().for_each(|v| *v = half::bf16::from_f32(*v).to_f32()),
            // The integer kernels' rounding (ggml's quantize_row_q8_0 / q8_K), as values.
            ActRound::Q8_0 => kernels::act::round_in_place(x, ActFormat::Q8_0),
            ActRound::Q8K => kernels::act::round_in_place(x, ActFormat::Q8K),
        }
    }
}

/// A weight matrix `[rows, cols]` (out x in) in its stored type.
pub struct QLinear {
    pub ty: GgmlType,
    pub bytes: crate::io::mmap::SharedBytes,
    pub rows: usize,
    pub cols: usize,
    pub act: ActRound,
}

impl QLinear {
    /// `x [t, cols]` times the transpose: `[t, rows]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, cols) = x.dims2()?;
        if cols != self.cols {
            candle_core::bail!("matmul: input has {cols} features, the weight {}", self.cols);
        }
        if let Some((fmt, isa)) = self.kernel() {
            let t = x.dims2()?.0;
            let acts = ActBlocks::quantize(&x.flatten_all()?.to_vec1::<f32>()?, cols, fmt);
            let y = kernels::matmul(self.ty, &self.bytes, self.rows, cols, &acts, t, isa);
            return Tensor::from_vec(y, (t, self.rows), &Device::Cpu);
        }
        self.forward_float(x, None)
    }

    /// The integer kernel for this weight on this CPU, if there is one faster than the float
    /// path (the scalar reference is not).
    fn kernel(&self) -> Option<(ActFormat, Isa)> {
        let fmt = self.act.kernel_format()?;
        let isa = Isa::detect();
        (isa != Isa::Scalar && kernels::supports(self.ty, fmt)).then_some((fmt, isa))
    }

    /// Rounded activations times f32 bands of the dequantized weight (`kernels::float`).
    fn forward_float(&self, x: &Tensor, band: Option<usize>) -> Result<Tensor> {
        let (t, cols) = x.dims2()?;
        let mut v = x.flatten_all()?.to_vec1::<f32>()?;
        if self.act != ActRound::None {
            v.par_chunks_mut(cols).for_each(|row| self.act.apply(row));
        }
        let y = match band {
            None => kernels::float::matmul(self.ty, &self.bytes, self.rows, cols, &v, t),
            Some(b) => kernels::float::matmul_banded(self.ty, &self.bytes, self.rows, cols, &v, t, b),
        };
        Tensor::from_vec(y, (t, self.rows), &Device::Cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_0_activation_rounding_matches_ggml_reference() {
        // One block: amax 1.27 -> d = 0.01, codes = round(x * 127 / amax), value = code * f16(d).
        let mut x: Vec<f32> = (0..32).map(|i| (i as f32 - 16.0) * 0.0793).collect();
        x[31] = 1.27;
        let orig = x.clone();
        ActRound::Q8_0.apply(&mut x);
        let d16 = half::f16::from_f32(0.01).to_f32();
        for (o, r) in orig.iter().zip(&x) {
            assert_eq!(*r, (o * (127.0 / 1.27)).round_ties_even() * d16);
        }
    }

    #[test]
    fn integer_kernel_agrees_with_float_path() {
        let (rows, cols, t) = (70, 512, 6);
        let w: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
        let x: Vec<f32> = (0..t * cols).map(|i| ((i * 104729) % 1000) as f32 / 500.0 - 1.0).collect();
        let xt = Tensor::from_vec(x, (t, cols), &Device::Cpu).unwrap();
        for ty in [GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K] {
            let mut bytes = vec![0u8; rows * ty.row_bytes(cols).unwrap()];
            crate::quant::formats::quantize_rows(ty, &w, cols, None, &mut bytes);
            let act = ActRound::for_weight(ty);
            let q = QLinear { ty, bytes: crate::io::mmap::SharedBytes::owned(bytes), rows, cols, act };
            if q.kernel().is_none() {
                return; // no SIMD path on this CPU: forward is the float path itself
            }
            let fast = q.forward(&xt).unwrap().to_vec2::<f32>().unwrap();
            let float = q.forward_float(&xt, None).unwrap().to_vec2::<f32>().unwrap();
            for (a, b) in fast.iter().flatten().zip(float.iter().flatten()) {
                assert!((a - b).abs() < 1e-3 * (1.0 + b.abs()), "{ty}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn banded_product_equals_dense_product() {
        let (rows, cols, t) = (300, 64, 3);
        let w: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
        let x: Vec<f32> = (0..t * cols).map(|i| ((i * 104729) % 1000) as f32 / 500.0 - 1.0).collect();
        let q = QLinear {
            ty: GgmlType::F32,
            bytes: crate::io::mmap::SharedBytes::owned(bytemuck::cast_slice(&w).to_vec()),
            rows,
            cols,
            act: ActRound::None,
        };
        let xt = Tensor::from_vec(x.clone(), (t, cols), &Device::Cpu).unwrap();
        // Bands of 7 rows: 43 bands, the last one partial.
        let y = q.forward_float(&xt, Some(7)).unwrap().to_vec2::<f32>().unwrap();
        for i in 0..t {
            for r in 0..rows {
                let want: f32 = (0..cols).map(|k| x[i * cols + k] * w[r * cols + k]).sum();
                assert!((y[i][r] - want).abs() < 1e-4, "{i},{r}: {} vs {want}", y[i][r]);
            }
        }
    }
}
