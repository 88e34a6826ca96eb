//! Resume state (and the shared calibration cache): one record per finished job, `out_dir/.sinkquant-batch/done/<model>/<recipe>.json`,
//! written atomically after the job's output is complete. A record holds the job's fingerprint
//! (tool version, recipe settings, the model files' names, sizes and modification times, the
//! sha256 of its calibration and evaluation texts) and the size of its output; `--resume` skips
//! a job whose record matches both. One file per job means shards sharing an `out_dir` (on a
//! cluster's shared file system) never write the same state file, and a run killed at any
//! moment leaves either a complete record or none.

use super::jobs::Job;
use super::report::JobResult;
use crate::error::{Error, Result};
use crate::io::atomic::{self, AtomicFile};
use crate::io::fingerprint::{model_files, sha256_file, sha256_json, Sha256Hex};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub fingerprint: String,
    pub output_bytes: u64,
    pub result: JobResult,
}

/// The batch's working folder inside `out_dir`: state records, job logs, job summaries.
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(out_dir: &Path) -> StateDir {
        StateDir { root: out_dir.join(".sinkquant-batch") }
    }

    fn path(&self, kind: &str, job: &Job, ext: &str) -> PathBuf {
        self.root.join(kind).join(&job.model).join(format!("{}.{ext}", job.recipe.name))
    }

    /// The job's log (the quantize command's output).
    pub fn log(&self, job: &Job) -> PathBuf {
        self.path("logs", job, "log")
    }

    /// Where the quantize command writes the job's JSON summary.
    pub fn summary(&self, job: &Job) -> PathBuf {
        self.path("runs", job, "json")
    }

    /// Calibration results shared by the recipes of a model (`quantize --calib-cache`).
    pub fn calib_cache(&self) -> PathBuf {
        self.root.join("calib")
    }

    fn record_path(&self, job: &Job) -> PathBuf {
        self.path("done", job, "json")
    }

    /// Creates the folders the job's files go in.
    pub fn prepare(&self, job: &Job) -> Result<()> {
        for p in [self.log(job), self.summary(job), self.record_path(job), job.output.clone()] {
            let dir = p.parent().expect("job paths have a folder");
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        Ok(())
    }

    /// Takes the job's lock (`locks/<model>/<recipe>.lock`, an advisory `flock` the OS drops
    /// when the holder exits, killed or not). Two batches on one `out_dir` (a shard started
    /// twice, or a run beside a cluster's shards) then never run the same job at once, nor
    /// remove each other's partial outputs. Returns `None` when another process holds it.
    pub fn lock(&self, job: &Job) -> Result<Option<std::fs::File>> {
        let path = self.lock_path(job);
        let dir = path.parent().expect("job paths have a folder");
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// Where the job's lock is.
    pub fn lock_path(&self, job: &Job) -> PathBuf {
        self.path("locks", job, "lock")
    }

    /// The job's record, if one was written and can be read.
    pub fn load(&self, job: &Job) -> Option<Record> {
        let text = std::fs::read_to_string(self.record_path(job)).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn save(&self, job: &Job, record: &Record) -> Result<()> {
        let path = self.record_path(job);
        let mut f = AtomicFile::create(&path)?;
        f.write_all((serde_json::to_string_pretty(record).expect("record serializes") + "\n").as_bytes())?;
        f.commit()
    }

    /// The record of a finished job, when its fingerprint is `fingerprint` and its output is
    /// still there with the size recorded.
    pub fn finished(&self, job: &Job, fingerprint: &str) -> Option<Record> {
        let r = self.load(job)?;
        (r.fingerprint == fingerprint && output_bytes(&job.output) == Some(r.output_bytes)).then_some(r)
    }
}

/// Bytes of an output: a file's size, or the total size of a directory's files.
pub fn output_bytes(path: &Path) -> Option<u64> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return Some(meta.len());
    }
    let mut total = 0;
    for e in std::fs::read_dir(path).ok()? {
        let m = e.ok()?.metadata().ok()?;
        if m.is_file() {
            total += m.len();
        }
    }
    Some(total)
}

/// Removes what a killed writer of `output` left beside it: `.<name>.tmp-*` (an atomic write, a
/// plot, the policy candidates) and `.<name>.old-<pid>`.
pub fn remove_partial(output: &Path) -> Result<()> {
    let (Some(dir), Some(_)) = (output.parent(), output.file_name()) else { return Ok(()) };
    let prefixes = [atomic::temp_prefix(output), atomic::old_prefix(output)];
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let partial = prefixes.iter().any(|k| n.starts_with(k.as_str()));
        if partial {
            let p = e.path();
            let r = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
            r.map_err(|err| Error::io(&p, err))?;
        }
    }
    Ok(())
}

