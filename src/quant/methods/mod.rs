//! Quantization methods: how a matrix's weights are turned into codes of its planned type.
//!
//! - `rtn`: each block by ggml's own quantizer, importance-weighted by the calibration's mean
//!   squared inputs (`crate::quant::formats::quantize_rows`): llama.cpp's imatrix quantization.
//! - [`gptq`]: the same block scales, with each weight's rounding error compensated in the
//!   columns after it through the calibration's input Hessian. Its compressed-tensors form is
//!   in that format's folder (`crate::io::compressed_tensors::gptq`).

pub mod gptq;

/// The method a job quantizes its matrices with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Importance-weighted rounding, block by block.
    #[default]
    Rtn,
    /// Error compensation with the input Hessian (needs calibration).
    Gptq,
    /// GPTQ when every layer's input Hessians fit the run's memory budget with the rest of its
    /// work, importance-weighted rounding otherwise (the Hessians of an 8B model take 32 GiB).
    Auto,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Rtn, Method::Gptq, Method::Auto];

    /// The method named `s` (`rtn`, `gptq`; any case).
    pub fn parse(s: &str) -> crate::Result<Method> {
        Self::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(s)).ok_or_else(|| crate::Error::Unknown {
            what: "method",
            name: s.to_string(),
            known: Self::ALL.iter().map(|m| m.name()).collect(),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::Rtn => "rtn",
            Method::Gptq => "gptq",
            Method::Auto => "auto",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
