//! The library's typed errors. Every variant renders as one line that names the file (when
//! there is one) and the problem; the CLI prints it and exits non-zero.

use std::path::{Path, PathBuf};

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused a read or a write. The OS error is part of the message and
    /// not a separate cause, so `{:#}` chains print it once.
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },
    /// The file is truncated, corrupt, or its header contradicts itself or the file size.
    #[error("{}: {msg}", path.display())]
    Corrupt { path: PathBuf, msg: String },
    /// The file is well formed but holds something sinkquant does not handle
    /// (an architecture, a dtype, a ggml type, a format version).
    #[error("{}: unsupported {msg}", path.display())]
    Unsupported { path: PathBuf, msg: String },
    /// An output that exists and was not to be replaced.
    #[error("{}: already exists", path.display())]
    Exists { path: PathBuf },
    /// A name (of a type, a policy, a format) that is not one of the known ones.
    #[error("unknown {what} {name:?} (known: {})", known.join(", "))]
    Unknown { what: &'static str, name: String, known: Vec<&'static str> },
    /// The run would need more anonymous memory than it may use, even one layer at a time.
    #[error(
        "{}: needs about {} of memory even one layer and one chunk at a time, more than the {} allowed \
         (--max-memory; the default is what the machine has free)",
        path.display(), crate::memory::human(*need), crate::memory::human(*limit)
    )]
    Memory { path: PathBuf, need: u64, limit: u64 },
    /// A request that cannot be carried out (bad argument, missing tensor, ...).
    #[error("{0}")]
    Invalid(String),
    /// A tensor operation of the forward pass failed (candle's error, on one line). Not marked
    /// `#[from]`/`#[source]`: the candle text is the message, so `{:#}` chains print it once
    /// (the `From` impl below does the conversion `?` needs).
    #[error("forward pass: {}", candle_line(.0))]
    Candle(candle_core::Error),
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Candle(e)
    }
}

impl Error {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), cause: source }
    }
    pub fn corrupt(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::Corrupt { path: path.as_ref().to_path_buf(), msg: msg.into() }
    }
    pub fn unsupported(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::Unsupported { path: path.as_ref().to_path_buf(), msg: msg.into() }
    }
}

/// A candle error as one line: without the backtrace candle attaches when `RUST_BACKTRACE` is
/// set, and with context and any other line breaks joined by ": ".
fn candle_line(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => candle_line(inner),
        candle_core::Error::Context { inner, context } => format!("{context}: {}", candle_line(inner)),
        e => e.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(": "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candle_errors_render_on_one_line_without_a_cause() {
        let e = Error::from(candle_core::Error::Msg("token id 9 is outside the vocabulary of 4".into()));
        assert_eq!(e.to_string(), "forward pass: token id 9 is outside the vocabulary of 4");
        assert!(std::error::Error::source(&e).is_none(), "the candle text must not print twice");
        let nested = candle_core::Error::Msg("shape mismatch".into()).context("layer 3");
        assert_eq!(Error::from(nested).to_string(), "forward pass: layer 3: shape mismatch");
    }
}
