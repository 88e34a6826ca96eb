//! The terminal's view of a running job: a progress bar per pipeline stage, and a line for
//! each note (calibrating, plan, writing, evaluating, the measured choice of outlier policy).

use super::format;
use indicatif::{ProgressBar, ProgressStyle};
use sinkquant::pipeline::{Note, Observer, Stage, TensorPlan};

pub fn bar(len: u64, template: &str) -> ProgressBar {
    ProgressBar::new(len)
        .with_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "))
}

fn template(stage: Stage) -> &'static str {
    match stage {
        Stage::Calibrate => "{spinner} calibrating [{bar:30}] {percent}% of chunk-layers eta {eta}",
        Stage::Fold => "{spinner} folding   [{bar:30}] site {pos}/{len} eta {eta}",
        Stage::Write => "{spinner} quantizing [{bar:30}] {bytes}/{total_bytes} {msg} eta {eta}",
        Stage::Evaluate => "{spinner} evaluating [{bar:30}] {percent}% of chunk-layers eta {eta}",
    }
}

/// Progress bars on stderr; notes on stdout unless `quiet`.
#[derive(Default)]
pub struct Terminal {
    bar: Option<ProgressBar>,
    /// Print no notes (the plan, the stage lines), only bars.
    pub quiet: bool,
}

pub fn print_plan(p: &[TensorPlan]) {
    println!("{:<28} {:>16} {:>6}  reason", "tensor", "shape", "type");
    for t in p {
        let shape = t.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x");
        println!("{:<28} {:>16} {:>6}  {}", t.name, shape, t.ty.name(), t.reason);
    }
}

impl Observer for Terminal {
    fn begin(&mut self, stage: Stage, total: u64) {
        self.bar = Some(bar(total, template(stage)));
    }

    fn advance(&mut self, done: u64, item: Option<&str>) {
        if let Some(b) = &self.bar {
            b.set_position(done);
            if let Some(name) = item {
                b.set_message(name.to_string());
            }
        }
    }

    fn end(&mut self, _stage: Stage) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    fn note(&mut self, note: Note<'_>) {
        if self.quiet {
            return;
        }
        match note {
            Note::Calibrating { model, chunks, ctx } => {
                println!("calibrating {} ({chunks} chunks of {ctx} tokens)", model.display())
            }
            Note::CalibrationCached { model, dir } => {
                println!("calibration of {} taken from {}", model.display(), dir.display())
            }
            Note::Planned { plan, bytes, bpw } => {
                print_plan(plan);
                println!("planned: {} ({bpw:.2} bpw)", format::bytes(bytes));
            }
            Note::Memory(e) => println!("{}", format::memory_line(e)),
            Note::Writing { output } => println!("quantizing to {}", output.display()),
            Note::Written(s) => super::quantize::print_summary(s),
            Note::Evaluating { text, chunks, ctx } => {
                println!("evaluating on {} ({chunks} chunks of {ctx} tokens)", text.display())
            }
            Note::MethodChosen { method, peak } => println!(
                "method: {method} (GPTQ's Hessians and the rest need about {}; {})",
                format::bytes(peak),
                if method == sinkquant::pipeline::Method::Gptq { "they fit" } else { "more than the memory allowed" }
            ),
            Note::Chose(cands) => {
                println!("outlier policy and allocation, measured on calibration text the calibration did not use:");
                for c in cands {
                    let mark = if c.chosen { "  <- chosen" } else { "" };
                    println!(
                        "  {:<5} {:<14} KLD {:.5} +/- {:.5}, top-1 {:.2}%, {}{mark}",
                        c.outliers,
                        c.allocation,
                        c.kld,
                        c.kld_stderr,
                        100.0 * c.top1_agreement,
                        format::bytes(c.bytes)
                    );
                }
            }
        }
    }
}
