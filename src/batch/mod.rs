//! Batch conversion of model zoos: a TOML manifest of models and recipes (`manifest`), the
//! jobs it expands to and their split into shards (`jobs`), the resume state (`state`) and the
//! report of the run (`report`, `plot`), how many jobs run at once (`schedule`). Running the jobs (child processes, progress, memory)
//! is the CLI's part: `quantize batch`.

pub mod jobs;
pub mod manifest;
pub mod plot;
pub mod report;
pub mod schedule;
pub mod state;

pub use jobs::{expand, Job, Shard};
pub use manifest::{Format, Manifest, Recipe};
pub use report::{JobResult, Report};
