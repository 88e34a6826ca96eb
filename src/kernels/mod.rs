//! Matrix multiplication on 8-bit integer codes: `y = x W^T` with W in a stored ggml block type
//! and x rounded once per matmul to ggml's 8-bit activation blocks, as llama.cpp computes it.
//!
//! - `act`: the activations' codes and scales (Q8_0 or Q8_K rounding);
//! - `unpack`: a weight row of any supported type into one shared form (blocks of 32 codes, a
//!   scale, half-block integer scales and offsets);
//! - `tile`: a band of such rows interleaved eight at a time;
//! - `scalar`: the reference dot product of that layout, the spec;
//! - `avx2`: the same with AVX2 (chosen at run time; tested against `scalar`);
//! - `gemm`: bands of rows over the threads, token groups inside, offsets;
//! - `float`: the other weights (F32, F16, BF16, ...): each band dequantized to f32 on its
//!   thread and multiplied by faer's GEMM;
//! - `bands`: the bands over rayon's threads and the output layout both drivers share;
//! - `exp`: a vectorised `exp` for the softmaxes (the logits' log-softmax, attention).
//!
//! Unpacking costs one pass over the weights per matmul, shared by all its tokens; the codes
//! take one byte per weight, a quarter of the f32 tiles the float path multiplies.

pub mod act;
mod avx2;
mod bands;
pub mod exp;
pub mod float;
mod gemm;
pub mod scalar;
#[cfg(test)]
mod tests;
pub mod tile;
pub mod unpack;

pub use act::{ActBlocks, ActFormat};
pub use gemm::matmul;

use crate::quant::formats::GgmlType;

/// The instruction set the dot products run with, found at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    /// AVX2 and FMA.
    Avx2,
}

impl Isa {
    /// The fastest path this CPU has.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
        Isa::Scalar
    }
}

/// Whether weights of `ty` with activations rounded as `fmt` have an integer kernel.
pub fn supports(ty: GgmlType, fmt: ActFormat) -> bool {
    let want = match ty.format().vec_dot_type() {
        crate::quant::formats::VecDotType::Q8_0 => ActFormat::Q8_0,
        crate::quant::formats::VecDotType::Q8_K => ActFormat::Q8K,
        _ => return false,
    };
    want == fmt && unpack::shape(ty).is_some()
}
