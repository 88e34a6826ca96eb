//! The quantize command on tiny synthetic models: the GGUF writer round-trips, quantized outputs
//! stay close to their source, bad input fails cleanly. (Folding's exactness in full precision
//! is a unit test of the pipeline: `src/pipeline/fold_tests.rs`.)

use crate::util::*;
use sinkquant::io::gguf::{GgufFile, GgufWriter, MetaValue, PlannedGgufTensor};
use sinkquant::quant::formats::GgmlType;

#[test]
fn gguf_writer_round_trips() {
    let dir = tempdir();
    let p = dir.path().join("w.gguf");
    let meta = vec![
        ("general.architecture".to_string(), MetaValue::String("llama".into())),
        ("x.list".to_string(), MetaValue::Array(4, vec![MetaValue::U32(3), MetaValue::U32(9)])),
    ];
    let plan = vec![
        PlannedGgufTensor { name: "a".into(), shape: vec![2, 3], ty: GgmlType::F32 },
        PlannedGgufTensor { name: "b".into(), shape: vec![1, 32], ty: GgmlType::Q8_0 },
    ];
    let mut w = GgufWriter::create(&p, &meta, plan).unwrap();
    let a: Vec<f32> = (0..6).map(|x| x as f32).collect();
    w.write("a", bytemuck::cast_slice(&a)).unwrap();
    assert!(w.write("c", &[0u8; 34]).is_err(), "names must follow the plan");
    w.write("b", &[7u8; 34]).unwrap();
    w.finish().unwrap();
    let g = GgufFile::open(&p).unwrap();
    assert_eq!(g.version, 3);
    assert_eq!(g.get("x.list"), Some(&meta[1].1));
    assert_eq!(g.store.read_f32(g.store.get("a").unwrap()).unwrap(), a);
    assert_eq!(g.store.get("b").unwrap().shape, vec![1, 32]);
    assert_eq!(std::fs::metadata(&p).unwrap().len() % 32, 0, "data padded to the alignment");

    // An unfinished writer leaves nothing behind.
    let q = dir.path().join("unfinished.gguf");
    let w =
        GgufWriter::create(&q, &meta, vec![PlannedGgufTensor { name: "a".into(), shape: vec![4], ty: GgmlType::F32 }])
            .unwrap();
    assert!(w.finish().is_err());
    assert!(!q.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary files left");
}

#[test]
fn quantize_cli_writes_gguf_close_to_source() {
    for arch in ["llama", "qwen2", "gemma3"] {
        let dir = tempdir();
        let src = tiny_model(arch).write(&dir.path().join("src.gguf"));
        let text = tiny_text(&dir.path().join("calib.txt"), 3000);
        let ref_logits = logits(&src);
        // Max |logit difference| relative to the largest logit, per type, policy "none".
        let mut err = std::collections::BTreeMap::new();
        for (ty, bound) in [("q8_0", 0.15), ("q4_0", 1.5)] {
            for outliers in ["none", "keep", "fold"] {
                let out = dir.path().join(format!("{ty}-{outliers}.gguf"));
                let o = quantize(&[
                    "--calib",
                    text.to_str().unwrap(),
                    "--calib-chunks",
                    "4",
                    "--calib-ctx",
                    "32",
                    "--type",
                    ty,
                    "--outliers",
                    outliers,
                    src.to_str().unwrap(),
                    out.to_str().unwrap(),
                ]);
                assert!(o.status.success(), "{arch} {ty} {outliers}: {}", stderr(&o));
                let d = max_rel_diff(&ref_logits, &logits(&out));
                assert!(d < bound, "{arch} {ty} {outliers}: logits differ by {d}");
                assert!(d > 0.0, "{arch} {ty}: quantization changed nothing");
                let g = GgufFile::open(&out).unwrap();
                assert_eq!(g.get("sinkquant.outliers").and_then(|v| v.as_str()), Some(outliers));
                assert!(g.get("tokenizer.ggml.tokens").is_some());
                if outliers == "none" {
                    err.insert(ty, d);
                }
            }
        }
        assert!(err["q8_0"] * 3.0 < err["q4_0"], "{arch}: 8 bits must be much closer than 4: {err:?}");
    }
}

#[test]
fn quantize_cli_rejects_bad_input() {
    let dir = tempdir();
    let src = tiny_model("llama").write(&dir.path().join("src.gguf"));
    let text = tiny_text(&dir.path().join("calib.txt"), 3000);
    let missing_dir = dir.path().join("no/such/dir/out.gguf");
    let o = quantize(&[
        "--calib",
        text.to_str().unwrap(),
        "--calib-ctx",
        "32",
        src.to_str().unwrap(),
        missing_dir.to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["out.gguf"]);
    let o = quantize(&["--type", "q9_9", src.to_str().unwrap(), dir.path().join("x.gguf").to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("q4_k_m"));
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let o = quantize(&[
        "--calib",
        empty.to_str().unwrap(),
        src.to_str().unwrap(),
        dir.path().join("y.gguf").to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["empty.txt"]);
    let o = quantize(&[
        "--calib",
        text.to_str().unwrap(),
        dir.path().join("nope.gguf").to_str().unwrap(),
        dir.path().join("z.gguf").to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["nope.gguf"]);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 3, "no partial outputs: {names:?}");
}

/// `quantize SRC OUT --type TY` calibrated on 4 chunks of 32 tokens of `text`, plus `extra`.
fn quantize_with_calib(
    text: &std::path::Path,
    src: &std::path::Path,
    out: &std::path::Path,
    ty: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec!["--calib", text.to_str().unwrap(), "--calib-ctx", "32", "--calib-chunks", "4", "--type", ty];
    args.extend_from_slice(extra);
    args.extend([src.to_str().unwrap(), out.to_str().unwrap()]);
    quantize(&args)
}

/// Every architecture's int8 compressed-tensors directory reads back as its source: logits as
/// close to the source's as those of its Q8_0 GGUF (a layer read in the wrong layout, such as
/// GPT-NeoX's per-head QKV, is far off).
#[test]
fn compressed_tensors_read_back_in_every_architecture() {
    let dir = tempdir();
    let text = tiny_text(&dir.path().join("calib.txt"), 3000);
    for arch in sinkquant::model::Arch::all().map(|a| a.name()) {
        let src = tiny_model(arch).write(&dir.path().join(format!("{arch}.gguf")));
        let ref_logits = logits(&src);
        let mut errs = Vec::new();
        for (ty, out) in [("int8", format!("{arch}-int8")), ("q8_0", format!("{arch}-q8_0.gguf"))] {
            let out = dir.path().join(out);
            let json = dir.path().join(format!("{arch}-{ty}.json"));
            let o = quantize_with_calib(&text, &src, &out, ty, &["--json", json.to_str().unwrap()]);
            assert!(o.status.success(), "{arch} {ty}: {}", stderr(&o));
            errs.push(max_rel_diff(&ref_logits, &logits(&out)));
            if ty == "int8" {
                // GPT-2's Conv1D layers cannot be quantized in this format: the summary says so.
                let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
                let dense = j["dense"].as_array().unwrap_or_else(|| panic!("{arch}: no dense list in {j}"));
                assert_eq!(dense.is_empty(), arch != "gpt2", "{arch}: dense {dense:?}");
                assert_eq!(stdout(&o).contains("Conv1D layers in BF16"), arch == "gpt2", "{arch}: {}", stdout(&o));
            }
        }
        assert!(errs[0] < 3.0 * errs[1] + 1e-3, "{arch}: int8 error {} vs q8_0 {}", errs[0], errs[1]);
    }
}

#[test]
fn quantize_cli_writes_compressed_tensors() {
    let dir = tempdir();
    let src = tiny_model("llama").write(&dir.path().join("src.gguf"));
    let text = tiny_text(&dir.path().join("calib.txt"), 3000);
    let ref_logits = logits(&src);
    let mut errs = Vec::new();
    for ty in ["int8", "int4"] {
        let out = dir.path().join(ty);
        let o = quantize_with_calib(&text, &src, &out, ty, &["--outliers", "keep"]);
        assert!(o.status.success(), "{ty}: {}", stderr(&o));
        let cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
        let q = &cfg["quantization_config"];
        assert_eq!(q["format"], "pack-quantized");
        assert_eq!(q["config_groups"]["group_0"]["weights"]["num_bits"], if ty == "int8" { 8 } else { 4 });
        assert_eq!(q["ignore"][0], "lm_head");
        assert!(out.join("tokenizer.json").is_file());
        // sinkquant's own evaluator loads the directory.
        errs.push(max_rel_diff(&ref_logits, &logits(&out)));
    }
    assert!(errs[0] < errs[1] && errs[1] < 1.5 && errs[0] > 0.0, "int8/int4 errors {errs:?}");
    // q3_k_m has no compressed-tensors counterpart.
    let o = quantize(&["--type", "q3_k_m", src.to_str().unwrap(), dir.path().join("x").to_str().unwrap()]);
    assert_clean_error(&o, &["int8 or int4"]);
}

#[test]
fn calibration_cache_gives_identical_output() {
    let dir = tempdir();
    let src = tiny_model("qwen2").write(&dir.path().join("src.gguf"));
    let text = tiny_text(&dir.path().join("calib.txt"), 3000);
    let cache = dir.path().join("cache");
    let run = |out: &str, cached: bool| {
        let out = dir.path().join(out);
        let summary = dir.path().join(format!("{}.json", out.display()));
        // GPTQ's Hessians are never cached: the cache serves the rtn method.
        let mut args =
            vec!["--calib", text.to_str().unwrap(), "--calib-chunks", "3", "--calib-ctx", "32", "--method", "rtn"];
        if cached {
            args.extend(["--calib-cache", cache.to_str().unwrap()]);
        }
        let (o_s, s_s) = (out.to_str().unwrap().to_string(), summary.to_str().unwrap().to_string());
        args.extend(["--type", "q4_k_m", "--json", &s_s, src.to_str().unwrap(), &o_s]);
        let o = quantize(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        (std::fs::read(&out).unwrap(), s["calibration_cached"].as_bool().unwrap())
    };
    let (plain, c0) = run("plain.gguf", false);
    let (first, c1) = run("first.gguf", true);
    let (second, c2) = run("second.gguf", true);
    assert_eq!((c0, c1, c2), (false, false, true));
    assert!(plain == first && first == second, "cached calibration changed the output");
    // A different calibration text is a different key.
    std::fs::write(&text, "the he the th a\n".repeat(300)).unwrap();
    let (_, c3) = run("third.gguf", true);
    assert!(!c3);
}

/// `--max-memory` below what one layer and one chunk need: a one-line error naming the model
/// and the limit, exit 1, nothing written; the same run with room succeeds. `ppl` checks the
/// same before it starts.
#[test]
fn max_memory_below_one_layer_fails_cleanly() {
    let dir = tempdir();
    let src = tiny_model("llama").write(&dir.path().join("src.gguf"));
    let text = tiny_text(&dir.path().join("calib.txt"), 3000);
    let out = dir.path().join("out.gguf");
    let (s, t, o) = (src.to_str().unwrap(), text.to_str().unwrap(), out.to_str().unwrap());
    let run =
        |mem: &str| quantize(&["--calib", t, "--calib-chunks", "2", "--calib-ctx", "16", "--max-memory", mem, s, o]);
    let r = run("64K");
    assert_clean_error(&r, &["src.gguf", "one layer", "64 KiB allowed", "--max-memory"]);
    assert!(!out.exists(), "no output after the memory error");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "only the inputs remain: {leftovers:?}");
    let r = run("4G");
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(String::from_utf8_lossy(&r.stdout).contains("memory: about"), "the estimate is printed");
    let p = quantize(&["ppl", s, "--text", t, "--ctx", "16", "--chunks", "2", "--max-memory", "64K"]);
    assert_eq!(p.status.code(), Some(1), "{}", stderr(&p));
    let last = stderr(&p).trim_end().lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("error: ") && last.contains("64 KiB allowed"), "{last}");
    assert!(!stderr(&p).contains("PPL ="));
}

/// `--outliers auto` (the default): every candidate is measured on held-out calibration text, the
/// one of least KLD becomes the output, byte for byte the file its policy writes alone, and no
/// candidate file is left behind.
#[test]
fn auto_keeps_the_candidate_of_least_kld() {
    let dir = tempdir();
    let src = tiny_model("llama").write(&dir.path().join("src.gguf"));
    let text = tiny_text(&dir.path().join("calib.txt"), 3000);
    // default: rtn candidates, the chosen one written again with GPTQ; best: GPTQ candidates.
    for (effort, chunks, policies) in [("default", 4, &["fold", "both"][..]), ("best", 8, &["fold", "both", "keep"])] {
        let (auto, json) = (dir.path().join("auto.gguf"), dir.path().join("auto.json"));
        let o =
            quantize_with_calib(&text, &src, &auto, "q4_0", &["--effort", effort, "--json", json.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("<- chosen"), "the choice is printed");
        let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!((s["method"].as_str(), s["choice_chunks"].as_u64()), (Some("gptq"), Some(chunks)), "{effort}");
        let cands = s["candidates"].as_array().unwrap();
        let names: Vec<_> =
            cands.iter().map(|c| (c["outliers"].as_str().unwrap(), c["allocation"].as_str().unwrap())).collect();
        let want: Vec<_> = policies.iter().flat_map(|p| [(*p, "mixture"), (*p, "head-to-layers")]).collect();
        assert_eq!(names, want, "{effort}");
        // Moving the head's bytes to the layers never makes the file larger than the class.
        for pair in cands.chunks(2) {
            assert!(pair[1]["bytes"].as_u64() <= pair[0]["bytes"].as_u64(), "{effort}: {pair:?}");
        }
        let chosen: Vec<_> = cands.iter().filter(|c| c["chosen"] == true).collect();
        assert_eq!(chosen.len(), 1);
        let least = cands.iter().map(|c| c["kld"].as_f64().unwrap()).fold(f64::INFINITY, f64::min);
        assert_eq!(chosen[0]["kld"].as_f64().unwrap(), least);
        let (policy, alloc) = (chosen[0]["outliers"].as_str().unwrap(), chosen[0]["allocation"].as_str().unwrap());
        assert_eq!((s["outliers"].as_str(), s["allocation"].as_str()), (Some(policy), Some(alloc)));
        let alone = dir.path().join("alone.gguf");
        let o = quantize_with_calib(&text, &src, &alone, "q4_0", &["--outliers", policy, "--allocation", alloc]);
        assert!(o.status.success(), "{}", stderr(&o));
        let same = std::fs::read(&auto).unwrap() == std::fs::read(&alone).unwrap();
        assert!(same, "{effort}: auto's {policy} differs from {policy}'s");
        let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["alone.gguf", "auto.gguf", "auto.json", "calib.txt", "src.gguf"]);
    }
    // fast: fold and rtn, nothing measured.
    let (fast, json) = (dir.path().join("fast.gguf"), dir.path().join("fast.json"));
    let o = quantize_with_calib(&text, &src, &fast, "q4_0", &["--effort", "fast", "--json", json.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!((s["method"].as_str(), s["outliers"].as_str()), (Some("rtn"), Some("fold")));
    assert_eq!(s["allocation"].as_str(), Some("mixture"));
    assert!(s["candidates"].as_array().is_none_or(|c| c.is_empty()), "fast measured candidates: {s}");
}

/// `--allocation head-to-layers`: the output head one type lower than llama.cpp's mixture puts
/// it, layer matrices raised with the bytes, and the plan no larger than the mixture's.
#[test]
fn head_to_layers_moves_bytes_within_the_class() {
    let dir = tempdir();
    let src = tiny_model("llama").write(&dir.path().join("src.gguf"));
    let text = tiny_text(&dir.path().join("calib.txt"), 3000);
    let plan_of = |alloc: &str| {
        let json = dir.path().join(format!("{alloc}.json"));
        let out = dir.path().join("o.gguf");
        let args = ["--allocation", alloc, "--outliers", "fold", "--dry-run", "--json", json.to_str().unwrap()];
        let o = quantize_with_calib(&text, &src, &out, "q4_0", &args);
        assert!(o.status.success(), "{}", stderr(&o));
        let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(s["allocation"], alloc);
        s
    };
    let (mix, moved) = (plan_of("mixture"), plan_of("head-to-layers"));
    assert!(moved["planned_bytes"].as_u64() <= mix["planned_bytes"].as_u64());
    let rows = |s: &serde_json::Value| s["plan"].as_array().unwrap().clone();
    let (a, b) = (rows(&mix), rows(&moved));
    let head = |r: &[serde_json::Value]| {
        r.iter()
            .find(|t| t["name"] == "output.weight")
            .or_else(|| r.iter().find(|t| t["name"] == "token_embd.weight"))
            .cloned()
            .unwrap()
    };
    let (ha, hb) = (head(&a), head(&b));
    assert_ne!(ha["ty"], hb["ty"], "the head was not lowered");
    assert!(hb["reason"].as_str().unwrap().contains("its bytes spent on the layers"), "{hb}");
    let raised = b.iter().filter(|t| t["reason"].as_str().unwrap().contains("with bytes from the head")).count();
    assert!(raised > 0, "no layer was raised");
}
