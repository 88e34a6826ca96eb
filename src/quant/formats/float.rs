//! Unquantized storage: F32, F16 and BF16 (little endian), as "blocks" of one weight.

use super::block::{GgmlBlock, VecDotType};

/// F32 in the block-format table; copied as is (`memcpy` in `ggml_quantize_chunk`).
pub struct F32;

impl GgmlBlock for F32 {
    const NAME: &'static str = "F32";
    const BLOCK_SIZE: usize = 1;
    const QUANTIZED: bool = false;
    const VEC_DOT: VecDotType = VecDotType::F32;
    type Block = [u8; 4];

    fn dequantize(blocks: &[[u8; 4]], y: &mut [f32]) {
        dequantize_f32(bytemuck::cast_slice(blocks), y)
    }
    fn quantize_ref(x: &[f32], out: &mut [[u8; 4]]) {
        quantize_f32(x, bytemuck::cast_slice_mut(out))
    }
}

/// F16 in the block-format table.
pub struct F16;

impl GgmlBlock for F16 {
    const NAME: &'static str = "F16";
    const BLOCK_SIZE: usize = 1;
    const QUANTIZED: bool = false;
    const VEC_DOT: VecDotType = VecDotType::F16;
    type Block = [u8; 2];

    fn dequantize(blocks: &[[u8; 2]], y: &mut [f32]) {
        dequantize_f16(bytemuck::cast_slice(blocks), y)
    }
    fn quantize_ref(x: &[f32], out: &mut [[u8; 2]]) {
        quantize_f16(x, bytemuck::cast_slice_mut(out))
    }
}

/// BF16 in the block-format table.
pub struct BF16;

impl GgmlBlock for BF16 {
    const NAME: &'static str = "BF16";
    const BLOCK_SIZE: usize = 1;
    const QUANTIZED: bool = false;
    const VEC_DOT: VecDotType = VecDotType::BF16;
    type Block = [u8; 2];

    fn dequantize(blocks: &[[u8; 2]], y: &mut [f32]) {
        dequantize_bf16(bytemuck::cast_slice(blocks), y)
    }
    fn quantize_ref(x: &[f32], out: &mut [[u8; 2]]) {
        quantize_bf16(x, bytemuck::cast_slice_mut(out))
    }
}

pub fn dequantize_f32(src: &[u8], dst: &mut [f32]) {
    for (o, b) in dst.iter_mut().zip(src.chunks_exact(4)) {
        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

pub fn dequantize_f16(src: &[u8], dst: &mut [f32]) {
    use half::slice::HalfFloatSliceExt;
    // Aligned input goes through half's slice conversion (F16C instructions when the CPU has
    // them, detected at run time); the scalar loop is the reference and the fallback.
    if let Ok(h) = bytemuck::try_cast_slice::<u8, half::f16>(src) {
        h.convert_to_f32_slice(dst);
        return;
    }
    dequantize_f16_ref(src, dst);
}

/// Scalar reference for F16.
pub fn dequantize_f16_ref(src: &[u8], dst: &mut [f32]) {
    for (o, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *o = super::f16_le([b[0], b[1]]);
    }
}

/// BF16 is the top half of an f32: widening is exact.
pub fn dequantize_bf16(src: &[u8], dst: &mut [f32]) {
    for (o, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *o = f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16);
    }
}

/// `ggml_compute_fp32_to_fp16`: round to nearest even, overflow to infinity, every NaN to the
/// quiet NaN 0x7E00 (with the input's sign). Same bits as `half::f16::from_f32` except NaN payloads.
#[inline]
pub fn fp32_to_fp16(f: f32) -> u16 {
    let scale_to_inf = f32::from_bits(0x7780_0000); // 0x1.0p+112
    let scale_to_zero = f32::from_bits(0x0880_0000); // 0x1.0p-110
    let mut base = (f.abs() * scale_to_inf) * scale_to_zero;
    let w = f.to_bits();
    let shl1_w = w.wrapping_add(w);
    let sign = w & 0x8000_0000;
    let bias = (shl1_w & 0xFF00_0000).max(0x7100_0000);
    base += f32::from_bits((bias >> 1) + 0x0780_0000);
    let bits = base.to_bits();
    let exp_bits = (bits >> 13) & 0x0000_7C00;
    let mantissa_bits = bits & 0x0000_0FFF;
    let nonsign = exp_bits + mantissa_bits;
    ((sign >> 16) | if shl1_w > 0xFF00_0000 { 0x7E00 } else { nonsign }) as u16
}

/// `ggml_compute_fp32_to_bf16`: round to nearest even; NaN keeps its top bits and is quieted.
#[inline]
pub fn fp32_to_bf16(f: f32) -> u16 {
    let u = f.to_bits();
    if u & 0x7fff_ffff > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    (u.wrapping_add(0x7fff + ((u >> 16) & 1)) >> 16) as u16
}

/// F32 passthrough (`memcpy` in `ggml_quantize_chunk`).
pub fn quantize_f32(src: &[f32], dst: &mut [u8]) {
    for (o, v) in dst.chunks_exact_mut(4).zip(src) {
        o.copy_from_slice(&v.to_le_bytes());
    }
}

/// `ggml_fp32_to_fp16_row`.
pub fn quantize_f16(src: &[f32], dst: &mut [u8]) {
    for (o, v) in dst.chunks_exact_mut(2).zip(src) {
        o.copy_from_slice(&fp32_to_fp16(*v).to_le_bytes());
    }
}

/// `ggml_fp32_to_bf16_row_ref`.
pub fn quantize_bf16(src: &[f32], dst: &mut [u8]) {
    for (o, v) in dst.chunks_exact_mut(2).zip(src) {
        o.copy_from_slice(&fp32_to_bf16(*v).to_le_bytes());
    }
}
