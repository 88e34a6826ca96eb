//! ggml's tensor storage types: ids, block geometry, dequantization to f32 and quantization
//! from f32.
//!
//! Each block type lives in its own file with a `#[repr(C)]` block struct whose size is pinned
//! at compile time and whose field names follow ggml (`d`, `dmin`, `qs`, `qh`, `scales`). Every
//! field is a byte array, so blocks have alignment 1 and can be viewed in place inside a
//! memory-mapped file with `bytemuck`. The file's zero-sized struct (`q4_0::Q4_0`, ...)
//! implements `GgmlBlock` (`block.rs`) and has one line in the registration table of
//! `ggml_type.rs`, through which `GgmlType::format` dispatches, once per row or tile. The scalar
//! `dequantize` of each file is the reference: a line-by-line port of `dequantize_row_*` in
//! ggml/src/ggml-quants.c (ggml 0.25.3, as vendored in llama-cpp-python 0.3.36), keeping its
//! order of floating-point operations so results are bit-identical to llama.cpp's. Next to it,
//! the quantizers port `quantize_row_*_ref` (no imatrix) and `quantize_row_*_impl` (with one);
//! the scale searches they share are in `search.rs` and `search_qkx.rs`, the legacy types' block
//! scans in `scan.rs`, and the row-parallel entry point `quantize_rows` in `quantize.rs`. The
//! output is `ggml_quantize_chunk`'s, bit for bit (`quant_tests.rs`, `quant_ggml_ffi.rs`); where
//! the code departs from ggml's loops for speed, it says why the result cannot change.

// Index loops mirror ggml's C loops, which keeps the ports checkable line by line.
#![allow(clippy::needless_range_loop)]

pub mod block;
pub mod codes;
pub mod float;
pub mod iq4_nl;
pub mod iq4_xs;
pub mod q2_k;
pub mod q3_k;
pub mod q4_0;
pub mod q4_1;
pub mod q4_k;
pub mod q5_0;
pub mod q5_1;
pub mod q5_k;
pub mod q6_k;
pub mod q8_0;

mod ggml_type;
#[cfg(test)]
mod quant_ggml_ffi;
#[cfg(test)]
pub(crate) mod quant_tests;
mod quantize;
mod scan;
mod search;
mod search_qkx;
#[cfg(test)]
mod tests;
pub use block::{BlockFormat, GgmlBlock, VecDotType};
pub use codes::Grid;
pub use ggml_type::{GgmlType, UnknownGgmlType};
pub use quantize::{quantize_row, quantize_rows};

/// Number of weights in a k-quant super-block.
pub const QK_K: usize = 256;

/// ggml's fp16 bytes (little endian) to f32.
#[inline]
pub(crate) fn f16_le(b: [u8; 2]) -> f32 {
    half::f16::from_bits(u16::from_le_bytes(b)).to_f32()
}

/// f32 to ggml's fp16 bytes (little endian), rounding like `GGML_FP32_TO_FP16`.
#[inline]
pub(crate) fn f16_bytes(f: f32) -> [u8; 2] {
    float::fp32_to_fp16(f).to_le_bytes()
}

/// C's float-to-int conversion as ggml's x86-64 build performs it (`cvttss2si`): truncation
/// toward zero, and `INT_MIN` for NaN and out-of-range values, where Rust's `as` would saturate.
/// Reachable with subnormal blocks, whose inverse scale overflows to infinity.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))] // x86-64 has the instruction itself
#[inline(always)]
pub(crate) fn c_trunc(v: f32) -> i32 {
    if (-2147483648.0..2147483648.0).contains(&v) {
        v as i32
    } else {
        i32::MIN
    }
}

/// `f` of every element: `<[T; N]>::map` as a loop that always inlines (`map` may not).
#[inline(always)]
pub(crate) fn each<const N: usize, T: Copy, U: Copy + Default>(x: &[T; N], f: impl Fn(T) -> U) -> [U; N] {
    let mut out = [U::default(); N];
    for i in 0..N {
        out[i] = f(x[i]);
    }
    out
}

/// `c_trunc` of every element, four at a time with SSE2's `cvttps2dq` (the same instruction) on
/// x86-64.
#[inline(always)]
pub(crate) fn c_trunc_block<const N: usize>(v: &[f32; N]) -> [i32; N] {
    let mut out = [0i32; N];
    #[cfg(target_arch = "x86_64")]
    for (o, v) in out.chunks_exact_mut(4).zip(v.chunks_exact(4)) {
        use std::arch::x86_64::{_mm_cvttps_epi32, _mm_loadu_ps, _mm_storeu_si128};
        // SAFETY: SSE2 is part of x86-64; both pointers address 4 elements.
        #[allow(unused_unsafe)]
        unsafe {
            _mm_storeu_si128(o.as_mut_ptr().cast(), _mm_cvttps_epi32(_mm_loadu_ps(v.as_ptr())));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for (o, v) in out.iter_mut().zip(v) {
        *o = c_trunc(*v);
    }
    out
}

/// `sum(x*x) / n_per_row`, the row variance term of the legacy `quantize_row_*_impl`.
pub(crate) fn row_sigma2(x: &[f32]) -> f32 {
    let mut sum_x2 = 0f32;
    for v in x {
        sum_x2 += v * v;
    }
    sum_x2 / x.len() as f32
}

/// Sub-block `j` of length `N`.
#[inline(always)]
pub(crate) fn sub<const N: usize>(x: &[f32], j: usize) -> &[f32; N] {
    x[N * j..N * j + N].try_into().unwrap()
}

/// Mutable sub-block `j` of length `N`.
#[inline(always)]
pub(crate) fn sub_mut<const N: usize, T>(x: &mut [T], j: usize) -> &mut [T; N] {
    (&mut x[N * j..N * j + N]).try_into().unwrap()
}

/// Unpacks the 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K block
/// (`get_scale_min_k4` in ggml-quants.c).
#[inline]
pub(crate) fn scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// Dequantizes `src`, a whole number of blocks of type `ty`, into `dst` (one f32 per weight).
/// Panics if the lengths disagree: callers size both from the same validated shape.
pub fn dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) {
    assert_eq!(Some(src.len()), ty.row_bytes(dst.len()), "dequantize: {ty} length mismatch");
    ty.format().dequantize(src, dst)
}
