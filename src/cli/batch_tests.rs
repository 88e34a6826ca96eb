//! `quantize batch`'s child flags against the jobs' specs.

use super::*;
use clap::Parser;

/// The child `quantize` a job starts asks for what the job's spec says: its flags, parsed
/// back, give the same policy, method and allocation choice.
#[test]
fn child_flags_carry_the_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "out_dir = \"out\"\n[[models]]\npath = \"m\"\n\
        [[recipes]]\nname = \"a\"\ntype = \"q4_k_m\"\n\
        [[recipes]]\nname = \"b\"\ntype = \"q4_k_m\"\noutliers = \"both\"\nmethod = \"gptq\"\nallocation = \"head-to-layers\"\n\
        [[recipes]]\nname = \"c\"\ntype = \"q4_k_m\"\nallocation = \"mixture\"\n";
    let path = dir.path().join("m.toml");
    std::fs::write(&path, toml).unwrap();
    let jobs = expand(&Manifest::load(&path).unwrap());
    for job in &jobs {
        let want = job.spec(dir.path());
        let mut argv: Vec<OsString> = vec!["quantize".into()];
        argv.extend(child_args(&want, 1, &dir.path().join("s.json")));
        let got = super::super::Cli::try_parse_from(argv).unwrap().quantize.spec();
        assert_eq!((got.outliers, got.method, got.preset.name), (want.outliers, want.method, want.preset.name));
        assert_eq!((got.alloc, &got.choose_alloc), (want.alloc, &want.choose_alloc), "{}", job.key());
        assert!(got.choose_outliers.is_empty(), "{}: a recipe's policy is fixed", job.key());
    }
    // Recipe a measures both allocations (quantize's default); b and c fix theirs.
    let lens: Vec<_> = jobs.iter().map(|j| j.spec(dir.path()).choose_alloc.len()).collect();
    assert_eq!(lens, [2, 0, 0]);
}
