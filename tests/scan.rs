//! `quantize scan`, the imatrix file and the intervention: on a tiny model for the file formats
//! and flags, on SmolLM2 for what the scan must find.

use crate::real_models::{models_dir, real_gguf};
use crate::util::*;
use sinkquant::io::gguf::GgufFile;

#[test]
fn scan_writes_report_and_imatrix() {
    let dir = tempdir();
    let m = tiny_model("qwen2").write(&dir.path().join("q.gguf"));
    let c = tiny_text(&dir.path().join("calib.txt"), 4000);
    let (js, im) = (dir.path().join("scan.json"), dir.path().join("im.gguf"));
    let o = quantize(&[
        "scan",
        m.to_str().unwrap(),
        "--calib",
        c.to_str().unwrap(),
        "--calib-chunks",
        "3",
        "--calib-ctx",
        "32",
        "--json",
        js.to_str().unwrap(),
        "--imatrix",
        im.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    let sinks = r["sink_share"].as_array().unwrap();
    assert_eq!(sinks.len(), TINY.layers);
    assert!(sinks.iter().all(|s| (0.0..=1.0).contains(&s.as_f64().unwrap())));
    assert_eq!(r["sink_share_per_head"][0].as_array().unwrap().len(), TINY.heads);
    assert_eq!(r["layers"].as_array().unwrap().len(), TINY.layers);
    assert_eq!(r["calibration"]["chunks"], 3);
    assert!(r["massive_dims"].is_array() && r["super_weights"].is_array() && r["massive"].is_array());
    // The imatrix, read back with our own GGUF reader.
    let g = GgufFile::open(&im).unwrap();
    assert_eq!(g.get("general.type").and_then(|v| v.as_str()), Some("imatrix"));
    assert_eq!(g.get("imatrix.chunk_count").and_then(|v| v.as_i64()), Some(3));
    assert_eq!(g.get("imatrix.chunk_size").and_then(|v| v.as_i64()), Some(32));
    let read = |n: &str| g.store.read_f32(g.store.get(n).unwrap_or_else(|| panic!("{n} missing"))).unwrap();
    assert_eq!(read("blk.1.attn_q.weight.counts"), vec![96.0], "3 chunks of 32 tokens");
    let q = read("blk.1.attn_q.weight.in_sum2");
    assert_eq!(q.len(), TINY.d);
    assert!(q.iter().all(|v| *v > 0.0));
    assert_eq!(q, read("blk.1.attn_v.weight.in_sum2"), "Q, K and V read the same input");
    assert_eq!(read("blk.0.ffn_down.weight.in_sum2").len(), TINY.d_ff);
    assert!(g.store.get("output.weight.in_sum2").is_none(), "the head is left out, as llama-imatrix does");
    // A too-short calibration text is a clean error.
    let short = dir.path().join("short.txt");
    std::fs::write(&short, "the").unwrap();
    assert_clean_error(
        &quantize(&["scan", m.to_str().unwrap(), "--calib", short.to_str().unwrap()]),
        &["no chunk of 512"],
    );
}

/// SmolLM2: one massive dimension (507) from layer 11's FFN, written mostly by one down-projection
/// weight; zeroing it destroys the model, setting it to its mean does not (Sun et al.).
#[test]
fn smollm2_massive_activation_and_intervention() {
    let dir = tempdir();
    let m = real_gguf("smollm2-135m");
    let js = dir.path().join("scan.json");
    let o = quantize(&["scan", m.to_str().unwrap(), "--calib-chunks", "2", "--json", js.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    let top = &r["massive_dims"][0];
    assert_eq!(top["dim"], 507);
    assert_eq!(top["first_layer"], 11);
    assert!(top["max_abs"].as_f64().unwrap() > 2e4);
    assert_eq!(top["first_position_share"], 1.0, "it fires on the first token");
    let sw = &r["super_weights"][0];
    assert_eq!(
        (sw["tensor"].as_str(), sw["row"].as_u64(), sw["col"].as_u64()),
        (Some("blk.11.ffn_down.weight"), Some(507), Some(1229))
    );
    let wiki = models_dir().join("text/wiki.utf8");
    let ppl = |extra: &[&str]| -> f64 {
        let mut args = vec!["ppl", m.to_str().unwrap(), "--text", wiki.to_str().unwrap(), "--chunks", "1"];
        args.extend_from_slice(extra);
        let o = quantize(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        out.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    let base = ppl(&[]);
    let zero = ppl(&["--intervene", "zero", "--scan", js.to_str().unwrap()]);
    let mean = ppl(&["--intervene", "mean", "--scan", js.to_str().unwrap()]);
    assert!(zero > 100.0 * base, "zeroing: {base} -> {zero}");
    assert!((mean / base - 1.0).abs() < 0.05, "mean: {base} -> {mean}");
}
