//! Outputs that appear only when complete: written under a temporary name in the destination's
//! folder and renamed into place at the end. An output dropped before `commit` is removed.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The start of the name of every temporary file or folder written for `target`
/// (`.<name>.tmp-`), beside it; a resumed batch removes what a killed run left under it.
pub fn temp_prefix(target: &Path) -> String {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(".{name}.tmp-")
}

/// The start of the name `target` is moved to while a folder output replaces it (`.<name>.old-`).
pub fn old_prefix(target: &Path) -> String {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(".{name}.old-")
}

fn temp_name(target: &Path) -> PathBuf {
    target.with_file_name(format!("{}{}", temp_prefix(target), std::process::id()))
}

/// A file being written; it replaces `target` on [`AtomicFile::commit`].
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(target: impl AsRef<Path>) -> Result<Self> {
        let target = target.as_ref().to_path_buf();
        let tmp = temp_name(&target);
        let file = File::create(&tmp).map_err(|e| Error::io(&target, e))?;
        Ok(AtomicFile { target, tmp, out: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let out = self.out.as_mut().expect("write after commit");
        out.write_all(bytes).map_err(|e| Error::io(&self.target, e))
    }

    /// Flushes, syncs and renames into place.
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take().expect("commit twice");
        let file = out.into_inner().map_err(|e| Error::io(&self.target, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.target, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A directory being filled; it replaces `target` on [`AtomicDir::commit`].
pub struct AtomicDir {
    target: PathBuf,
    tmp: PathBuf,
    done: bool,
}

impl AtomicDir {
    /// Starts a new output directory. An existing `target` is replaced only when `replace` is set.
    pub fn create(target: impl AsRef<Path>, replace: bool) -> Result<Self> {
        let target = target.as_ref().to_path_buf();
        if target.exists() && !replace {
            let empty_dir =
                target.is_dir() && std::fs::read_dir(&target).map(|mut d| d.next().is_none()).unwrap_or(false);
            if !empty_dir {
                return Err(Error::Exists { path: target });
            }
        }
        let tmp = temp_name(&target);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&target, e))?;
        Ok(AtomicDir { target, tmp, done: false })
    }

    /// Where to write a file that will end up as `target/name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes `v` as pretty JSON (with a final newline) to the file `name` of the directory.
    pub fn write_json(&self, name: &str, v: &serde_json::Value) -> Result<()> {
        let text = serde_json::to_string_pretty(v).expect("JSON values serialize") + "\n";
        std::fs::write(self.path(name), text).map_err(|e| Error::io(self.target.join(name), e))
    }

    /// Writes `bytes` to the file `name` of the directory.
    pub fn write_bytes(&self, name: &str, bytes: impl AsRef<[u8]>) -> Result<()> {
        std::fs::write(self.path(name), bytes).map_err(|e| Error::io(self.target.join(name), e))
    }

    pub fn commit(mut self) -> Result<()> {
        if self.target.exists() {
            let old = self.target.with_file_name(format!("{}{}", old_prefix(&self.target), std::process::id()));
            std::fs::rename(&self.target, &old).map_err(|e| Error::io(&self.target, e))?;
            std::fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))?;
            let _ = if old.is_dir() { std::fs::remove_dir_all(&old) } else { std::fs::remove_file(&old) };
        } else {
            std::fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        }
        self.done = true;
        Ok(())
    }
}

impl Drop for AtomicDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}
