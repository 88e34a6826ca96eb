//! Per-tensor planning: which type each tensor of the output gets, and why.
//!
//! The plan starts from llama.cpp's rules for the named mixture ([`llama_mix`]), applies the
//! outlier policy ([`outliers`]), then the user's overrides, then the block-size fallback. Norms
//! and other 1-D tensors stay F32. A class's plan is then fitted to its size ([`budget`]) and
//! each matrix takes the best of its equal-size types ([`swap`]); an alternative allocation
//! moves bytes from the output head to the layers ([`trade`]).

pub mod budget;
pub mod llama_mix;
pub mod outliers;
pub mod preset;
pub mod reason;
pub mod swap;
pub mod trade;

use crate::error::{Error, Result};
use crate::model::{Model, Role};
use crate::quant::formats::GgmlType;
use llama_mix::ModelShape;
pub use outliers::{OutlierPolicy, Protected, Protection};
pub use preset::{Mixture, Preset};
pub use reason::{Origin, Reason};
use regex::Regex;
use serde::Serialize;

/// One tensor of the output.
#[derive(Clone, Debug, Serialize)]
pub struct TensorPlan {
    #[serde(skip)]
    pub role: Role,
    /// GGUF name.
    pub name: String,
    /// Row-major shape (rows, columns).
    pub shape: Vec<usize>,
    #[serde(serialize_with = "type_name")]
    pub ty: GgmlType,
    pub reason: Reason,
}

fn type_name<S: serde::Serializer>(t: &GgmlType, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(t.name())
}

impl TensorPlan {
    pub fn n_elements(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn nbytes(&self) -> usize {
        let cols = *self.shape.last().unwrap_or(&1);
        self.ty.row_bytes(cols).expect("planned types fit their rows") * (self.n_elements() / cols.max(1))
    }
}

/// What the user asked for.
#[derive(Clone)]
pub struct PlanOptions {
    pub preset: Preset,
    /// `--tensor-type REGEX=TYPE`, first match wins, matched against GGUF names.
    pub overrides: Vec<(Regex, GgmlType)>,
    pub output_type: Option<GgmlType>,
    pub embedding_type: Option<GgmlType>,
    /// Whether calibration statistics feed the quantizers (llama.cpp's rules differ with one).
    pub has_imatrix: bool,
    pub outliers: OutlierPolicy,
}

/// Parses `REGEX=TYPE`.
pub fn parse_override(s: &str) -> Result<(Regex, GgmlType)> {
    let (re, ty) = s.rsplit_once('=').ok_or_else(|| Error::Invalid(format!("{s:?}: expected REGEX=TYPE")))?;
    let re = Regex::new(re).map_err(|e| Error::Invalid(format!("{s:?}: bad regular expression: {e}")))?;
    preset::parse_ggml_type(ty).map(|t| (re, t))
}

/// Plans every tensor of `model` in role order.
pub fn plan(model: &Model, opts: &PlanOptions, protected: &Protected) -> Vec<TensorPlan> {
    let hp = &model.hparams;
    let shape = ModelShape {
        n_layers: hp.n_layers,
        tied_embeddings: model.tensor(Role::Output).is_none(),
        n_gqa: hp.n_heads / hp.n_kv_heads.max(1),
    };
    let m = opts.preset.mixture;
    model
        .roles()
        .map(|(role, _)| {
            let name = role.gguf_name();
            let e_shape = model.canonical_shape(role).expect("a role of the model");
            let cols = *e_shape.last().unwrap_or(&1);
            let (mut ty, mut origin) = if e_shape.len() < 2 {
                (GgmlType::F32, Origin::Vector)
            } else if role == Role::PosEmbd {
                (GgmlType::F32, Origin::Positions)
            } else {
                let (t, why) = llama_mix::rule_type(m, role, &shape, opts.has_imatrix);
                (t, why.map_or(Origin::MixtureDefault(m), |w| Origin::MixtureRule(m, w)))
            };
            let mut fallback = None;
            if e_shape.len() >= 2 && role != Role::PosEmbd {
                if let Some((t, why)) = outliers::adjust(opts.outliers, role, ty, protected, m) {
                    (ty, origin) = (t, Origin::Keep(why));
                }
                let is_output = role == Role::Output || (shape.tied_embeddings && role == Role::TokenEmbd);
                if let (true, Some(t)) = (is_output, opts.output_type) {
                    (ty, origin) = (t, Origin::OutputType);
                } else if let (Role::TokenEmbd, Some(t)) = (role, opts.embedding_type) {
                    (ty, origin) = (t, Origin::EmbeddingType);
                }
                if let Some((re, t)) = opts.overrides.iter().find(|(re, _)| re.is_match(&name)) {
                    (ty, origin) = (*t, Origin::Override(re.as_str().to_string()));
                }
                let fitted = llama_mix::fallback(ty, cols);
                if fitted != ty {
                    fallback = Some((cols, ty, fitted));
                    ty = fitted;
                }
            }
            let reason = Reason { origin, fallback, lowered: None, swapped: None, traded: None, raised: None };
            TensorPlan { role, name, shape: e_shape, ty, reason }
        })
        .collect()
}

/// Bytes and bits per weight of the planned tensors.
pub fn size(plan: &[TensorPlan]) -> (u64, f64) {
    let bytes: u64 = plan.iter().map(|t| t.nbytes() as u64).sum();
    let n: u64 = plan.iter().map(|t| t.n_elements() as u64).sum();
    (bytes, bytes as f64 * 8.0 / n.max(1) as f64)
}
