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
    /// A name (of a type, a policy, a format) that is not one of the known ones.
    #[error("unknown {what} {name:?} (known: {})", known.join(", "))]
    Unknown { what: &'static str, name: String, known: Vec<&'static str> },
    /// A request that cannot be carried out (bad argument, missing tensor, ...).
    #[error("{0}")]
    Invalid(String),
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
