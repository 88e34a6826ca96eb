//! Why a tensor of the plan has its type: where the type came from, then the block-size
//! fallback and the size budget's lowering that may have changed it. Displayed as the text the
//! plan printout and the JSON summary show.

use super::outliers::Protection;
use super::preset::Mixture;
use crate::quant::formats::GgmlType;
use std::fmt;

/// Where a tensor's type came from, before fallback and lowering.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// A 1-D tensor (norm gain, bias): kept in F32.
    Vector,
    /// Learned position embeddings: kept in F32, as llama.cpp's quantizer keeps them.
    Positions,
    /// The mixture's default type.
    MixtureDefault(Mixture),
    /// One of llama.cpp's per-tensor rules for the mixture.
    MixtureRule(Mixture, &'static str),
    /// Raised by the `keep` outlier policy.
    Keep(Protection),
    /// The type the caller chose for the output matrix (and tied embeddings).
    OutputType,
    /// The type the caller chose for the token embeddings.
    EmbeddingType,
    /// A caller's per-tensor override whose regular expression matched.
    Override(String),
}

/// The whole reason for one tensor's type.
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    pub origin: Origin,
    /// The origin's type did not fit the row width (`cols` columns): `from` became `to`.
    pub fallback: Option<(usize, GgmlType, GgmlType)>,
    /// Lowered from the first type to the second to fit the size of the class.
    pub lowered: Option<(GgmlType, GgmlType)>,
    /// Swapped from the first type to the second, of the same size, whose measured error was
    /// the given fraction of the first's.
    pub swapped: Option<(GgmlType, GgmlType, f64)>,
    /// The head, lowered from the first type to the second for the layers' sake
    /// ([`super::trade`]).
    pub traded: Option<(GgmlType, GgmlType)>,
    /// Raised from the first type to the second with the bytes the head gave up.
    pub raised: Option<(GgmlType, GgmlType)>,
}

impl Reason {
    pub fn new(origin: Origin) -> Reason {
        Reason { origin, fallback: None, lowered: None, swapped: None, traded: None, raised: None }
    }

    /// Whether the `keep` policy chose this tensor's type.
    pub fn is_keep(&self) -> bool {
        matches!(self.origin, Origin::Keep(_))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Vector => f.write_str("1-D tensor: kept in F32"),
            Origin::Positions => f.write_str("position embeddings: kept in F32"),
            Origin::MixtureDefault(m) => write!(f, "{} default", m.name()),
            Origin::MixtureRule(m, why) => write!(f, "{} rule: {why}", m.name()),
            Origin::Keep(p) => write!(f, "keep: {p}"),
            Origin::OutputType => f.write_str("output type chosen by the user"),
            Origin::EmbeddingType => f.write_str("embedding type chosen by the user"),
            Origin::Override(re) => write!(f, "tensor type override {re}"),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some((cols, from, to)) = self.fallback {
            write!(f, "; {cols} columns do not fit {from} blocks, {to} instead")?;
        }
        if let Some((from, to)) = self.lowered {
            write!(f, "; lowered {from} -> {to} to fit the size of the class")?;
        }
        if let Some((from, to)) = self.traded {
            write!(f, "; lowered {from} -> {to}, its bytes spent on the layers")?;
        }
        if let Some((from, to)) = self.raised {
            write!(f, "; raised {from} -> {to} with bytes from the head")?;
        }
        if let Some((from, to, ratio)) = self.swapped {
            write!(f, "; {from} -> {to}, same size, {ratio:.2}x the error")?;
        }
        Ok(())
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_one_line() {
        let mut r = Reason::new(Origin::MixtureRule(Mixture::Q4_K_M, "output matrix"));
        r.fallback = Some((576, GgmlType::Q6_K, GgmlType::Q8_0));
        r.lowered = Some((GgmlType::Q8_0, GgmlType::Q5_1));
        assert_eq!(
            r.to_string(),
            "q4_k_m rule: output matrix; 576 columns do not fit Q6_K blocks, Q8_0 instead; lowered Q8_0 -> Q5_1 to fit the size of the class"
        );
        let mut s = Reason::new(Origin::MixtureDefault(Mixture::Q4_0));
        s.swapped = Some((GgmlType::Q4_0, GgmlType::IQ4_NL, 0.781));
        assert_eq!(s.to_string(), "q4_0 default; Q4_0 -> IQ4_NL, same size, 0.78x the error");
        s.raised = Some((GgmlType::Q4_0, GgmlType::Q5_1));
        assert!(s
            .to_string()
            .ends_with("raised Q4_0 -> Q5_1 with bytes from the head; Q4_0 -> IQ4_NL, same size, 0.78x the error"));
        assert!(!r.is_keep());
        let k = Reason::new(Origin::Keep(Protection::Dominated { channel: 7, percent: 71.0 }));
        assert!(k.is_keep() && k.to_string() == "keep: input channel 7 holds 71% of the input energy");
    }
}
