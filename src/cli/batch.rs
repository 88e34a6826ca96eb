//! `quantize batch MANIFEST [--jobs N] [--resume] [--shard I/N] [--report DIR]`: every model of
//! a manifest with every recipe, each job a child `quantize` process (so a crash, an abort or an
//! out-of-memory kill ends that job only), up to N at once, with one progress line per running
//! job and an overall bar; then the report.

use super::procfs;
use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use sinkquant::batch::schedule::{self, Admission, JobsAtOnce};
use sinkquant::batch::state::{self, Record, StateDir};
use sinkquant::batch::{expand, Job, JobResult, Manifest, Report, Shard};
use sinkquant::pipeline::{JobSpec, Summary};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set in each job's environment: the batch's process id. The job exits when its parent is
/// gone, so a killed batch leaves no job running behind it (see [`watch_parent`]).
pub const PARENT_ENV: &str = "SINKQUANT_BATCH_PARENT";

#[derive(clap::Args)]
pub struct Args {
    /// TOML manifest: out_dir, optional calib/eval texts, [[models]] path, [[recipes]] name,
    /// type, outliers, format (see docs/batch.md)
    pub manifest: PathBuf,
    /// Jobs run at once: a number, or `auto` (up to one per core, started while their memory
    /// estimates fit together in what the machine has free; see docs/batch.md)
    #[arg(long, default_value = "auto", value_parser = |s: &str| JobsAtOnce::parse(s))]
    pub jobs: JobsAtOnce,
    /// Skip jobs finished by an earlier run whose inputs, recipe and output are unchanged
    #[arg(long)]
    pub resume: bool,
    /// Run only shard I of N (jobs whose manifest position is I modulo N), e.g. --shard
    /// $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
    #[arg(long, value_parser = |s: &str| Shard::parse(s))]
    pub shard: Option<Shard>,
    /// Report folder (default: OUT_DIR/report, or OUT_DIR/report-shard-I-of-N)
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Threads per job (default: the cores divided among the jobs running at once)
    #[arg(long)]
    pub threads: Option<usize>,
    /// List the jobs, their outputs and whether a finished record exists, and stop
    #[arg(long)]
    pub dry_run: bool,
}

pub const LONG_ABOUT: &str = "Batch-convert a model zoo. The manifest's models times its recipes \
make the jobs; each runs as a child `quantize` process writing out_dir/<model>/<recipe>.<format> \
under a temporary name. A failing job is reported with its error and the others go on; the exit \
status is non-zero when any failed. Each finished job leaves a record in \
out_dir/.sinkquant-batch/done, so --resume after a crash or a kill redoes only unfinished jobs. \
--shard I/N splits the jobs deterministically for cluster array jobs; `quantize batch-report` \
merges the shards' reports. The report (report.md, report.csv, report.json, one PNG per model of \
size against KLD) goes to --report.";

struct Running {
    job: Job,
    fingerprint: String,
    child: Child,
    started: Instant,
    bar: ProgressBar,
    /// The job's memory estimate (0 without one).
    need: u64,
    /// The largest anonymous memory seen while polling.
    peak_anon: u64,
    /// The job's lock, released when the job's record is written and this is dropped.
    _lock: std::fs::File,
}

/// The last non-empty line of a log (its last 4 KiB).
fn last_line(log: &Path) -> Option<String> {
    let mut f = std::fs::File::open(log).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.lines().rev().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}

/// The one-line reason a job failed: its `error:` line, or how the process ended.
fn failure(log: &Path, status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    if let Some(e) = text.lines().rev().find_map(|l| l.strip_prefix("error: ")) {
        return e.to_string();
    }
    let how = match status.signal() {
        Some(9) => "killed by SIGKILL (out of memory?)".to_string(),
        Some(s) => format!("killed by signal {s}"),
        None => format!("exited with {status}"),
    };
    match last_line(log) {
        Some(l) => format!("{how}; last output: {l}"),
        None => how,
    }
}

/// The `quantize` command line that runs `spec` in a child process.
fn child_args(spec: &JobSpec, threads: usize, summary: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |k: &str, v: OsString| {
        a.push(k.into());
        a.push(v);
    };
    let c = &spec.calib;
    if let Some(t) = &c.text {
        push("--calib", t.into());
    }
    push("--calib-chunks", c.chunks.to_string().into());
    push("--calib-ctx", c.ctx.to_string().into());
    push("--seed", c.seed.to_string().into());
    push("--type", spec.preset.name.into());
    push("--outliers", spec.outliers.name().into());
    push("--method", spec.method.name().into());
    let alloc = if spec.choose_alloc.len() > 1 { "auto" } else { spec.alloc.name() };
    push("--allocation", alloc.into());
    push("--threads", threads.to_string().into());
    push("--json", summary.into());
    if let Some(dir) = &spec.calib_cache {
        push("--calib-cache", dir.into());
    }
    if let Some(e) = &spec.eval {
        push("--eval", e.text.clone().into());
        push("--eval-chunks", e.chunks.to_string().into());
    }
    if !spec.imatrix {
        a.push("--no-imatrix".into());
    }
    if spec.replace {
        a.push("--force".into());
    }
    a.push(spec.input.clone().into());
    a.push(spec.output.clone().into());
    a
}

