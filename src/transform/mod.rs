//! Exact equivalence transforms applied to weights before quantization.

pub mod fold;
