//! The ggml type ids sinkquant reads, and their block geometry.

use std::fmt;

/// A ggml tensor type that sinkquant can dequantize. The discriminants are ggml's ids
/// (`enum ggml_type` in ggml.h).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    BF16 = 30,
}

/// Names of ggml ids that exist but sinkquant does not handle, for error messages.
fn known_unsupported(id: u32) -> Option<&'static str> {
    Some(match id {
        9 => "Q8_1",
        15 => "Q8_K",
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        34 => "TQ1_0",
        35 => "TQ2_0",
        39 => "MXFP4",
        _ => return None,
    })
}

impl GgmlType {
    pub const ALL: [GgmlType; 13] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
    ];

    /// The type for a ggml id, or a message saying why it cannot be read.
    pub fn from_id(id: u32) -> Result<Self, String> {
        if let Some(t) = Self::ALL.iter().find(|t| **t as u32 == id) {
            return Ok(*t);
        }
        Err(match known_unsupported(id) {
            Some(name) => format!("ggml type {name} ({id})"),
            None => format!("unknown ggml type id {id}"),
        })
    }

    pub fn id(self) -> u32 {
        self as u32
    }

    /// Weights per block.
    pub fn block_size(self) -> usize {
        match self {
            GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => 1,
            GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q5_0 | GgmlType::Q5_1 | GgmlType::Q8_0 => 32,
            _ => super::QK_K,
        }
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        use std::mem::size_of;
        match self {
            GgmlType::F32 => 4,
            GgmlType::F16 | GgmlType::BF16 => 2,
            GgmlType::Q4_0 => size_of::<super::q4_0::BlockQ4_0>(),
            GgmlType::Q4_1 => size_of::<super::q4_1::BlockQ4_1>(),
            GgmlType::Q5_0 => size_of::<super::q5_0::BlockQ5_0>(),
            GgmlType::Q5_1 => size_of::<super::q5_1::BlockQ5_1>(),
            GgmlType::Q8_0 => size_of::<super::q8_0::BlockQ8_0>(),
            GgmlType::Q2_K => size_of::<super::q2_k::BlockQ2K>(),
            GgmlType::Q3_K => size_of::<super::q3_k::BlockQ3K>(),
            GgmlType::Q4_K => size_of::<super::q4_k::BlockQ4K>(),
            GgmlType::Q5_K => size_of::<super::q5_k::BlockQ5K>(),
            GgmlType::Q6_K => size_of::<super::q6_k::BlockQ6K>(),
        }
    }

    /// Bytes taken by `n` weights, or `None` if `n` is not a whole number of blocks or overflows.
    pub fn row_bytes(self, n: usize) -> Option<usize> {
        if n % self.block_size() != 0 {
            return None;
        }
        (n / self.block_size()).checked_mul(self.type_size())
    }

    /// Block-quantized (not a float type).
    pub fn is_quantized(self) -> bool {
        !matches!(self, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)
    }

    /// Storage cost in bits per weight.
    pub fn bits_per_weight(self) -> f64 {
        self.type_size() as f64 * 8.0 / self.block_size() as f64
    }

    pub fn name(self) -> &'static str {
        match self {
            GgmlType::F32 => "F32",
            GgmlType::F16 => "F16",
            GgmlType::BF16 => "BF16",
            GgmlType::Q4_0 => "Q4_0",
            GgmlType::Q4_1 => "Q4_1",
            GgmlType::Q5_0 => "Q5_0",
            GgmlType::Q5_1 => "Q5_1",
            GgmlType::Q8_0 => "Q8_0",
            GgmlType::Q2_K => "Q2_K",
            GgmlType::Q3_K => "Q3_K",
            GgmlType::Q4_K => "Q4_K",
            GgmlType::Q5_K => "Q5_K",
            GgmlType::Q6_K => "Q6_K",
        }
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
