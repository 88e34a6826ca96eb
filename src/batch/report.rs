//! The batch report: one row per job (model, recipe, size, bits per weight, time, PPL, KLD,
//! top-1 agreement, outlier dimensions), written as JSON, Markdown and CSV, with one PNG per
//! model of file size against KLD. Shards' reports merge into the report of the whole run.

use super::jobs::Job;
use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;
use crate::pipeline::Summary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One job's outcome.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JobResult {
    pub index: usize,
    pub model: String,
    pub recipe: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub outliers: String,
    pub format: String,
    pub ok: bool,
    pub error: Option<String>,
    /// Relative to the run's `out_dir`.
    pub output: String,
    pub output_bytes: Option<u64>,
    pub source_bytes: Option<u64>,
    pub params: Option<u64>,
    pub bpw: Option<f64>,
    pub seconds: Option<f64>,
    pub calibration_seconds: Option<f64>,
    /// Whether the calibration came from the cache another recipe of the model filled.
    #[serde(default)]
    pub calibration_cached: Option<bool>,
    pub quantization_seconds: Option<f64>,
    pub ppl_before: Option<f64>,
    pub ppl_after: Option<f64>,
    pub kld: Option<f64>,
    pub kld_stderr: Option<f64>,
    pub top1_agreement: Option<f64>,
    pub massive_dims: Vec<usize>,
    /// The job's peak resident memory (its own high-water mark: anonymous and file-backed).
    pub peak_rss_bytes: Option<u64>,
    /// The job's peak anonymous memory, sampled by the batch while it ran.
    #[serde(default)]
    pub peak_anon_bytes: Option<u64>,
    /// The memory `--jobs auto` expected the job to need.
    #[serde(default)]
    pub estimate_bytes: Option<u64>,
}

/// Fields that measure the run rather than its outputs: they differ between two runs of the
/// same manifest while every other field is equal.
pub const RUN_FIELDS: [&str; 7] = [
    "seconds",
    "calibration_seconds",
    "calibration_cached",
    "quantization_seconds",
    "peak_rss_bytes",
    "peak_anon_bytes",
    "estimate_bytes",
];

fn relative(job: &Job, out_dir: &Path) -> String {
    job.output.strip_prefix(out_dir).unwrap_or(&job.output).display().to_string()
}

impl JobResult {
    fn base(job: &Job, out_dir: &Path, ok: bool, error: Option<String>) -> JobResult {
        JobResult {
            index: job.index,
            model: job.model.clone(),
            recipe: job.recipe.name.clone(),
            ty: job.recipe.ty.to_string(),
            outliers: job.recipe.outliers.to_string(),
            format: job.recipe.format.name().to_string(),
            ok,
            error,
            output: relative(job, out_dir),
            output_bytes: None,
            source_bytes: None,
            params: None,
            bpw: None,
            seconds: None,
            calibration_seconds: None,
            calibration_cached: None,
            quantization_seconds: None,
            ppl_before: None,
            ppl_after: None,
            kld: None,
            kld_stderr: None,
            top1_agreement: None,
            massive_dims: vec![],
            peak_rss_bytes: None,
            peak_anon_bytes: None,
            estimate_bytes: None,
        }
    }

    pub fn failed(job: &Job, out_dir: &Path, error: String) -> JobResult {
        Self::base(job, out_dir, false, Some(error))
    }

    /// A finished job, from the summary its `quantize` process wrote. `output_bytes` is the
    /// size of everything written (for a compressed-tensors directory, all its files).
    pub fn finished(job: &Job, out_dir: &Path, s: &Summary, output_bytes: u64, seconds: f64) -> JobResult {
        let e = s.eval.as_ref();
        JobResult {
            output_bytes: Some(output_bytes),
            source_bytes: Some(s.source_bytes),
            params: Some(s.params),
            bpw: Some(output_bytes as f64 * 8.0 / s.params.max(1) as f64),
            seconds: Some(seconds),
            calibration_seconds: Some(s.calibration_seconds),
            calibration_cached: Some(s.calibration_cached),
            quantization_seconds: Some(s.quantization_seconds),
            ppl_before: e.map(|e| e.ppl_before),
            ppl_after: e.map(|e| e.ppl_after),
            kld: e.map(|e| e.kld),
            kld_stderr: e.map(|e| e.kld_stderr),
            top1_agreement: e.map(|e| e.top1_agreement),
            massive_dims: s.massive_dims.clone(),
            peak_rss_bytes: s.peak_rss_bytes,
            ..Self::base(job, out_dir, true, None)
        }
    }

