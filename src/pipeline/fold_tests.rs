//! Folding is an exact equivalence transform: random scales at every site, written in F32 through
//! the GGUF writing stage, give the same logits as the source (on every architecture: RMSNorm
//! and LayerNorm with bias, fused projections, plain and gated feed-forwards, soft-capping,
//! parallel residual).

use super::inputs::QuantInputs;
use super::write_gguf;
use crate::fixtures::{logits, max_rel_diff, tiny_model, values};
use crate::io::gguf::llama_meta::{self, Provenance};
use crate::model::{gguf_keys, Model};
use crate::plan::{self, OutlierPolicy, PlanOptions, Preset, Protected};
use crate::quant::formats::GgmlType;
use crate::tokenizer::GgufVocab;
use crate::transform::fold::{self, Site};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Random scales at every site, written in F32: the folded model computes the same logits.
#[test]
fn folding_is_exact_in_full_precision() {
    for arch in sinkquant::model::Arch::all().map(|a| a.name()) {
        let dir = tempdir();
        let src = tiny_model(arch).write(&dir.path().join("src.gguf"));
        let model = Model::open(&src).unwrap();
        let opts = PlanOptions {
            preset: Preset::parse("f32").unwrap(),
            overrides: vec![],
            output_type: None,
            embedding_type: None,
            has_imatrix: false,
            outliers: OutlierPolicy::Fold,
        };
        let p = plan::plan(&model, &opts, &Protected::default());
        assert!(p.iter().all(|t| t.ty == GgmlType::F32));
        let mut inputs = QuantInputs::default();
        let hp = &model.hparams;
        for site in Site::all(hp.arch, hp.n_layers) {
            let n = if matches!(site, Site::Down(_)) { hp.d_ff } else { hp.d_model };
            let s: Vec<f32> = values(n as u64 + 7, n, 1.0).iter().map(|x| (2.0 * x).exp()).collect();
            inputs.folds.scales.insert(site, s);
        }
        let vocab = GgufVocab::from_gguf(model.gguf().unwrap()).unwrap();
        let prov =
            Provenance { preset: "f32".into(), outliers: "fold".into(), calibration: None, massive_dims: vec![] };
        let meta = llama_meta::assemble(gguf_keys::model_keys(&model, vocab.to_metadata()), 0, &prov);
        let out = dir.path().join("folded.gguf");
        write_gguf::write(&model, &p, &meta, &inputs, &out, &mut |_| {}).unwrap();
        let (a, b) = (logits(&src), logits(&out));
        let d = max_rel_diff(&a, &b);
        assert!(d < 1e-4, "{arch}: folded logits differ by {d}");
        // The weights did change (the test would pass trivially otherwise).
        let folded = Model::open(&out).unwrap();
        for role in Site::Attn(0).consumers(&model).into_iter().chain(Site::Ffn(1).consumers(&model)) {
            assert_ne!(model.read_canonical(role).unwrap().1, folded.read_canonical(role).unwrap().1, "{arch} {role}");
        }
        // The scale is actually chosen from statistics when asked: alpha = 0 keeps weights.
        assert_eq!(fold::scales_for(&[1.0, 4.0], 0.0), vec![1.0, 1.0]);
    }
}
