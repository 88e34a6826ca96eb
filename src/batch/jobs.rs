//! The jobs of a manifest (models x recipes, in manifest order) and their deterministic split
//! into shards for cluster array jobs.

use super::manifest::{Format, Manifest, Recipe};
use crate::error::{Error, Result};
use crate::pipeline::{CalibSpec, Effort, EvalSpec, JobSpec};
use std::fmt;
use std::path::{Path, PathBuf};

/// One model quantized with one recipe.
#[derive(Clone, Debug)]
pub struct Job {
    /// Position in the manifest's product (model-major), stable across shards.
    pub index: usize,
    pub model: String,
    pub model_path: PathBuf,
    pub recipe: Recipe,
    /// `out_dir/<model>/<recipe>.<format>` (a compressed-tensors directory for safetensors).
    pub output: PathBuf,
}

impl Job {
    /// `model/recipe`: the job's name in the report, logs and state.
    pub fn key(&self) -> String {
        format!("{}/{}", self.model, self.recipe.name)
    }

    /// The pipeline's request for this job, calibrations shared through `calib_cache`.
    pub fn spec(&self, calib_cache: &Path) -> JobSpec {
        let r = &self.recipe;
        let mut s = JobSpec::new(&self.model_path, &self.output);
        s.preset = r.ty;
        s.outliers = r.outliers;
        s.imatrix = r.imatrix;
        s.method = r.method;
        match r.allocation {
            Some(a) => s.alloc = a,
            None => s.choose_alloc = Effort::Default.alloc_candidates(),
        }
        s.calib = CalibSpec { text: r.calib.clone(), chunks: r.calib_chunks, ctx: r.ctx, ..CalibSpec::default() };
        s.calib_cache = Some(calib_cache.to_path_buf());
        s.eval = r.eval.clone().map(|text| EvalSpec { text, chunks: r.eval_chunks });
        // A compressed-tensors directory left by an earlier run is replaced.
        s.replace = r.format == Format::Safetensors;
        s
    }
}

/// Every job of the manifest, model-major.
pub fn expand(m: &Manifest) -> Vec<Job> {
    let mut jobs = Vec::new();
    for model in &m.models {
        for recipe in &m.recipes {
            let ext = match recipe.format {
                Format::Gguf => "gguf",
                Format::Safetensors => "safetensors",
            };
            jobs.push(Job {
                index: jobs.len(),
                model: model.name.clone(),
                model_path: model.path.clone(),
                recipe: recipe.clone(),
                output: m.out_dir.join(&model.name).join(format!("{}.{ext}", recipe.name)),
            });
        }
    }
    jobs
}

/// Shard `index` of `count`: the jobs whose manifest position is `index` modulo `count`.
/// Every job falls in exactly one shard, and the split depends on the manifest alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` with 0 <= I < N.
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = |msg: String| Error::Invalid(msg);
        let (i, n) = s.split_once('/').ok_or_else(|| bad(format!("shard {s:?} is not I/N (for example 0/4)")))?;
        let (i, n): (usize, usize) = match (i.trim().parse(), n.trim().parse()) {
            (Ok(i), Ok(n)) => (i, n),
            _ => return Err(bad(format!("shard {s:?} is not I/N with whole numbers"))),
        };
        if n == 0 || i >= n {
            return Err(bad(format!("shard {s:?}: need 0 <= I < N")));
        }
        Ok(Shard { index: i, count: n })
    }

    /// Whether the job at manifest position `index` belongs to this shard.
    pub fn owns(self, index: usize) -> bool {
        index % self.count == self.index
    }

    pub fn select(self, jobs: Vec<Job>) -> Vec<Job> {
        jobs.into_iter().filter(|j| self.owns(j.index)).collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_job_once() {
        for n in 1..6 {
            let mut seen = vec![0; 11];
            for i in 0..n {
                let s = Shard::parse(&format!("{i}/{n}")).unwrap();
                for (j, count) in seen.iter_mut().enumerate() {
                    if s.owns(j) {
                        *count += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "n={n}: {seen:?}");
        }
        for bad in ["2/2", "1", "a/3", "0/0", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