fn start(job: Job, fingerprint: String, threads: usize, st: &StateDir, bar: ProgressBar) -> Result<Running> {
    st.prepare(&job)?;
    let lock = st.lock(&job)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{}: another batch on this out_dir is running this job (it holds {}); not run twice, \
             rerun with --resume once that batch is done",
            job.output.display(),
            st.lock_path(&job).display()
        )
    })?;
    state::remove_partial(&job.output)?;
    let (log, summary) = (st.log(&job), st.summary(&job));
    let _ = std::fs::remove_file(&summary);
    let out = std::fs::File::create(&log).with_context(|| format!("{}: cannot create the log", log.display()))?;
    let err = out.try_clone().with_context(|| format!("{}: cannot create the log", log.display()))?;
    let exe = std::env::current_exe().context("cannot find the quantize executable")?;
    let child = Command::new(exe)
        .args(child_args(&job.spec(&st.calib_cache()), threads, &summary))
        .env(PARENT_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .context("cannot start a quantize process")?;
    bar.set_prefix(job.key());
    bar.set_message("starting");
    Ok(Running { job, fingerprint, child, started: Instant::now(), bar, need: 0, peak_anon: 0, _lock: lock })
}

/// The result of a job whose process ended with `status`; a success leaves a state record.
fn finish(r: &Running, status: std::process::ExitStatus, st: &StateDir, out_dir: &Path) -> JobResult {
    let seconds = r.started.elapsed().as_secs_f64();
    let job = &r.job;
    if !status.success() {
        let _ = state::remove_partial(&job.output);
        // The model's output folder, if this job made it and nothing else is in it.
        let _ = job.output.parent().map(std::fs::remove_dir);
        return JobResult::failed(job, out_dir, failure(&st.log(job), status));
    }
    let done = || -> Result<JobResult> {
        let path = st.summary(job);
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}: no job summary", path.display()))?;
        let summary: Summary =
            serde_json::from_str(&text).with_context(|| format!("{}: corrupt job summary", path.display()))?;
        let bytes = state::output_bytes(&job.output)
            .with_context(|| format!("{}: missing after the job succeeded", job.output.display()))?;
        let result = JobResult::finished(job, out_dir, &summary, bytes, seconds);
        st.save(job, &Record { fingerprint: r.fingerprint.clone(), output_bytes: bytes, result: result.clone() })?;
        Ok(result)
    };
    done().unwrap_or_else(|e| JobResult::failed(job, out_dir, format!("{e:#}")))
}

fn describe(j: &JobResult) -> String {
    if !j.ok {
        return format!("FAILED {}: {}", j.key(), j.error.as_deref().unwrap_or("failed"));
    }
    let mut s = format!("ok     {}: {}", j.key(), super::format::bytes(j.output_bytes.unwrap_or(0)));
    if let Some(b) = j.bpw {
        s += &format!(", {b:.2} bpw");
    }
    if let Some(k) = j.kld {
        s += &format!(", KLD {k:.5}");
    }
    if let Some(t) = j.seconds {
        s += &format!(", {t:.0} s");
    }
    s
}

/// Jobs not yet run, with their fingerprints; results of those that need no run.
struct Triage {
    results: Vec<JobResult>,
    pending: VecDeque<(Job, String)>,
    reused: usize,
}

/// Fingerprints first: a missing model or text fails its jobs here, before anything runs;
/// with `resume`, jobs finished with the same fingerprint are taken from their records.
fn triage(jobs: &[Job], st: &StateDir, out_dir: &Path, resume: bool) -> Triage {
    let mut t = Triage { results: vec![], pending: VecDeque::new(), reused: 0 };
    for job in jobs.iter().cloned() {
        match state::fingerprint(&job, env!("CARGO_PKG_VERSION")) {
            Err(e) => t.results.push(JobResult::failed(&job, out_dir, e.to_string())),
            Ok(fp) => match st.finished(&job, &fp).filter(|_| resume) {
                Some(rec) => {
                    t.results.push(rec.result);
                    t.reused += 1;
                }
                None => t.pending.push_back((job, fp)),
            },
        }
    }
    t
}

/// The running jobs and their progress lines.
struct Pool<'a> {
    st: &'a StateDir,
    out_dir: &'a Path,
    mp: MultiProgress,
    overall: ProgressBar,
    job_style: ProgressStyle,
    running: Vec<Running>,
    peak_rss: u64,
}

