//! Ignored tests that load the real ggml (libggml-base.so, built by scripts/build-llama-cpp.sh)
//! with `dlopen`: a fuzz comparison on many more rows than the golden fixture holds, and a
//! single-thread throughput comparison. Library path: `$SINKQUANT_GGML_LIB`, else
//! `~/.cache/llama-cpp-ref/bin/libggml-base.so`; the tests skip when it is absent.
//! Run: cargo test --release --lib quant::formats::quant_ggml_ffi -- --ignored --nocapture

use super::quant_tests::{differing_blocks, quantize_vec, Rng};
use super::{quantize_row, GgmlType};
use std::ffi::{c_char, c_int, c_void, CString};
use std::time::Instant;

extern "C" {
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

type QuantizeChunk = unsafe extern "C" fn(c_int, *const f32, *mut c_void, i64, i64, i64, *const f32) -> usize;

/// `ggml_quantize_chunk` from the reference library, or `None` if it is not there.
fn ggml_quantize_chunk() -> Option<QuantizeChunk> {
    let path = std::env::var("SINKQUANT_GGML_LIB")
        .unwrap_or_else(|_| format!("{}/.cache/llama-cpp-ref/bin/libggml-base.so", std::env::var("HOME").unwrap()));
    let cpath = CString::new(path.clone()).unwrap();
    // SAFETY: plain dlopen/dlsym of a C library; the symbol's signature is ggml's (ggml.h).
    unsafe {
        let h = dlopen(cpath.as_ptr(), 2 /* RTLD_NOW */);
        if h.is_null() {
            eprintln!("skipped: cannot load {path}");
            return None;
        }
        let f = dlsym(h, c"ggml_quantize_chunk".as_ptr());
        assert!(!f.is_null(), "no ggml_quantize_chunk in {path}");
        Some(std::mem::transmute::<*mut c_void, QuantizeChunk>(f))
    }
}

fn ggml(f: QuantizeChunk, ty: GgmlType, x: &[f32], n_per_row: usize, qw: Option<&[f32]>) -> Vec<u8> {
    let nrows = x.len() / n_per_row;
    let mut out = vec![0u8; nrows * ty.row_bytes(n_per_row).unwrap()];
    let qw = qw.map_or(std::ptr::null(), |w| w.as_ptr());
    // SAFETY: buffers sized as ggml_row_size says; ggml reads x and qw, writes out.
    let n = unsafe { f(ty.id() as c_int, x.as_ptr(), out.as_mut_ptr().cast(), 0, nrows as i64, n_per_row as i64, qw) };
    assert_eq!(n, out.len());
    out
}

/// Rows mixing Gaussian, heavy-tailed, shifted, sparse, constant, tiny and subnormal blocks.
fn fuzz_rows(rng: &mut Rng, nrows: usize, n_per_row: usize) -> Vec<f32> {
    let mut x = rng.weights(nrows * n_per_row, n_per_row);
    for block in x.chunks_mut(32) {
        match (rng.uniform() * 14.0) as u32 {
            0 => block.iter_mut().for_each(|v| *v = 0.0),
            1 => block.iter_mut().for_each(|v| *v *= 1e-5),
            2 => block.iter_mut().for_each(|v| *v = v.abs() + 0.01),
            3 => block.iter_mut().for_each(|v| *v = -v.abs()),
            4 => block.iter_mut().for_each(|v| *v = *v * *v * *v * 10.0),
            5 => block.iter_mut().enumerate().for_each(|(i, v)| *v = if i == 7 { 1.0 } else { 0.0 }),
            6 => block.iter_mut().for_each(|v| *v = 0.125),
            7 => block[3] *= 100.0,
            8 => block.iter_mut().for_each(|v| *v *= 1e-38), // subnormal
            9 => block.iter_mut().for_each(|v| *v = v.abs() * 1e-38 - 1e-39),
            _ => {}
        }
    }
    x
}

#[test]
#[ignore]
fn fuzz_against_libggml() {
    let Some(f) = ggml_quantize_chunk() else { return };
    let mut rng = Rng(0xC0FFEE);
    for n_per_row in [256, 512, 4096] {
        let nrows = (1 << 20) / n_per_row;
        let x = fuzz_rows(&mut rng, nrows, n_per_row);
        let qw = rng.imatrix(n_per_row);
        for ty in GgmlType::ALL {
            for imatrix in [None, Some(&qw[..])] {
                let want = ggml(f, ty, &x, n_per_row, imatrix);
                let bad = differing_blocks(ty, &quantize_vec(ty, &x, n_per_row, imatrix), &want);
                let n = want.len() / ty.type_size();
                eprintln!(
                    "{ty:<5} n_per_row {n_per_row:<5} imatrix {:<5} {}/{n} blocks differ",
                    imatrix.is_some(),
                    bad.len()
                );
                assert!(bad.is_empty(), "{ty}: blocks {:?} differ", &bad[..bad.len().min(10)]);
            }
        }
    }
}

#[test]
#[ignore]
fn throughput_vs_libggml() {
    let f = ggml_quantize_chunk();
    let only = std::env::var("SINKQUANT_BENCH_TYPES").ok();
    let n_per_row = 4096;
    let x = Rng(1).weights(1 << 20, n_per_row);
    let qw = Rng(2).imatrix(n_per_row);
    let mb = (x.len() * 4) as f64 / 1e6;
    for ty in GgmlType::ALL.into_iter().filter(|t| only.as_ref().is_none_or(|o| o.split(',').any(|n| n == t.name()))) {
        for imatrix in [None, Some(&qw[..])] {
            let rb = ty.row_bytes(n_per_row).unwrap();
            let mut out = vec![0u8; x.len() / n_per_row * rb];
            let (mut ours, mut theirs) = (0f64, f64::NAN);
            // Best of 3, alternating, on this thread: the machine may be shared.
            for _ in 0..3 {
                let t = Instant::now();
                for (s, d) in x.chunks(n_per_row).zip(out.chunks_mut(rb)) {
                    quantize_row(ty, s, imatrix, d);
                }
                ours = ours.max(mb / t.elapsed().as_secs_f64());
                if let Some(f) = f {
                    let t = Instant::now();
                    std::hint::black_box(ggml(f, ty, &x, n_per_row, imatrix));
                    theirs = (mb / t.elapsed().as_secs_f64()).max(if theirs.is_nan() { 0.0 } else { theirs });
                }
            }
            eprintln!(
                "{ty:<5} imatrix {:<5} sinkquant {ours:>8.1} MB/s   libggml {theirs:>8.1} MB/s  ({:.2}x; 1 thread, f32 input)",
                imatrix.is_some(),
                ours / theirs
            );
        }
    }
}
