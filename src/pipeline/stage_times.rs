//! Where a job's time went: an observer in front of the caller's that times each stage and
//! forwards everything. The totals go into the summary (`stages`), so a script can see what a
//! slow run spent its time on (calibration, fold search, each write, the measured choice).

use super::observer::{Note, Observer, Stage};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One stage's wall time, summed over its runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageTime {
    pub stage: String,
    /// How many times the stage ran (one write per candidate, for example).
    pub runs: usize,
    pub seconds: f64,
}

/// Times the stages the pipeline reports to `inner`.
pub(super) struct Timed<'a> {
    inner: &'a mut dyn Observer,
    current: Option<(Stage, Instant)>,
    totals: Vec<StageTime>,
}

impl<'a> Timed<'a> {
    pub fn new(inner: &'a mut dyn Observer) -> Self {
        Timed { inner, current: None, totals: Vec::new() }
    }

    /// The stages that ended so far, in the order they first ran.
    pub fn totals(&self) -> Vec<StageTime> {
        self.totals.clone()
    }

    fn record(&mut self, stage: Stage, seconds: f64) {
        match self.totals.iter_mut().find(|t| t.stage == stage.name()) {
            Some(t) => {
                t.runs += 1;
                t.seconds += seconds;
            }
            None => self.totals.push(StageTime { stage: stage.name().to_string(), runs: 1, seconds }),
        }
    }
}

impl Observer for Timed<'_> {
    fn begin(&mut self, stage: Stage, total: u64) {
        self.current = Some((stage, Instant::now()));
        self.inner.begin(stage, total);
    }

    fn advance(&mut self, done: u64, item: Option<&str>) {
        self.inner.advance(done, item);
    }

    fn end(&mut self, stage: Stage) {
        if let Some((s, t0)) = self.current.take().filter(|(s, _)| *s == stage) {
            self.record(s, t0.elapsed().as_secs_f64());
        }
        self.inner.end(stage);
    }

    fn note(&mut self, note: Note<'_>) {
        self.inner.note(note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Silent;

    #[test]
    fn stages_are_summed_per_name_in_first_run_order() {
        let mut silent = Silent;
        let mut t = Timed::new(&mut silent);
        for stage in [Stage::Calibrate, Stage::Write, Stage::Evaluate, Stage::Write] {
            t.begin(stage, 1);
            std::thread::sleep(std::time::Duration::from_millis(5));
            t.end(stage);
        }
        // An end without its begin is not counted.
        t.end(Stage::Fold);
        let totals = t.totals();
        let names: Vec<_> = totals.iter().map(|s| (s.stage.as_str(), s.runs)).collect();
        assert_eq!(names, [("calibrate", 1), ("write", 2), ("evaluate", 1)]);
        assert!(totals[1].seconds >= 0.010 && totals[1].seconds > totals[0].seconds, "{totals:?}");
    }
}