impl Pool<'_> {
    /// Starts pending jobs while `admission` lets them; `threads(n)` is the thread count when
    /// `n` jobs are running or waiting.
    fn fill(&mut self, t: &mut Triage, admission: &Admission, threads: &dyn Fn(usize) -> usize) {
        loop {
            let running_need = self.running.iter().map(|r| r.need).sum();
            match t.pending.front() {
                Some((job, _)) if admission.admits(self.running.len(), running_need, job.index) => {}
                _ => break,
            }
            let Some((job, fp)) = t.pending.pop_front() else { break };
            let bar =
                self.mp.insert_before(&self.overall, ProgressBar::new_spinner().with_style(self.job_style.clone()));
            let n = threads(self.running.len() + 1 + t.pending.len());
            match start(job.clone(), fp, n, self.st, bar.clone()) {
                Ok(r) => self.running.push(Running { need: admission.need(job.index), ..r }),
                Err(e) => {
                    bar.finish_and_clear();
                    self.mp.remove(&bar);
                    self.record(&mut t.results, JobResult::failed(&job, self.out_dir, format!("{e:#}")));
                }
            }
        }
    }

    fn record(&self, results: &mut Vec<JobResult>, r: JobResult) {
        self.mp.suspend(|| println!("{}", describe(&r)));
        results.push(r);
        self.overall.inc(1);
        let failed = results.iter().filter(|r| !r.ok).count();
        if failed > 0 {
            self.overall.set_message(format!("({failed} failed)"));
        }
    }

    /// Updates the progress lines and collects the jobs that ended.
    fn poll(&mut self, results: &mut Vec<JobResult>) {
        let rss: u64 = self.running.iter().filter_map(|r| procfs::rss_of(r.child.id())).sum();
        self.peak_rss = self.peak_rss.max(rss);
        for r in self.running.iter_mut() {
            r.peak_anon = r.peak_anon.max(procfs::anon_of(r.child.id()).unwrap_or(0));
        }
        let mut i = 0;
        while i < self.running.len() {
            let status = self.running[i].child.try_wait();
            if let Ok(None) = status {
                let r = &self.running[i];
                r.bar.set_message(last_line(&self.st.log(&r.job)).unwrap_or_default());
                r.bar.tick();
                i += 1;
                continue;
            }
            let r = self.running.swap_remove(i);
            let result = match status {
                Ok(Some(status)) => finish(&r, status, self.st, self.out_dir),
                Err(e) => JobResult::failed(&r.job, self.out_dir, format!("cannot wait for the job: {e}")),
                Ok(None) => unreachable!("handled above"),
            };
            r.bar.finish_and_clear();
            self.mp.remove(&r.bar);
            let result = JobResult {
                peak_anon_bytes: (r.peak_anon > 0).then_some(r.peak_anon),
                estimate_bytes: (r.need > 0).then_some(r.need),
                ..result
            };
            self.record(results, result);
        }
    }
}