    pub fn key(&self) -> String {
        format!("{}/{}", self.model, self.recipe)
    }

    /// The row with the run measurements ([`RUN_FIELDS`]) cleared.
    pub fn outcome(&self) -> JobResult {
        JobResult {
            seconds: None,
            calibration_seconds: None,
            quantization_seconds: None,
            peak_rss_bytes: None,
            peak_anon_bytes: None,
            estimate_bytes: None,
            ..self.clone()
        }
    }
}

/// The report of a run, of one shard, or of shards merged.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub tool_version: String,
    pub manifest: String,
    /// Jobs in the whole manifest; `jobs` holds those this report covers, in manifest order.
    pub jobs_total: usize,
    /// The shards this report covers (`"all"` for an unsharded run).
    pub shards: Vec<String>,
    /// Highest total resident memory of the jobs running at once (sampled), in bytes.
    pub peak_rss_bytes: Option<u64>,
    pub jobs: Vec<JobResult>,
}

impl Report {
    pub fn failed(&self) -> impl Iterator<Item = &JobResult> {
        self.jobs.iter().filter(|j| !j.ok)
    }

    /// Manifest positions this report does not cover.
    pub fn missing(&self) -> Vec<usize> {
        (0..self.jobs_total).filter(|i| !self.jobs.iter().any(|j| j.index == *i)).collect()
    }

    /// Merges shards' reports of one manifest. A job reported twice keeps its successful row.
    pub fn merge(reports: Vec<(PathBuf, Report)>) -> Result<Report> {
        let Some((first_path, first)) = reports.first().cloned() else {
            return Err(Error::Invalid("no reports to merge".into()));
        };
        let mut jobs: BTreeMap<usize, JobResult> = BTreeMap::new();
        let mut shards = Vec::new();
        let mut peak: Option<u64> = None;
        for (path, r) in reports {
            if r.manifest != first.manifest || r.jobs_total != first.jobs_total {
                return Err(Error::Invalid(format!(
                    "{}: report of {} ({} jobs) does not match {}'s report of {} ({} jobs)",
                    path.display(),
                    r.manifest,
                    r.jobs_total,
                    first_path.display(),
                    first.manifest,
                    first.jobs_total
                )));
            }
            shards.extend(r.shards);
            peak = peak.max(r.peak_rss_bytes);
            for j in r.jobs {
                match jobs.get(&j.index) {
                    Some(old) if old.ok || !j.ok => {}
                    _ => {
                        jobs.insert(j.index, j);
                    }
                }
            }
        }
        shards.sort();
        shards.dedup();
        Ok(Report {
            tool_version: first.tool_version,
            manifest: first.manifest,
            jobs_total: first.jobs_total,
            shards,
            peak_rss_bytes: peak,
            jobs: jobs.into_values().collect(),
        })
    }

