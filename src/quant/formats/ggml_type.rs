//! The ggml type ids sinkquant reads, and the table mapping each to its block format.

use super::block::BlockFormat;
use super::{float, iq4_nl, iq4_xs, q2_k, q3_k, q4_0, q4_1, q4_k, q5_0, q5_1, q5_k, q6_k, q8_0};
use std::fmt;

/// A ggml tensor type that sinkquant can dequantize. The discriminants are ggml's ids
/// (`enum ggml_type` in ggml.h); each variant has its line in `REGISTRY`.
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
    IQ4_NL = 20,
    IQ4_XS = 23,
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
        21 => "IQ3_S",
        22 => "IQ2_S",
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

/// The one registration table: every supported type with its block format, in the order
/// `GgmlType::ALL` lists them (the order type names are listed in messages). Adding a type is
/// its file implementing `GgmlBlock`, its variant above, and its line here.
const REGISTRY: [(GgmlType, &dyn BlockFormat); 15] = [
    (GgmlType::F32, &float::F32),
    (GgmlType::F16, &float::F16),
    (GgmlType::BF16, &float::BF16),
    (GgmlType::Q4_0, &q4_0::Q4_0),
    (GgmlType::Q4_1, &q4_1::Q4_1),
    (GgmlType::Q5_0, &q5_0::Q5_0),
    (GgmlType::Q5_1, &q5_1::Q5_1),
    (GgmlType::Q8_0, &q8_0::Q8_0),
    (GgmlType::Q2_K, &q2_k::Q2_K),
    (GgmlType::Q3_K, &q3_k::Q3_K),
    (GgmlType::Q4_K, &q4_k::Q4_K),
    (GgmlType::Q5_K, &q5_k::Q5_K),
    (GgmlType::Q6_K, &q6_k::Q6_K),
    (GgmlType::IQ4_NL, &iq4_nl::IQ4_NL),
    (GgmlType::IQ4_XS, &iq4_xs::IQ4_XS),
];

/// A ggml type id sinkquant cannot read: `name` is ggml's name for ids that exist but are not
/// handled. The message is the one the GGUF reader puts before " in tensor ...".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownGgmlType {
    pub id: u32,
    pub name: Option<&'static str>,
}

impl fmt::Display for UnknownGgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(name) => write!(f, "ggml type {name} ({})", self.id),
            None => write!(f, "unknown ggml type id {}", self.id),
        }
    }
}

impl std::error::Error for UnknownGgmlType {}

impl GgmlType {
    /// Every supported type, in `REGISTRY` order.
    pub const ALL: [GgmlType; REGISTRY.len()] = {
        let mut all = [GgmlType::F32; REGISTRY.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = REGISTRY[i].0;
            i += 1;
        }
        all
    };

    /// The type for a ggml id.
    pub fn from_id(id: u32) -> Result<Self, UnknownGgmlType> {
        match Self::ALL.iter().find(|t| **t as u32 == id) {
            Some(t) => Ok(*t),
            None => Err(UnknownGgmlType { id, name: known_unsupported(id) }),
        }
    }

    pub fn id(self) -> u32 {
        self as u32
    }

    /// The type's block format: geometry and kernels (see `block.rs`).
    pub fn format(self) -> &'static dyn BlockFormat {
        match REGISTRY.iter().find(|(t, _)| *t == self) {
            Some((_, f)) => *f,
            None => unreachable!("GgmlType::{self:?} has no line in REGISTRY"),
        }
    }

    /// Weights per block.
    pub fn block_size(self) -> usize {
        self.format().block_size()
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        self.format().type_size()
    }

    /// Bytes taken by `n` weights, or `None` if `n` is not a whole number of blocks or overflows.
    pub fn row_bytes(self, n: usize) -> Option<usize> {
        if !n.is_multiple_of(self.block_size()) {
            return None;
        }
        (n / self.block_size()).checked_mul(self.type_size())
    }

    /// Block-quantized (not a float type).
    pub fn is_quantized(self) -> bool {
        self.format().is_quantized()
    }

    /// Storage cost in bits per weight.
    pub fn bits_per_weight(self) -> f64 {
        self.type_size() as f64 * 8.0 / self.block_size() as f64
    }

    pub fn name(self) -> &'static str {
        self.format().name()
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