pub fn run(a: Args) -> Result<()> {
    let manifest = Manifest::load(&a.manifest)?;
    let out_dir = manifest.out_dir.clone();
    let all = expand(&manifest);
    let jobs_total = all.len();
    let jobs = match a.shard {
        Some(s) => s.select(all),
        None => all,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Threads per job: the cores shared by the jobs that will run at once; when fewer jobs are
    // left than --jobs, the last ones get more (outputs do not depend on the thread count).
    std::fs::create_dir_all(&out_dir).with_context(|| format!("{}: cannot create out_dir", out_dir.display()))?;
    let st = StateDir::new(&out_dir);
    let mut t = triage(&jobs, &st, &out_dir, a.resume);
    let admission = match a.jobs {
        JobsAtOnce::Fixed(n) => Admission::fixed(n),
        JobsAtOnce::Auto => {
            let pending: Vec<Job> = t.pending.iter().map(|(j, _)| j.clone()).collect();
            let free = sinkquant::memory::available_bytes().unwrap_or(8 << 30);
            let adm = Admission::auto(&pending, &st.calib_cache(), cores, free);
            if !pending.is_empty() {
                println!("{}", schedule::describe(&adm, &pending));
            }
            adm
        }
    };
    let at_once = match a.jobs {
        JobsAtOnce::Fixed(n) => n,
        JobsAtOnce::Auto => admission.at_once(),
    };
    let share = |n: usize| a.threads.unwrap_or((cores / n.clamp(1, at_once)).max(1));
    let shard = a.shard.map_or("all".to_string(), |s| s.to_string());
    println!(
        "{}: {} of {} jobs (shard {shard}), {} to run, {} finished earlier, {} failed before starting; {} at once, {} threads each",
        a.manifest.display(),
        jobs.len(),
        jobs_total,
        t.pending.len(),
        t.reused,
        t.results.iter().filter(|r| !r.ok).count(),
        at_once,
        share(jobs.len())
    );
    if a.dry_run {
        for j in &jobs {
            let state = if t.results.iter().any(|r| r.index == j.index && r.ok) { "finished" } else { "to run" };
            println!("{:>4}  {:<40} {:<9} {}", j.index, j.key(), state, j.output.display());
        }
        return Ok(());
    }
    for r in t.results.iter().filter(|r| !r.ok) {
        println!("{}", describe(r));
    }
    // Start order: each model's first recipe before any model's second, so that a model's
    // later recipes mostly find its calibration in the cache instead of repeating it.
    let recipes = manifest.recipes.len();
    t.pending.make_contiguous().sort_by_key(|(j, _)| (j.index % recipes, j.index / recipes));
    let peak_rss = run_pool(&mut t, &st, &out_dir, jobs.len(), &admission, &share)?;
    let report = Report {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        manifest: a.manifest.display().to_string(),
        jobs_total,
        shards: vec![shard],
        peak_rss_bytes: (peak_rss > 0).then_some(peak_rss),
        jobs: t.results,
    };
    write_report(&a, &out_dir, report)
}

/// Runs the pending jobs, `max` at once; returns the peak resident memory of those running.
fn run_pool(
    t: &mut Triage,
    st: &StateDir,
    out_dir: &Path,
    n_jobs: usize,
    admission: &Admission,
    share: &dyn Fn(usize) -> usize,
) -> Result<u64> {
    let mp = MultiProgress::new();
    let overall = mp.add(ProgressBar::new(n_jobs as u64));
    overall.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} jobs {msg} elapsed {elapsed}")?.progress_chars("=> "),
    );
    overall.set_position(t.results.len() as u64);
    let job_style = ProgressStyle::with_template("{spinner} {prefix:<36} {elapsed:>4} {wide_msg}")?;
    let mut pool = Pool { st, out_dir, mp, overall, job_style, running: vec![], peak_rss: 0 };
    while !t.pending.is_empty() || !pool.running.is_empty() {
        pool.fill(t, admission, share);
        std::thread::sleep(Duration::from_millis(200));
        pool.poll(&mut t.results);
    }
    pool.overall.finish_and_clear();
    t.results.sort_by_key(|r| r.index);
    Ok(pool.peak_rss)
}

fn write_report(a: &Args, out_dir: &Path, report: Report) -> Result<()> {
    let dir = a.report.clone().unwrap_or_else(|| match a.shard {
        None => out_dir.join("report"),
        Some(s) => out_dir.join(format!("report-shard-{}-of-{}", s.index, s.count)),
    });
    report.write(&dir)?;
    let failed = report.failed().count();
    println!(
        "report: {} ({} jobs, {} failed; peak resident memory of the running jobs {})",
        dir.join("report.md").display(),
        report.jobs.len(),
        failed,
        report.peak_rss_bytes.map_or("-".into(), super::format::bytes)
    );
    if failed > 0 {
        bail!("{failed} of {} jobs failed (each is listed above, and in {})", report.jobs.len(), dir.display());
    }
    Ok(())
}

/// In a job started by `quantize batch`: exit as soon as the batch process is gone, so a batch
/// killed with SIGKILL leaves no job writing behind it (its partial output is removed by the
/// next run).
pub fn watch_parent() {
    let Some(parent) = std::env::var(PARENT_ENV).ok().and_then(|p| p.parse::<u32>().ok()) else { return };
    std::thread::spawn(move || loop {
        if std::os::unix::process::parent_id() != parent {
            std::process::exit(3);
        }
        std::thread::sleep(Duration::from_millis(250));
    });
}

/// `quantize batch-report DIR... --out DIR`: merges shards' reports.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// Report folders written by `quantize batch` (each holds report.json)
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Folder for the merged report
    #[arg(long)]
    pub out: PathBuf,
}

pub fn merge(a: ReportArgs) -> Result<()> {
    let reports = a.dirs.iter().map(|d| Ok((d.clone(), Report::read(d)?))).collect::<Result<Vec<_>>>()?;
    let merged = Report::merge(reports)?;
    merged.write(&a.out)?;
    let missing = merged.missing();
    println!(
        "{}: {} of {} jobs from shards {}, {} failed{}",
        a.out.join("report.md").display(),
        merged.jobs.len(),
        merged.jobs_total,
        merged.shards.join(", "),
        merged.failed().count(),
        if missing.is_empty() { String::new() } else { format!("; manifest jobs {missing:?} are in none of them") }
    );
    for j in &merged.jobs {
        println!("{}", describe(j));
    }
    Ok(())
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
