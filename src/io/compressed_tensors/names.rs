//! The tensor names of a packed linear layer `P` (the module name, e.g.
//! `model.layers.0.mlp.down_proj`): spelled once, for the reader and the writer.

/// The dense weight a packed layer replaces: `P.weight`.
pub const WEIGHT: &str = ".weight";
/// I32 `[rows, ceil(cols * bits / 32)]`.
pub const PACKED: &str = ".weight_packed";
/// Scales in the model's dtype, `[rows, n_groups]`.
pub const SCALE: &str = ".weight_scale";
/// I64 `[2]` = `[rows, cols]`.
pub const SHAPE: &str = ".weight_shape";
/// Asymmetric schemes only: I32, packed down the rows.
pub const ZERO_POINT: &str = ".weight_zero_point";
/// Activation-ordered groups (not supported).
pub const G_IDX: &str = ".weight_g_idx";

/// `prefix` followed by one of the suffixes above.
pub fn tensor(prefix: &str, suffix: &str) -> String {
    format!("{prefix}{suffix}")
}

/// The module name of a dense weight `P.weight` (the name itself when it has no `.weight`).
pub fn module(weight_name: &str) -> &str {
    weight_name.strip_suffix(WEIGHT).unwrap_or(weight_name)
}
