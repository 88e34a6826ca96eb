//! compressed-tensors' `pack-quantized` format (what llm-compressor writes and vLLM loads) for
//! int4 and int8 weights, per output channel or per group of input columns.
//!
//! Layout, as compressed-tensors 0.20.0 writes and reads it
//! (`compressors/pack_quantized/{base,helpers}.py`, `quantization/lifecycle/forward.py`):
//! - `weight_packed`: I32 `[rows, ceil(cols * bits / 32)]`. Each value `q` in `[qmin, qmax]`
//!   (`-8..=7` for 4 bits, `-128..=127` for 8) is stored as `q + 2^(bits-1)`; element `j` of a
//!   row occupies bits `j * bits .. (j + 1) * bits` of the row's bit stream, counted from the
//!   least significant bit of word 0 (for 4 bits: word `j / 8`, nibble `j % 8`, low nibble
//!   first). Padding bits are 0.
//! - `weight_scale`: the model's dtype (BF16 for a BF16 model), `[rows, 1]` per channel,
//!   `[rows, cols / group_size]` per group.
//! - `weight_zero_point` (asymmetric only): int8 values packed like the weights but along the
//!   rows: I32 `[ceil(rows * bits / 32), n_groups]`.
//! - `weight_shape`: I64 `[2]` = `[rows, cols]`.
//!
//! Dequantization is `(q - zp) * scale` computed in the scale's dtype (so the product is rounded
//! to BF16 for a BF16 scale). Quantization is `clamp(round_half_even(x / scale) + zp, qmin, qmax)`
//! with compressed-tensors' min-max parameters: symmetric `scale = absmax / ((qmax - qmin) / 2)`
//! (absmax / 7.5 for 4 bits), asymmetric `scale = (max - min) / (qmax - qmin)`,
//! `zp = round(clamp(qmin - min / scale, qmin, qmax))`, range widened to include 0, and a zero//!
//! One folder for the format: the scheme math ([`scheme`], [`pack`], [`quantize`]), the tensor
//! names of a packed layer ([`names`], spelled once), `config.json`'s `quantization_config`
//! ([`config`]), the reader of such checkpoints ([`reader`]), the writer of one layer's
//! tensors ([`writer`]), and GPTQ on its grids ([`gptq`]).

pub mod config;
pub mod gptq;
pub mod names;
pub mod pack;
pub mod quantize;
pub mod reader;
pub mod scheme;
pub mod writer;

pub use config::{quantization_config, COMPRESSED_TENSORS_VERSION};
pub use pack::{pack, pack_zero_points, unpack, unpack_zero_points};
pub use quantize::{dequantize, dequantize_with, quantize};
pub use reader::{CompressedTensors, Layer};
pub use scheme::{Packed, ScaleDtype, Scheme};
pub use writer::{layer_tensors, planned_layer};

#[cfg(test)]
mod tests;
