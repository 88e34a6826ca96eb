//! Read-only memory maps of model files.

use crate::error::{Error, Result};
use memmap2::{Mmap, UncheckedAdvice};
use std::fs::File;
use std::path::Path;

/// A read-only mapping of a whole file (or nothing, for an empty file).
pub struct Mapped {
    map: Option<Mmap>,
}

impl Mapped {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Err(Error::corrupt(path, "is a directory, expected a file"));
        }
        if meta.len() == 0 {
            return Ok(Mapped { map: None });
        }
        // SAFETY: the mapping is read-only. If another process truncates the file while it is
        // mapped, reads fault (SIGBUS); model files are not expected to change under us.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        Ok(Mapped { map: Some(map) })
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Drops the resident pages of `[offset, offset + len)` so that streaming over a model
    /// keeps resident memory near one tensor instead of growing to the file size.
    pub fn release(&self, offset: usize, len: usize) {
        let Some(map) = &self.map else { return };
        let page = 4096;
        let start = offset / page * page;
        let end = (offset + len).min(map.len());
        if end <= start {
            return;
        }
        // SAFETY: the mapping is a read-only, file-backed shared mapping; after DONTNEED the
        // pages are re-read from the file on the next access, so no data can change or be lost.
        let _ = unsafe { map.unchecked_advise_range(UncheckedAdvice::DontNeed, start, end - start) };
    }
}
