//! Named file classes (`--type`): llama.cpp's mixture names and sinkquant's `int8` / `int4`.
//! A preset names a class of file and its size; the per-tensor choices come from the planner.

use crate::error::{Error, Result};
use crate::quant::formats::GgmlType;
use std::fmt;

/// llama.cpp's file types (`enum llama_ftype`), the mixtures a preset starts from.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mixture {
    F32,
    F16,
    BF16,
    Q8_0,
    Q6_K,
    Q5_K_M,
    Q5_K_S,
    Q5_1,
    Q5_0,
    Q4_K_M,
    Q4_K_S,
    Q4_1,
    Q4_0,
    IQ4_NL,
    IQ4_XS,
    Q3_K_L,
    Q3_K_M,
    Q3_K_S,
    Q2_K,
}

impl Mixture {
    pub const ALL: [Mixture; 19] = [
        Mixture::F32,
        Mixture::F16,
        Mixture::BF16,
        Mixture::Q8_0,
        Mixture::Q6_K,
        Mixture::Q5_K_M,
        Mixture::Q5_K_S,
        Mixture::Q5_1,
        Mixture::Q5_0,
        Mixture::Q4_K_M,
        Mixture::Q4_K_S,
        Mixture::Q4_1,
        Mixture::Q4_0,
        Mixture::IQ4_NL,
        Mixture::IQ4_XS,
        Mixture::Q3_K_L,
        Mixture::Q3_K_M,
        Mixture::Q3_K_S,
        Mixture::Q2_K,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mixture::F32 => "f32",
            Mixture::F16 => "f16",
            Mixture::BF16 => "bf16",
            Mixture::Q8_0 => "q8_0",
            Mixture::Q6_K => "q6_k",
            Mixture::Q5_K_M => "q5_k_m",
            Mixture::Q5_K_S => "q5_k_s",
            Mixture::Q5_1 => "q5_1",
            Mixture::Q5_0 => "q5_0",
            Mixture::Q4_K_M => "q4_k_m",
            Mixture::Q4_K_S => "q4_k_s",
            Mixture::Q4_1 => "q4_1",
            Mixture::Q4_0 => "q4_0",
            Mixture::IQ4_NL => "iq4_nl",
            Mixture::IQ4_XS => "iq4_xs",
            Mixture::Q3_K_L => "q3_k_l",
            Mixture::Q3_K_M => "q3_k_m",
            Mixture::Q3_K_S => "q3_k_s",
            Mixture::Q2_K => "q2_k",
        }
    }

    /// The type most tensors get (`llama_ftype_get_default_type`).
    pub fn default_type(self) -> GgmlType {
        use GgmlType as T;
        match self {
            Mixture::F32 => T::F32,
            Mixture::F16 => T::F16,
            Mixture::BF16 => T::BF16,
            Mixture::Q8_0 => T::Q8_0,
            Mixture::Q6_K => T::Q6_K,
            Mixture::Q5_K_M | Mixture::Q5_K_S => T::Q5_K,
            Mixture::Q5_1 => T::Q5_1,
            Mixture::Q5_0 => T::Q5_0,
            Mixture::Q4_K_M | Mixture::Q4_K_S => T::Q4_K,
            Mixture::Q4_1 => T::Q4_1,
            Mixture::Q4_0 => T::Q4_0,
            Mixture::IQ4_NL => T::IQ4_NL,
            Mixture::IQ4_XS => T::IQ4_XS,
            Mixture::Q3_K_L | Mixture::Q3_K_M | Mixture::Q3_K_S => T::Q3_K,
            Mixture::Q2_K => T::Q2_K,
        }
    }

    /// `general.file_type` (the `llama_ftype` id).
    pub fn file_type(self) -> u32 {
        match self {
            Mixture::F32 => 0,
            Mixture::F16 => 1,
            Mixture::Q4_0 => 2,
            Mixture::Q4_1 => 3,
            Mixture::Q8_0 => 7,
            Mixture::Q5_0 => 8,
            Mixture::Q5_1 => 9,
            Mixture::Q2_K => 10,
            Mixture::Q3_K_S => 11,
            Mixture::Q3_K_M => 12,
            Mixture::Q3_K_L => 13,
            Mixture::Q4_K_S => 14,
            Mixture::Q4_K_M => 15,
            Mixture::Q5_K_S => 16,
            Mixture::Q5_K_M => 17,
            Mixture::Q6_K => 18,
            Mixture::IQ4_NL => 25,
            Mixture::IQ4_XS => 30,
            Mixture::BF16 => 32,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Mixture::F32 | Mixture::F16 | Mixture::BF16)
    }
}

/// What `--type` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// The name the user gave (`int4`, `q4_k_m`, ...).
    pub name: &'static str,
    pub mixture: Mixture,
}

/// sinkquant's own names and the mixture each starts from.
const ALIASES: [(&str, Mixture); 2] = [("int8", Mixture::Q8_0), ("int4", Mixture::Q4_K_M)];

impl Preset {
    /// The default when `--type` is not given: the 4-bit recipe.
    pub const DEFAULT: Preset = Preset { name: "int4", mixture: Mixture::Q4_K_M };

    pub fn parse(s: &str) -> Result<Preset> {
        let lower = s.to_ascii_lowercase();
        if let Some((name, m)) = ALIASES.iter().find(|(n, _)| *n == lower) {
            return Ok(Preset { name, mixture: *m });
        }
        if let Some(m) = Mixture::ALL.iter().find(|m| m.name() == lower) {
            return Ok(Preset { name: m.name(), mixture: *m });
        }
        Err(Error::Unknown { what: "type", name: s.to_string(), known: Self::names() })
    }

    /// Every name `--type` accepts.
    pub fn names() -> Vec<&'static str> {
        ALIASES.iter().map(|(n, _)| *n).chain(Mixture::ALL.iter().map(|m| m.name())).collect()
    }
}

impl serde::Serialize for Preset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A ggml type by its name, case-insensitive (`q4_k`, `Q8_0`, `f16`).
pub fn parse_ggml_type(s: &str) -> Result<GgmlType> {
    GgmlType::ALL.iter().find(|t| t.name().eq_ignore_ascii_case(s)).copied().ok_or_else(|| Error::Unknown {
        what: "tensor type",
        name: s.to_string(),
        known: type_names(),
    })
}

fn type_names() -> Vec<&'static str> {
    GgmlType::ALL.iter().map(|t| t.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_by_name_and_alias() {
        assert_eq!(Preset::parse("Q4_K_M").unwrap().mixture, Mixture::Q4_K_M);
        assert_eq!(Preset::parse("int8").unwrap().mixture, Mixture::Q8_0);
        assert!(Preset::parse("q4_k_x").unwrap_err().to_string().contains("q3_k_m"));
        assert_eq!(parse_ggml_type("q6_k").unwrap(), GgmlType::Q6_K);
        assert_eq!(parse_ggml_type("iq4_nl").unwrap(), GgmlType::IQ4_NL);
        assert_eq!(Preset::parse("IQ4_XS").unwrap().mixture.file_type(), 30);
        assert!(parse_ggml_type("iq3_s").is_err());
    }
}
