//! Test helpers: temp dirs and running the `quantize` binary; the synthetic files and models
//! are in `fixtures.rs`, shared with the library's own unit tests.

pub use crate::fixtures::*;

use std::process::{Command, Output};

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Runs the `quantize` binary.
pub fn quantize(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quantize")).args(args).output().expect("run quantize")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a command failed cleanly: exit code 1 (not a panic's 101), one line on stderr that
/// starts with "error:" and contains every one of `needles`.
pub fn assert_clean_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "expected exit 1, got {:?}; stderr: {err}", o.status.code());
    assert_eq!(err.trim_end().lines().count(), 1, "expected one line, got: {err}");
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr {err:?} lacks {n:?}");
    }
}
