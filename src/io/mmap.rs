//! Read-only memory maps of model files.

use crate::error::{Error, Result};
use memmap2::{Mmap, UncheckedAdvice};
use std::fs::File;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

/// A read-only mapping of a whole file (or nothing, for an empty file).
pub struct Mapped {
    map: Option<Arc<Mmap>>,
}

/// Bytes the forward pass computes from: a range of a memory-mapped file, shared without a
/// copy (its pages are file-backed, so the kernel can drop and re-read them), or bytes the
/// caller had to build (reordered rows, converted layouts).
#[derive(Clone)]
pub struct SharedBytes {
    data: Shared,
    start: usize,
    len: usize,
}

#[derive(Clone)]
enum Shared {
    Map(Arc<Mmap>),
    Owned(Arc<Vec<u8>>),
}

impl SharedBytes {
    pub fn owned(bytes: Vec<u8>) -> Self {
        let len = bytes.len();
        SharedBytes { data: Shared::Owned(Arc::new(bytes)), start: 0, len }
    }

    /// Whether the bytes live in a memory map (no copy in anonymous memory).
    pub fn is_mapped(&self) -> bool {
        matches!(self.data, Shared::Map(_))
    }
}

impl Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let all: &[u8] = match &self.data {
            Shared::Map(m) => m,
            Shared::Owned(v) => v,
        };
        &all[self.start..self.start + self.len]
    }
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
        Ok(Mapped { map: Some(Arc::new(map)) })
    }

    /// `[offset, offset + len)` of the file, shared without a copy.
    pub fn shared(&self, offset: usize, len: usize) -> SharedBytes {
        assert!(offset + len <= self.bytes().len(), "range beyond the mapping");
        match &self.map {
            Some(m) => SharedBytes { data: Shared::Map(m.clone()), start: offset, len },
            None => SharedBytes::owned(Vec::new()),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().map(|m| &m[..]).unwrap_or(&[])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_ranges_read_the_file_without_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        std::fs::write(&p, &data).unwrap();
        let m = Mapped::open(&p).unwrap();
        let s = m.shared(4097, 300);
        assert!(s.is_mapped());
        assert_eq!(&s[..], &data[4097..4397]);
        // A released range reads back the same bytes (re-read from the file).
        m.release(4096, 4096);
        assert_eq!(&s.clone()[..], &data[4097..4397]);
        let o = SharedBytes::owned(vec![1, 2, 3]);
        assert!(!o.is_mapped());
        assert_eq!(&o[..], &[1, 2, 3]);
        std::fs::write(dir.path().join("empty"), b"").unwrap();
        assert!(Mapped::open(&dir.path().join("empty")).unwrap().shared(0, 0).is_empty());
    }
}