    pub fn read(dir: &Path) -> Result<Report> {
        let path = dir.join("report.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::corrupt(&path, format!("not a batch report: {e}")))
    }

    /// The table as Markdown.
    pub fn markdown(&self) -> String {
        let mib = |b: u64| format!("{:.1}", b as f64 / (1u64 << 20) as f64);
        let opt = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
        let mut s = String::from("# sinkquant batch report\n\n");
        s += &format!(
            "Manifest `{}`: {} of {} jobs (shards: {}), {} failed.",
            self.manifest,
            self.jobs.len(),
            self.jobs_total,
            self.shards.join(", "),
            self.failed().count()
        );
        if let Some(p) = self.peak_rss_bytes {
            s += &format!(" Peak resident memory of the jobs running at once: {} MiB.", mib(p));
        }
        s += "\n\n| model | recipe | type | outliers | format | size (MiB) | bpw | time (s) | PPL before | PPL after | KLD | top-1 | massive dims | peak RSS (MiB) | peak anon (MiB) | estimate (MiB) |\n";
        s += "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n";
        for j in &self.jobs {
            if !j.ok {
                s += &format!(
                    "| {} | {} | {} | {} | {} | failed | | | | | | | | | | |\n",
                    j.model, j.recipe, j.ty, j.outliers, j.format
                );
                continue;
            }
            s += &format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                j.model,
                j.recipe,
                j.ty,
                j.outliers,
                j.format,
                j.output_bytes.map_or("-".into(), mib),
                opt(j.bpw, 2),
                opt(j.seconds, 1),
                opt(j.ppl_before, 3),
                opt(j.ppl_after, 3),
                opt(j.kld, 5),
                j.top1_agreement.map_or("-".into(), |t| format!("{:.2}%", 100.0 * t)),
                j.massive_dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" "),
                j.peak_rss_bytes.map_or("-".into(), mib),
                j.peak_anon_bytes.map_or("-".into(), mib),
                j.estimate_bytes.map_or("-".into(), mib),
            );
        }
        let failed: Vec<_> = self.failed().collect();
        if !failed.is_empty() {
            s += "\n## Failed\n\n";
            for j in failed {
                s += &format!("- `{}`: {}\n", j.key(), j.error.as_deref().unwrap_or("failed"));
            }
        }
        let missing = self.missing();
        if !missing.is_empty() && self.shards.iter().all(|s| s != "all") {
            s += &format!("\nNot covered by these shards: manifest jobs {missing:?}.\n");
        }
        let plotted: Vec<&str> = self.models().into_iter().filter(|m| !self.frontier(m).is_empty()).collect();
        if !plotted.is_empty() {
            s += "\n## Size against KL divergence\n\n";
            for m in plotted {
                s += &format!("![{m}]({m}.png)\n");
            }
        }
        s
    }

    /// The table as CSV (UTF-8 bytes), one row per job, with exact bytes and unrounded figures.
    pub fn csv(&self) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let e = |e: csv::Error| Error::Invalid(format!("cannot write the CSV report: {e}"));
        w.write_record([
            "model",
            "recipe",
            "type",
            "outliers",
            "format",
            "ok",
            "error",
            "output",
            "output_bytes",
            "bpw",
            "seconds",
            "calibration_seconds",
            "calibration_cached",
            "quantization_seconds",
            "ppl_before",
            "ppl_after",
            "kld",
            "kld_stderr",
            "top1_agreement",
            "massive_dims",
            "peak_rss_bytes",
            "peak_anon_bytes",
            "estimate_bytes",
        ])
        .map_err(e)?;
        let o = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let n = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        for j in &self.jobs {
            let dims = j.massive_dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" ");
            w.write_record([
                j.model.clone(),
                j.recipe.clone(),
                j.ty.clone(),
                j.outliers.clone(),
                j.format.clone(),
                j.ok.to_string(),
                j.error.clone().unwrap_or_default(),
                j.output.clone(),
                n(j.output_bytes),
                o(j.bpw),
                o(j.seconds),
                o(j.calibration_seconds),
                j.calibration_cached.map(|c| c.to_string()).unwrap_or_default(),
                o(j.quantization_seconds),
                o(j.ppl_before),
                o(j.ppl_after),
                o(j.kld),
                o(j.kld_stderr),
                o(j.top1_agreement),
                dims,
                n(j.peak_rss_bytes),
                n(j.peak_anon_bytes),
                n(j.estimate_bytes),
            ])
            .map_err(e)?;
        }
        w.into_inner().map_err(|e| Error::Invalid(format!("cannot write the CSV report: {e}")))
    }

    /// Model names in manifest order.
    pub fn models(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for j in &self.jobs {
            if !names.contains(&j.model.as_str()) {
                names.push(&j.model);
            }
        }
        names
    }

    /// (recipe, size in bytes, KLD) of `model`'s measured jobs.
    pub fn frontier(&self, model: &str) -> Vec<(String, u64, f64)> {
        self.jobs
            .iter()
            .filter(|j| j.model == model && j.ok)
            .filter_map(|j| Some((j.recipe.clone(), j.output_bytes?, j.kld?)))
            .collect()
    }

    /// Writes report.json, report.md, report.csv and `<model>.png` into `dir`; returns the paths.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let json = serde_json::to_string_pretty(self).expect("report serializes") + "\n";
        let mut written = Vec::new();
        let files = [
            ("report.json", json.into_bytes()),
            ("report.md", self.markdown().into_bytes()),
            ("report.csv", self.csv()?),
        ];
        for (name, bytes) in files {
            let path = dir.join(name);
            let mut f = AtomicFile::create(&path)?;
            f.write_all(&bytes)?;
            f.commit()?;
            written.push(path);
        }
        for m in self.models() {
            let points = self.frontier(m);
            if !points.is_empty() {
                let path = dir.join(format!("{m}.png"));
                super::plot::write(&path, m, &points)?;
                written.push(path);
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: usize, model: &str, recipe: &str, ok: bool, kld: Option<f64>) -> JobResult {
        JobResult {
            index,
            model: model.into(),
            recipe: recipe.into(),
            ty: "int4".into(),
            outliers: "fold".into(),
            format: "gguf".into(),
            ok,
            error: (!ok).then(|| format!("{model}: missing")),
            output: format!("{model}/{recipe}.gguf"),
            output_bytes: ok.then_some(1000 + index as u64),
            source_bytes: None,
            params: Some(2000),
            bpw: Some(4.0),
            seconds: Some(index as f64),
            calibration_seconds: None,
            calibration_cached: None,
            quantization_seconds: None,
            ppl_before: None,
            ppl_after: None,
            kld,
            kld_stderr: None,
            top1_agreement: Some(0.9),
            massive_dims: vec![3, 7],
            peak_rss_bytes: Some(1 << 20),
            peak_anon_bytes: Some(1 << 19),
            estimate_bytes: Some(1 << 21),
        }
    }

    fn report(shard: &str, jobs: Vec<JobResult>) -> (PathBuf, Report) {
        let r = Report {
            tool_version: "0".into(),
            manifest: "zoo.toml".into(),
            jobs_total: 4,
            shards: vec![shard.into()],
            peak_rss_bytes: Some(5),
            jobs,
        };
        (PathBuf::from(shard), r)
    }

    #[test]
    fn merged_shards_equal_the_whole_run() {
        let all: Vec<_> = (0..4).map(|i| row(i, ["a", "b"][i / 2], ["x", "y"][i % 2], i != 3, Some(0.1))).collect();
        let s0 = report("0/2", vec![all[0].clone(), all[2].clone()]);
        let s1 = report("1/2", vec![all[1].clone(), all[3].clone()]);
        let merged = Report::merge(vec![s1, s0]).unwrap();
        assert_eq!(merged.jobs, all);
        assert_eq!(merged.shards, ["0/2", "1/2"]);
        assert!(merged.missing().is_empty());
        assert_eq!(merged.failed().count(), 1);
        // A job retried in another report keeps its successful row.
        let retried = report("1/2", vec![row(3, "b", "y", true, Some(0.2))]);
        let m2 = Report::merge(vec![report("x", all.clone()), retried]).unwrap();
        assert!(m2.jobs[3].ok && m2.failed().count() == 0);
        let mut other = report("1/2", vec![]);
        other.1.jobs_total = 5;
        assert!(Report::merge(vec![report("0/2", vec![]), other]).is_err());
    }

    #[test]
    fn tables_hold_every_job() {
        let (_, r) = report("all", (0..4).map(|i| row(i, "a", &format!("r{i}"), i != 1, Some(0.01))).collect());
        let md = r.markdown();
        assert_eq!(md.lines().filter(|l| l.starts_with("| a |")).count(), 4);
        assert!(md.contains("`a/r1`: a: missing") && md.contains("![a](a.png)"));
        let csv = String::from_utf8(r.csv().unwrap()).unwrap();
        assert_eq!(csv.lines().count(), 5);
        assert!(csv.lines().nth(1).unwrap().starts_with("a,r0,int4,fold,gguf,true,,a/r0.gguf,1000,"));
        assert_eq!(r.frontier("a").len(), 3);
        assert_eq!(r.jobs[0].outcome().seconds, None);
        assert_eq!(r.jobs[0].outcome().kld, Some(0.01));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(r.write(dir.path()).unwrap().len(), 4);
        assert_eq!(Report::read(dir.path()).unwrap(), r);
        assert!(std::fs::read(dir.path().join("a.png")).unwrap().starts_with(b"\x89PNG"));
    }
}
