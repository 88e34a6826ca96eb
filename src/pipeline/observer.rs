//! How a running job reports its progress: the pipeline calls an [`Observer`] at each stage
//! (the library never prints); the CLI renders progress bars and lines from it, the tests and
//! library users may ignore it with [`Silent`].

use super::summary::Summary;

use crate::memory::Estimate;
use crate::plan::TensorPlan;
use std::path::Path;

/// The stages that report progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Calibration chunks through the model (units: one chunk through one layer).
    Calibrate,
    /// The fold search over the layers' sites (units: sites).
    Fold,
    /// Quantizing and writing the output (units: bytes).
    Write,
    /// Evaluation of source and output (units: one chunk through one layer of one model).
    Evaluate,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Calibrate => "calibrate",
            Stage::Fold => "fold",
            Stage::Write => "write",
            Stage::Evaluate => "evaluate",
        }
    }
}

/// Events worth telling a person, with what they need to say it.
#[derive(Debug)]
pub enum Note<'a> {
    /// What the run expects to need in memory, against its budget (before any long work).
    Memory(&'a Estimate),
    Calibrating {
        model: &'a Path,
        chunks: usize,
        ctx: usize,
    },
    /// The calibration was taken from the cache in `dir`.
    CalibrationCached {
        model: &'a Path,
        dir: &'a Path,
    },
    /// The plan is made: every tensor's type and reason, and the planned size.
    Planned {
        plan: &'a [TensorPlan],
        bytes: u64,
        bpw: f64,
    },
    Writing {
        output: &'a Path,
    },
    /// The output is complete (before any evaluation): what was done so far.
    Written(&'a Summary),
    Evaluating {
        text: &'a Path,
        chunks: usize,
        ctx: usize,
    },
    /// `--method auto` chose `method`: GPTQ's run would need about `peak` bytes.
    MethodChosen {
        method: crate::quant::methods::Method,
        peak: u64,
    },
    /// The outlier policy was chosen by measuring each candidate file on calibration text.
    Chose(&'a [super::summary::Candidate]),
}

/// Receives a job's progress. Every method has an empty default.
pub trait Observer {
    /// A stage starts with `total` units of work.
    fn begin(&mut self, _stage: Stage, _total: u64) {}
    /// `done` units of the current stage are finished; `item` names the last one (a tensor).
    fn advance(&mut self, _done: u64, _item: Option<&str>) {}
    /// The current stage is over.
    fn end(&mut self, _stage: Stage) {}
    fn note(&mut self, _note: Note<'_>) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {}
