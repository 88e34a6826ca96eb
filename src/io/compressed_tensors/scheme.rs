//! The scheme of a quantized matrix (bits, group size, symmetry), the dtype its scales are
//! stored in, and one quantized matrix as the checkpoint holds it.

use crate::error::{Error, Result};
use half::bf16;

/// How a matrix is quantized: bits per weight, group of input columns sharing one scale
/// (`None`: one scale per output channel), and whether a zero point is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scheme {
    /// 4 or 8.
    pub bits: u8,
    /// Input columns per scale; `None` = one scale per output channel (row).
    pub group_size: Option<usize>,
    pub symmetric: bool,
}

/// One quantized matrix, as stored in the checkpoint (scales in BF16, compressed-tensors'
/// choice for a BF16 model).
#[derive(Clone, Debug, PartialEq)]
pub struct Packed {
    /// `rows x packed_cols` words, row-major (`weight_packed`).
    pub packed: Vec<i32>,
    /// `rows x n_groups` scales, row-major (`weight_scale`).
    pub scale: Vec<bf16>,
    /// `rows x n_groups` zero points, row-major, unpacked; packed along the rows on writing
    /// (`weight_zero_point`). `None` for a symmetric scheme.
    pub zero_point: Option<Vec<i8>>,
    pub rows: usize,
    pub cols: usize,
}

/// The dtype a scale is stored in: dequantization rounds `(q - zp) * scale` to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleDtype {
    Bf16,
    F16,
    F32,
}

impl ScaleDtype {
    /// Rounds an f32 to this dtype (to nearest, ties to even) and back.
    pub fn round(self, x: f32) -> f32 {
        match self {
            ScaleDtype::Bf16 => bf16::from_f32(x).to_f32(),
            ScaleDtype::F16 => half::f16::from_f32(x).to_f32(),
            ScaleDtype::F32 => x,
        }
    }

    /// `torch.finfo(dtype).eps`: what compressed-tensors stores for a zero scale.
    pub fn eps(self) -> f32 {
        match self {
            ScaleDtype::Bf16 => bf16::EPSILON.to_f32(),
            ScaleDtype::F16 => half::f16::EPSILON.to_f32(),
            ScaleDtype::F32 => f32::EPSILON,
        }
    }
}

impl Scheme {
    pub fn qmin(&self) -> i32 {
        -(1 << (self.bits - 1))
    }

    pub fn qmax(&self) -> i32 {
        (1 << (self.bits - 1)) - 1
    }

    /// Columns that share one scale in a row of `cols`.
    pub fn group_len(&self, cols: usize) -> usize {
        self.group_size.unwrap_or(cols)
    }

    /// Scales per row.
    pub fn n_groups(&self, cols: usize) -> usize {
        match self.group_size {
            Some(g) => cols / g,
            None => 1,
        }
    }

    /// `weight_packed` words per row.
    pub fn packed_cols(&self, cols: usize) -> usize {
        (cols * self.bits as usize).div_ceil(32)
    }

    /// Rows of the packed `weight_zero_point`.
    pub fn packed_zp_rows(&self, rows: usize) -> usize {
        (rows * self.bits as usize).div_ceil(32)
    }

    /// Whether a `rows x cols` matrix can be stored with this scheme (vLLM's kernels take 4 and
    /// 8 bits; compressed-tensors requires groups to divide the row).
    pub fn check(&self, rows: usize, cols: usize) -> Result<()> {
        if self.bits != 4 && self.bits != 8 {
            return Err(Error::Invalid(format!("compressed-tensors: {} bits (supported: 4, 8)", self.bits)));
        }
        if rows == 0 || cols == 0 {
            return Err(Error::Invalid(format!("compressed-tensors: empty matrix {rows}x{cols}")));
        }
        if let Some(g) = self.group_size {
            if g == 0 || !cols.is_multiple_of(g) {
                return Err(Error::Invalid(format!(
                    "compressed-tensors: group size {g} does not divide the {cols} columns"
                )));
            }
        }
        Ok(())
    }
}