/// What a job's output depends on, hashed: if any of it changes, the job is redone.
pub fn fingerprint(job: &Job, tool_version: &str) -> Result<Sha256Hex> {
    let text = |p: &Option<PathBuf>| -> Result<Option<Sha256Hex>> { p.as_deref().map(sha256_file).transpose() };
    let v = json!({
        "tool": tool_version,
        "recipe": job.recipe,
        "model": job.model_path,
        "model_files": model_files(&job.model_path)?,
        "calib_sha256": text(&job.recipe.calib)?,
        "eval_sha256": text(&job.recipe.eval)?,
    });
    Ok(sha256_json(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::manifest::Manifest;

    fn job(dir: &Path) -> Job {
        std::fs::create_dir_all(dir.join("m")).unwrap();
        std::fs::write(dir.join("m/model.safetensors"), b"weights").unwrap();
        std::fs::write(dir.join("c4.txt"), b"some text").unwrap();
        let toml = "out_dir = \"out\"\ncalib = \"c4.txt\"\n[[models]]\npath = \"m\"\n[[recipes]]\nname = \"r\"\ntype = \"int8\"\n";
        std::fs::write(dir.join("zoo.toml"), toml).unwrap();
        let m = Manifest::load(&dir.join("zoo.toml")).unwrap();
        crate::batch::jobs::expand(&m).remove(0)
    }

    #[test]
    fn a_record_stands_while_inputs_and_output_are_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let j = job(tmp.path());
        let st = StateDir::new(&tmp.path().join("out"));
        st.prepare(&j).unwrap();
        let fp = fingerprint(&j, "1").unwrap();
        assert_eq!(fp, fingerprint(&j, "1").unwrap());
        assert_ne!(fp, fingerprint(&j, "2").unwrap(), "the tool version counts");
        std::fs::write(&j.output, b"quantized").unwrap();
        let result = JobResult::failed(&j, tmp.path(), String::new());
        st.save(&j, &Record { fingerprint: fp.clone(), output_bytes: 9, result }).unwrap();
        assert!(st.finished(&j, &fp).is_some());

        std::fs::write(tmp.path().join("c4.txt"), b"other text").unwrap();
        assert!(st.finished(&j, &fingerprint(&j, "1").unwrap()).is_none(), "calibration text changed");
        std::fs::write(tmp.path().join("c4.txt"), b"some text").unwrap();
        std::fs::write(tmp.path().join("m/config.json"), b"{}").unwrap();
        assert!(st.finished(&j, &fingerprint(&j, "1").unwrap()).is_none(), "a model file was added");
        std::fs::remove_file(tmp.path().join("m/config.json")).unwrap();
        let fp = fingerprint(&j, "1").unwrap();
        assert!(st.finished(&j, &fp).is_some());
        std::fs::write(&j.output, b"quant").unwrap();
        assert!(st.finished(&j, &fp).is_none(), "output size changed");
        std::fs::remove_file(&j.output).unwrap();
        assert!(st.finished(&j, &fp).is_none(), "output gone");

        std::fs::remove_dir_all(tmp.path().join("m")).unwrap();
        let e = fingerprint(&j, "1").unwrap_err().to_string();
        assert!(e.contains("m") && e.contains("No such file"), "{e}");
    }

    #[test]
    fn a_job_lock_is_held_once() {
        let tmp = tempfile::tempdir().unwrap();
        let j = job(tmp.path());
        let st = StateDir::new(&tmp.path().join("out"));
        let held = st.lock(&j).unwrap().expect("free at first");
        assert!(st.lock(&j).unwrap().is_none(), "a second holder is refused");
        drop(held);
        assert!(st.lock(&j).unwrap().is_some(), "free again once the holder is gone");
    }

    #[test]
    fn partial_outputs_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("int4.gguf");
        std::fs::write(tmp.path().join(".int4.gguf.tmp-123"), b"x").unwrap();
        std::fs::create_dir(tmp.path().join(".int4.gguf.old-9")).unwrap();
        let choose = tmp.path().join(".int4.gguf.tmp-choose-ab12");
        std::fs::create_dir(&choose).unwrap();
        std::fs::write(choose.join("fold-mixture.gguf"), b"candidate").unwrap();
        std::fs::write(tmp.path().join(".int8.gguf.tmp-123"), b"x").unwrap();
        std::fs::write(&out, b"done").unwrap();
        remove_partial(&out).unwrap();
        let mut left: Vec<_> =
            std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, [".int8.gguf.tmp-123", "int4.gguf"]);
    }
}
