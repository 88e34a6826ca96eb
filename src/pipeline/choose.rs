//! The outlier policy and the allocation chosen by measurement (`--outliers auto`; the
//! allocations of `plan::trade`): the GGUF is written once per candidate policy and allocation
//! into a temporary folder beside the output, each file is compared with the
//! source on calibration chunks the calibration did not use, and the policy of least KL
//! divergence is kept; the files are deleted with the folder. Candidates are written with the
//! plain importance-weighted quantizers (seconds each); the chosen policy is then written with
//! the job's method (GPTQ's error compensation takes longer, once), unless the choice is to be
//! made with the method itself (`--effort best`). When the candidates were written as the job
//! asks, the chosen candidate's file is the output, renamed into place. Which
//! policy wins depends on the model and the type (SmolLM2 Q4_K_M: `both` at a third of
//! `fold`'s KLD; IQ4_XS: `fold`), so no fixed default is right for all.

use super::job::Job;
use super::observer::{Note, Observer, Stage};
use super::run::{choose_folds, plan_tensors, write_gguf, Prepared};
use super::summary::Candidate;
use crate::error::{Error, Result};
use crate::eval::compare::compare;
use crate::eval::ChunkPlan;
use crate::forward::Transformer;
use crate::memory::Budget;
use crate::model::Model;
use crate::quant::methods::Method;
use crate::tokenizer::text::{read_text, TextTokenizer};
use crate::transform::fold::Folds;
use std::path::{Path, PathBuf};

/// Writes every candidate, keeps the best as the job's output and leaves its plan and folds in
/// `p`. Returns the job with the chosen policy and every candidate's scores.
pub fn write_best(
    job: &Job,
    p: &mut Prepared,
    budget: &Budget,
    obs: &mut dyn Observer,
) -> Result<(Job, Vec<Candidate>)> {
    let s = job.spec();
    let parent = s.output.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // Named after the output, as its other partial files are, so that a resumed batch clears
    // the candidates a killed run left (`batch::state::remove_partial`).
    let prefix = format!("{}choose-", crate::io::atomic::temp_prefix(&s.output));
    let dir = tempfile::Builder::new().prefix(&prefix).tempdir_in(parent).map_err(|e| Error::io(parent, e))?;
    // Candidates take rtn unless the choice is to see the method (`--effort best`).
    let method = p.inputs.method;
    if !s.choice.with_method {
        p.inputs.method = Method::Rtn;
    }
    let mut tried: Vec<(Job, PathBuf, Vec<crate::plan::TensorPlan>, Folds, u64)> = Vec::new();
    for (policy, alloc) in job.candidates() {
        let cj = job.with_candidate(policy, alloc);
        p.plan = plan_tensors(&cj, &p.model, &p.inputs, &p.protected)?;
        // An allocation that changed nothing (a head already at the bottom of the ladder) is
        // the same file as one tried.
        let same = |t: &(Job, PathBuf, Vec<crate::plan::TensorPlan>, Folds, u64)| {
            t.0.spec().outliers == policy && t.2.iter().map(|x| x.ty).eq(p.plan.iter().map(|x| x.ty))
        };
        if tried.iter().any(same) {
            continue;
        }
        p.inputs.folds = match policy.folds() && !p.inputs.importance.is_empty() {
            true => choose_folds(&cj, p, obs)?,
            false => Folds::default(),
        };
        let path = dir.path().join(format!("{}-{}.gguf", policy.name(), alloc.name()));
        let bytes = write_gguf(&cj, p, &path, obs)?;
        tried.push((cj, path, std::mem::take(&mut p.plan), std::mem::take(&mut p.inputs.folds), bytes));
    }
    let files: Vec<&Path> = tried.iter().map(|t| t.1.as_path()).collect();
    let scores = measure(job, &p.model, &files, budget, obs)?;
    let best = (0..scores.len()).min_by(|&a, &b| scores[a].0.total_cmp(&scores[b].0)).unwrap_or(0);
    let candidates = tried
        .iter()
        .zip(&scores)
        .enumerate()
        .map(|(i, (t, &(kld, kld_stderr, top1_agreement)))| Candidate {
            outliers: t.0.spec().outliers.name().to_string(),
            allocation: t.0.spec().alloc.name().to_string(),
            bytes: t.4,
            kld,
            kld_stderr,
            top1_agreement,
            chosen: i == best,
        })
        .collect::<Vec<_>>();
    obs.note(Note::Chose(&candidates));
    let (chosen, path, plan, folds, _) = tried.swap_remove(best);
    p.plan = plan;
    p.inputs.folds = folds;
    let written_as_asked = p.inputs.method == method;
    p.inputs.method = method;
    if written_as_asked {
        std::fs::rename(&path, &s.output).map_err(|e| Error::io(&s.output, e))?;
    } else {
        write_gguf(&chosen, p, &s.output, obs)?;
    }
    Ok((chosen, candidates))
}

/// KLD (mean, standard error) and top-1 agreement of each file against `source`, on
/// `choice.chunks` chunks of the calibration text after those the calibration took (the whole text
/// when it has no more).
fn measure(
    job: &Job,
    source: &Model,
    files: &[&Path],
    budget: &Budget,
    obs: &mut dyn Observer,
) -> Result<Vec<(f64, f64, f64)>> {
    let spec = &job.spec().calib;
    let chunks = job.spec().choice.chunks;
    let text = match &spec.text {
        Some(path) => read_text(path)?,
        None => crate::calib::default_text(),
    };
    let (ids, bos) = {
        let tok = TextTokenizer::for_model(source)?;
        (tok.encode(&text)?, tok.bos)
    };
    let used = spec.chunks * spec.ctx;
    let held = if ids.len() >= used + chunks * spec.ctx { &ids[used..] } else { &ids[..] };
    let plan = ChunkPlan::new(held.len(), spec.ctx, Some(chunks))?;
    let outs = files.iter().map(Model::open).collect::<Result<Vec<_>>>()?;
    let base = Transformer::load(source, spec.ctx)?;
    let cands = outs.iter().map(|m| Transformer::load(m, spec.ctx)).collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Transformer> = cands.iter().collect();
    let steps = plan.steps(&base) + refs.iter().map(|t| plan.steps(t)).sum::<u64>();
    obs.begin(Stage::Evaluate, steps);
    let (states, logits) = (budget.states(), budget.logits());
    let cmp = compare(&base, &refs, held, &plan, bos, states, logits, &mut |d| obs.advance(d as u64, None))?;
    obs.end(Stage::Evaluate);
    Ok(cmp.candidates.iter().map(|c| (c.kld_mean, c.kld_stderr, c.top1_agreement)).collect())
}
