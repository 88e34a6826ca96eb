//! Unquantized storage: F32, F16 and BF16 (little endian).

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
