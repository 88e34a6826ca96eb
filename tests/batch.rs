//! `quantize batch` on tiny synthetic models: failure isolation, resume after SIGKILL, shards.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Two good models (llama, qwen2), a truncated GGUF and a missing path; two recipes.
fn zoo(dir: &Path, bad: bool) -> PathBuf {
    tiny_model("llama").write(&dir.join("llama.gguf"));
    tiny_model("qwen2").write(&dir.join("qwen.gguf"));
    tiny_text(&dir.join("calib.txt"), 3000);
    tiny_text(&dir.join("eval.txt"), 2000);
    let mut models = String::from("[[models]]\npath = \"llama.gguf\"\n[[models]]\npath = \"qwen.gguf\"\n");
    if bad {
        let whole = std::fs::read(dir.join("llama.gguf")).unwrap();
        std::fs::write(dir.join("cut.gguf"), &whole[..whole.len() / 2]).unwrap();
        models += "[[models]]\npath = \"cut.gguf\"\n[[models]]\npath = \"gone.gguf\"\n";
    }
    let text = format!(
        "out_dir = \"out\"\ncalib = \"calib.txt\"\neval = \"eval.txt\"\ncalib_chunks = 2\neval_chunks = 2\nctx = 32\n{models}\
         [[recipes]]\nname = \"q8\"\ntype = \"q8_0\"\n\
         [[recipes]]\nname = \"q4-keep\"\ntype = \"q4_0\"\noutliers = \"keep\"\n"
    );
    let path = dir.join("zoo.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn batch(args: &[&str]) -> std::process::Output {
    let mut a = vec!["batch"];
    a.extend_from_slice(args);
    quantize(&a)
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

/// Report rows without the fields that measure the run (times, memory).
fn outcomes(r: &Value) -> Vec<Value> {
    r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let mut j = j.clone();
            for k in sinkquant::batch::report::RUN_FIELDS {
                j.as_object_mut().unwrap().remove(k);
            }
            j
        })
        .collect()
}

fn outputs(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for m in ["llama", "qwen"] {
        for r in ["q8", "q4-keep"] {
            let p = out.join(m).join(format!("{r}.gguf"));
            v.push((p.display().to_string(), std::fs::read(&p).unwrap_or_default()));
        }
    }
    v
}

#[test]
fn batch_isolates_failures_and_reports_every_job() {
    let dir = tempdir();
    let manifest = zoo(dir.path(), true);
    let m = manifest.to_str().unwrap();
    let o = batch(&["--jobs", "2", m]);
    assert_eq!(o.status.code(), Some(1), "some jobs failed: {}", stderr(&o));
    let out = dir.path().join("out");
    let r = report(&out.join("report"));
    let jobs = r["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 8);
    for j in jobs {
        let (model, ok) = (j["model"].as_str().unwrap(), j["ok"].as_bool().unwrap());
        assert_eq!(ok, model == "llama" || model == "qwen", "{j}");
        if !ok {
            let e = j["error"].as_str().unwrap();
            let file = if model == "cut" { "cut.gguf" } else { "gone.gguf" };
            assert!(e.contains(file) && !e.contains('\n'), "{e}");
        } else {
            assert!(j["kld"].as_f64().unwrap() > 0.0 && j["bpw"].as_f64().unwrap() > 4.0, "{j}");
        }
    }
    // A model's later recipe reuses the calibration its first one cached.
    assert!(jobs.iter().any(|j| j["calibration_cached"] == Value::Bool(true)), "no job used the calibration cache");
    // The batch runs the same quantization as the command itself.
    let direct = dir.path().join("direct.gguf");
    let d = quantize(&[
        "--calib",
        dir.path().join("calib.txt").to_str().unwrap(),
        "--calib-chunks",
        "2",
        "--calib-ctx",
        "32",
        "--type",
        "q4_0",
        "--outliers",
        "keep",
        // A recipe's default method; the command's default is auto.
        "--method",
        "rtn",
        dir.path().join("qwen.gguf").to_str().unwrap(),
        direct.to_str().unwrap(),
    ]);
    assert!(d.status.success(), "{}", stderr(&d));
    assert_eq!(std::fs::read(&direct).unwrap(), std::fs::read(out.join("qwen/q4-keep.gguf")).unwrap());
    // Nothing is left where a failed job's output belongs.
    assert!(!out.join("cut").exists() && !out.join("gone").exists());
    for name in ["report.md", "report.csv", "llama.png", "qwen.png"] {
        assert!(out.join("report").join(name).is_file(), "{name}");
    }
    let md = std::fs::read_to_string(out.join("report/report.md")).unwrap();
    assert_eq!(md.matches("| failed |").count(), 4);
}

#[test]
fn batch_resumes_after_sigkill_with_identical_outputs() {
    let dir = tempdir();
    let manifest = zoo(dir.path(), false);
    let m = manifest.to_str().unwrap();
    let whole = dir.path().join("whole");
    let o = batch(&["--report", whole.to_str().unwrap(), m]);
    assert!(o.status.success(), "{}", stderr(&o));
    // --jobs auto (the default) estimated every job's memory from its model, and said so.
    for j in report(&whole)["jobs"].as_array().unwrap() {
        assert!(j["estimate_bytes"].as_u64().unwrap_or(0) > 1 << 20, "{j}");
    }
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("--jobs auto: up to"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let out = dir.path().join("out");
    let reference = outputs(&out);
    std::fs::rename(&out, dir.path().join("first-out")).unwrap();

    // Kill the batch as soon as its first job is recorded as finished.
    let mut child = Command::new(env!("CARGO_BIN_EXE_quantize"))
        .args(["batch", m])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let first = out.join(".sinkquant-batch/done/llama/q8.json");
    let t0 = std::time::Instant::now();
    while !first.exists() && t0.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(600)); // its job sees the parent gone

    let o = batch(&["--resume", m]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    let earlier: usize = said.split(" finished earlier").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    assert!(earlier >= 1, "the finished job is not redone: {said}");
    assert_eq!(outputs(&out), reference, "outputs after kill + resume equal the uninterrupted run's");
    assert_eq!(outcomes(&report(&out.join("report"))), outcomes(&report(&whole)));
    for m in ["llama", "qwen"] {
        let left: Vec<_> = std::fs::read_dir(out.join(m))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "partial files of the killed run were cleared: {left:?}");
    }

    // A changed input redoes the jobs that use it, and only those.
    std::fs::write(dir.path().join("calib.txt"), "the the the he he t h e a the th the he\n".repeat(200)).unwrap();
    let o = batch(&["--resume", "--dry-run", m]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).matches("to run").count(), 4 + 1);
}

