//! `--effort`: how much work a job spends on quality. Each level sets the defaults of the
//! outlier policy (fixed, or chosen by measuring candidates), the method, and how the choice is
//! measured; flags the caller gives explicitly override them.
//!
//! - `fast`: `fold`, round-to-nearest (ggml's importance-weighted quantizers): calibration
//!   plus seconds, what `llama-imatrix` + `llama-quantize` cost.
//! - `default`: the outlier policy measured between fold and both, and the allocation between
//!   llama.cpp's mixture and head-to-layers (`plan::trade`); the candidates written with
//!   rtn, each compared with the source on 4 held-out calibration chunks, then GPTQ when its
//!   Hessians fit in memory. `keep` alone is not a default candidate: on the three real models
//!   and every class measured (docs/quantize.md) it never scored best, and `both` holds its
//!   gain where it has one (SmolLM2 Q4_K_M: keep 0.0080, both 0.0056, fold 0.0200).
//! - `best`: fold, both and keep, every candidate written with the job's method (GPTQ), so the
//!   choice sees the method's interaction with the policy, and measured on 8 chunks.

use super::job::JobSpec;
use crate::error::{Error, Result};
use crate::plan::trade::Allocation;
use crate::plan::OutlierPolicy;
use crate::quant::methods::Method;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Effort {
    Fast,
    #[default]
    Default,
    Best,
}

impl Effort {
    pub const ALL: [Effort; 3] = [Effort::Fast, Effort::Default, Effort::Best];

    pub fn parse(s: &str) -> Result<Effort> {
        Self::ALL.into_iter().find(|e| e.name().eq_ignore_ascii_case(s)).ok_or_else(|| Error::Unknown {
            what: "effort",
            name: s.to_string(),
            known: Self::ALL.iter().map(|e| e.name()).collect(),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Effort::Fast => "fast",
            Effort::Default => "default",
            Effort::Best => "best",
        }
    }

    /// The outlier policies measured against each other; one means no choice.
    pub fn outlier_candidates(self) -> Vec<OutlierPolicy> {
        match self {
            Effort::Fast => vec![OutlierPolicy::Fold],
            Effort::Default => vec![OutlierPolicy::Fold, OutlierPolicy::Both],
            Effort::Best => vec![OutlierPolicy::Fold, OutlierPolicy::Both, OutlierPolicy::Keep],
        }
    }

    pub fn method(self) -> Method {
        match self {
            Effort::Fast => Method::Rtn,
            _ => Method::Auto,
        }
    }

    /// The allocations measured against each other (`plan::trade`); one means no choice.
    pub fn alloc_candidates(self) -> Vec<Allocation> {
        match self {
            Effort::Fast => vec![Allocation::Mixture],
            _ => vec![Allocation::Mixture, Allocation::HeadToLayers],
        }
    }

    /// Held-out calibration chunks each candidate is measured on.
    pub fn choice_chunks(self) -> usize {
        match self {
            Effort::Best => 8,
            _ => 4,
        }
    }

    /// The policies `--outliers auto` measures at this level (`fast`, which measures none,
    /// takes the default's).
    pub fn auto_candidates(self) -> Vec<OutlierPolicy> {
        match self {
            Effort::Fast => Effort::Default.outlier_candidates(),
            e => e.outlier_candidates(),
        }
    }

    /// Sets `s`'s outlier policy, its candidates, method and choice to this level's defaults.
    pub fn apply(self, s: &mut JobSpec) {
        let c = self.outlier_candidates();
        s.outliers = c[0];
        s.choose_outliers = if c.len() > 1 { c } else { vec![] };
        let a = self.alloc_candidates();
        s.alloc = a[0];
        s.choose_alloc = if a.len() > 1 { a } else { vec![] };
        s.method = self.method();
        s.choice.chunks = self.choice_chunks();
        s.choice.with_method = self == Effort::Best;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_set_what_they_document() {
        let mut s = JobSpec::new("in", "out.gguf");
        Effort::Fast.apply(&mut s);
        assert_eq!((s.outliers, s.choose_outliers.len(), s.method), (OutlierPolicy::Fold, 0, Method::Rtn));
        assert!(s.choose_alloc.is_empty() && s.alloc == Allocation::Mixture);
        Effort::Best.apply(&mut s);
        assert_eq!(
            (s.choose_outliers.len(), s.method, s.choice.chunks, s.choice.with_method),
            (3, Method::Auto, 8, true)
        );
        Effort::Default.apply(&mut s);
        assert_eq!((s.choose_outliers.len(), s.choice.chunks, s.choice.with_method), (2, 4, false));
        assert_eq!(s.choose_alloc, vec![Allocation::Mixture, Allocation::HeadToLayers]);
        assert_eq!(Effort::Fast.auto_candidates(), Effort::Default.outlier_candidates());
        assert_eq!(Effort::Best.auto_candidates().len(), 3);
        assert_eq!(Effort::parse("BEST").unwrap(), Effort::Best);
        assert!(Effort::parse("slow").unwrap_err().to_string().contains("fast"));
    }
}
