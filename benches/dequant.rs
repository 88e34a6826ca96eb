//! Dequantization throughput per ggml type, on 16M weights of random blocks with sane scales.
//! Run: cargo bench --bench dequant     (prints one line per type; no assertions)

use sinkquant::quant::formats::{dequantize, GgmlType};
use std::time::Instant;

fn main() {
    let n = 1 << 24;
    let mut seed = 0x9E3779B97F4A7C15u64;
    for ty in GgmlType::ALL {
        let bytes = ty.row_bytes(n).unwrap();
        let mut src: Vec<u8> = (0..bytes)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        // Keep fp16 fields finite: clear the exponent's top bit of every second byte.
        if ty != GgmlType::F32 {
            src.iter_mut().skip(1).step_by(2).for_each(|b| *b &= 0x3F);
        }
        let mut dst = vec![0f32; n];
        dequantize(ty, &src, &mut dst); // warm up
        let t = Instant::now();
        let reps = 5;
        for _ in 0..reps {
            dequantize(ty, &src, &mut dst);
        }
        let secs = t.elapsed().as_secs_f64() / reps as f64;
        println!(
            "{:<5} {:>7.1} M weights/s  {:>6.2} GB/s of f32 out (1 thread)",
            ty.name(),
            n as f64 / secs / 1e6,
            n as f64 * 4.0 / secs / 1e9
        );
        std::hint::black_box(&dst);
    }
}