#[test]
fn shards_merge_into_the_unsharded_report() {
    let dir = tempdir();
    let manifest = zoo(dir.path(), true);
    let m = manifest.to_str().unwrap();
    let whole = dir.path().join("whole");
    batch(&["--jobs", "2", "--report", whole.to_str().unwrap(), m]);
    let (s0, s1, merged) = (dir.path().join("s0"), dir.path().join("s1"), dir.path().join("merged"));
    for (s, d) in [("0/2", &s0), ("1/2", &s1)] {
        let o = batch(&["--shard", s, "--report", d.to_str().unwrap(), m]);
        assert_eq!(o.status.code(), Some(1), "each shard holds a failing job");
        assert_eq!(report(d)["jobs"].as_array().unwrap().len(), 4);
    }
    let o = quantize(&["batch-report", s1.to_str().unwrap(), s0.to_str().unwrap(), "--out", merged.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, b) = (report(&merged), report(&whole));
    assert_eq!(outcomes(&a), outcomes(&b));
    assert_eq!(a["shards"], serde_json::json!(["0/2", "1/2"]));
    let o =
        quantize(&["batch-report", s0.to_str().unwrap(), dir.path().join("nowhere").to_str().unwrap(), "--out", "x"]);
    assert_clean_error(&o, &["nowhere", "report.json"]);
}

#[test]
fn a_job_held_by_another_batch_is_not_run_twice() {
    let dir = tempdir();
    let manifest = zoo(dir.path(), false);
    let m = manifest.to_str().unwrap();
    // Stand in for a second batch on the same out_dir that is running llama/q8.
    let lock = dir.path().join("out/.sinkquant-batch/locks/llama/q8.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let held = std::fs::File::create(&lock).unwrap();
    held.try_lock().unwrap();
    let o = batch(&[m]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = report(&dir.path().join("out/report"));
    let failed: Vec<_> = r["jobs"].as_array().unwrap().iter().filter(|j| j["error"].is_string()).collect();
    assert_eq!(failed.len(), 1, "{r}");
    let e = failed[0]["error"].as_str().unwrap();
    assert!(e.contains("another batch") && e.contains("q8.lock"), "{e}");
    assert!(!dir.path().join("out/llama/q8.gguf").exists());
    drop(held);
    let o = batch(&["--resume", m]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("out/llama/q8.gguf").exists());
}
