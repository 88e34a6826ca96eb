//! The one interface every ggml storage type implements, and its object-safe view.
//!
//! Each type's file (`q4_0.rs`, ..., `float.rs`) defines a zero-sized struct implementing
//! [`GgmlBlock`]: its geometry as associated consts and its block-level kernels as functions on
//! its `#[repr(C)]` block struct. The blanket impl turns that into a [`BlockFormat`] working on
//! raw bytes, which `GgmlType::format` hands out as `&'static dyn BlockFormat` from the one
//! registration table in `ggml_type.rs`. Dynamic dispatch happens once per row (quantization) or
//! per tile of rows (dequantization); inside, the kernels are monomorphized, so the loops compile
//! exactly as the direct calls did.

use super::codes::Grid;
use bytemuck::Pod;

/// What ggml rounds activations to before its dot product with weights of a type (the type's
/// `vec_dot_type` in ggml-cpu.c's `type_traits_cpu`).
#[allow(non_camel_case_types)] // ggml's names
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VecDotType {
    /// F32 weights: activations stay f32.
    F32,
    F16,
    BF16,
    /// Blocks of 32 with an fp16 scale (the legacy types).
    Q8_0,
    /// Blocks of 256 with an f32 scale (the k-quants).
    Q8_K,
}

/// A ggml storage type, implemented by a zero-sized struct in the type's file. The scalar
/// kernels are the reference ports of ggml-quants.c; `quantize_ref` and `quantize_weighted` are
/// the two halves of ggml's `quantize_<type>` (`quant_weights == NULL` or not).
pub trait GgmlBlock: Sync + 'static {
    /// ggml's name of the type (`type_name` in ggml.c's `type_traits`).
    const NAME: &'static str;
    /// Weights per block (`blck_size`).
    const BLOCK_SIZE: usize;
    /// Block-quantized, as opposed to a float type (`is_quantized`).
    const QUANTIZED: bool = true;
    /// How activations are rounded before meeting these weights.
    const VEC_DOT: VecDotType;
    /// One block as stored: all byte arrays, so alignment 1 and viewable inside a memory-mapped
    /// file; its size is ggml's `type_size`.
    type Block: Pod;

    /// `dequantize_row_*`: `y` has `BLOCK_SIZE` weights per block.
    fn dequantize(blocks: &[Self::Block], y: &mut [f32]);

    /// `quantize_row_*_ref`: `x` has `BLOCK_SIZE` weights per block of `out`.
    fn quantize_ref(x: &[f32], out: &mut [Self::Block]);

    /// `quantize_row_*_impl` for one row, with `qw` one importance weight per element of `x`.
    /// Types ggml quantizes without weights either way (Q8_0 and the floats) keep this default.
    fn quantize_weighted(x: &[f32], qw: &[f32], out: &mut [Self::Block]) {
        let _ = qw;
        Self::quantize_ref(x, out)
    }

    /// The values block `b`'s scales allow its weights (`codes.rs`); `None` for the floats.
    fn grid(b: &Self::Block) -> Option<Grid> {
        let _ = b;
        None
    }

    /// Stores `codes` (one per weight, within the grid's range) in `b`, keeping its scales.
    /// Only called for types with a grid.
    fn set_codes(b: &mut Self::Block, codes: &[i32]) {
        let _ = (b, codes);
    }
}

/// A ggml type's block format over raw bytes: what the rest of the crate calls, through
/// `GgmlType::format`. Implemented for every [`GgmlBlock`]; callers check lengths first
/// (`GgmlType::row_bytes`), and a byte slice that is not whole blocks panics.
pub trait BlockFormat: Sync {
    fn name(&self) -> &'static str;
    /// Weights per block.
    fn block_size(&self) -> usize;
    /// Bytes per block.
    fn type_size(&self) -> usize;
    fn is_quantized(&self) -> bool;
    fn vec_dot_type(&self) -> VecDotType;
    /// Dequantizes whole blocks `src` into `dst`, one f32 per weight.
    fn dequantize(&self, src: &[u8], dst: &mut [f32]);
    /// Quantizes `src` into whole blocks `dst`: the reference quantizer without `imatrix`, the
    /// importance-weighted one with it (one weight per element of `src`).
    fn quantize(&self, src: &[f32], imatrix: Option<&[f32]>, dst: &mut [u8]);
    /// The grid of one block's bytes `block` (`codes.rs`); `None` for the float types.
    fn grid(&self, block: &[u8]) -> Option<Grid>;
    /// Stores one code per weight in one block's bytes, keeping its scales.
    fn set_codes(&self, block: &mut [u8], codes: &[i32]);
}

impl<T: GgmlBlock> BlockFormat for T {
    fn name(&self) -> &'static str {
        T::NAME
    }
    fn block_size(&self) -> usize {
        T::BLOCK_SIZE
    }
    fn type_size(&self) -> usize {
        std::mem::size_of::<T::Block>()
    }
    fn is_quantized(&self) -> bool {
        T::QUANTIZED
    }
    fn vec_dot_type(&self) -> VecDotType {
        T::VEC_DOT
    }
    fn dequantize(&self, src: &[u8], dst: &mut [f32]) {
        T::dequantize(bytemuck::cast_slice(src), dst)
    }
    fn quantize(&self, src: &[f32], imatrix: Option<&[f32]>, dst: &mut [u8]) {
        let out = bytemuck::cast_slice_mut(dst);
        assert_eq!(src.len(), out.len() * T::BLOCK_SIZE, "quantize {}: length mismatch", T::NAME);
        match imatrix {
            None => T::quantize_ref(src, out),
            Some(qw) => T::quantize_weighted(src, qw, out),
        }
    }
    fn grid(&self, block: &[u8]) -> Option<Grid> {
        T::grid(bytemuck::from_bytes(block))
    }
    fn set_codes(&self, block: &mut [u8], codes: &[i32]) {
        assert_eq!(codes.len(), T::BLOCK_SIZE, "set_codes {}: one code per weight", T::NAME);
        T::set_codes(bytemuck::from_bytes_mut(block), codes)
    }
}
