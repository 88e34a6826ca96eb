//! How many jobs run at once: a fixed number (`--jobs N`), or (`--jobs auto`) as many as the
//! cores allow whose estimated memory fits together in what the machine has free.

use super::Job;
use crate::error::{Error, Result};
use crate::memory;
use std::collections::HashMap;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobsAtOnce {
    Auto,
    Fixed(usize),
}

impl JobsAtOnce {
    /// `auto` or a positive count.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(JobsAtOnce::Auto),
            n => match n.parse::<usize>() {
                Ok(n) if n > 0 => Ok(JobsAtOnce::Fixed(n)),
                _ => Err(Error::Invalid(format!("{s:?}: expected `auto` or a number of jobs of at least 1"))),
            },
        }
    }
}

/// Which pending job may start.
pub struct Admission {
    /// Jobs at once, at most.
    pub max: usize,
    /// Memory the running jobs' estimates may add up to (`u64::MAX` for a fixed count).
    pub limit: u64,
    /// Estimated peak per job (by manifest index); none for a job whose model cannot be read
    /// (it fails with its own error when it starts).
    pub needs: HashMap<usize, Option<u64>>,
}

impl Admission {
    pub fn fixed(max: usize) -> Self {
        Admission { max, limit: u64::MAX, needs: HashMap::new() }
    }

    /// As many at once as there are `cores`, within `available` bytes (nine tenths of it, for
    /// what the estimates miss), each job's need estimated from its model's shapes.
    pub fn auto(jobs: &[Job], calib_cache: &Path, cores: usize, available: u64) -> Self {
        let needs = jobs
            .iter()
            .map(|j| {
                let need = j.spec(calib_cache).estimate().map(|e| e.peak());
                (j.index, need.ok())
            })
            .collect();
        Admission { max: cores.max(1), limit: available / 10 * 9, needs }
    }

    /// The estimate of job `index` (0 when it has none: it fails on its own when it starts).
    pub fn need(&self, index: usize) -> u64 {
        self.needs.get(&index).copied().flatten().unwrap_or(0)
    }

    /// Whether job `index` may start beside `running` jobs that together need `running_need`.
    /// A job always starts when none runs, even one estimated beyond the limit.
    pub fn admits(&self, running: usize, running_need: u64, index: usize) -> bool {
        running == 0 || (running < self.max && running_need.saturating_add(self.need(index)) <= self.limit)
    }

    /// How many of the heaviest jobs would run at once (for the start line).
    pub fn at_once(&self) -> usize {
        let mut needs: Vec<u64> = self.needs.keys().map(|&i| self.need(i)).collect();
        needs.sort_unstable_by(|a, b| b.cmp(a));
        let mut sum = 0u64;
        let mut n = 0;
        for need in needs.iter().take(self.max) {
            sum = sum.saturating_add(*need);
            if n > 0 && sum > self.limit {
                break;
            }
            n += 1;
        }
        n.max(1).min(self.max)
    }
}

/// A person's line for the auto choice.
pub fn describe(a: &Admission, jobs: &[Job]) -> String {
    let mut heaviest: Vec<(&Job, u64)> = jobs.iter().map(|j| (j, a.need(j.index))).collect();
    heaviest.sort_by_key(|x| std::cmp::Reverse(x.1));
    let list: Vec<String> =
        heaviest.iter().take(4).map(|(j, n)| format!("{} ~{}", j.key(), memory::human(*n))).collect();
    format!(
        "--jobs auto: up to {} at once ({} cores; jobs start while their estimates fit in {}); heaviest: {}",
        a.max,
        a.max,
        memory::human(a.limit),
        list.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_start_while_their_estimates_fit() {
        assert_eq!(JobsAtOnce::parse("auto").unwrap(), JobsAtOnce::Auto);
        assert_eq!(JobsAtOnce::parse("3").unwrap(), JobsAtOnce::Fixed(3));
        assert!(JobsAtOnce::parse("0").is_err() && JobsAtOnce::parse("x").is_err());
        let needs = [(0, Some(6)), (1, Some(5)), (2, None)].into_iter().collect();
        let a = Admission { max: 2, limit: 10, needs };
        assert!(a.admits(0, 0, 0), "the first job always starts");
        assert!(!a.admits(1, 6, 1), "6 + 5 > 10");
        assert!(a.admits(1, 5, 2), "a job without an estimate counts 0");
        assert!(!a.admits(2, 0, 2), "at most max at once");
        assert!(a.admits(1, 4, 0));
        assert_eq!(a.at_once(), 1);
        let roomy = Admission { limit: 100, ..a };
        assert_eq!(roomy.at_once(), 2);
        let fixed = Admission::fixed(3);
        assert!(fixed.admits(2, u64::MAX - 1, 7) && !fixed.admits(3, 0, 7));
    }
}
