//! The base model's logits, kept from its pass for the candidates' passes: in memory up to a
//! limit, beyond it in a temporary file (as llama.cpp's `--kl-divergence-base` file keeps
//! them), so the base and a candidate never run together. Stored as the f32 values computed,
//! so the KL divergence is the same wherever they were kept.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

pub struct BaseLogits {
    vocab: usize,
    /// Rows pushed.
    rows: usize,
    limit: usize,
    memory: Vec<f32>,
    file: Option<(File, PathBuf)>,
}

impl BaseLogits {
    /// A store for rows of `vocab` logits holding at most `limit` bytes in memory.
    pub fn new(vocab: usize, limit: usize) -> Self {
        BaseLogits { vocab, rows: 0, limit, memory: Vec::new(), file: None }
    }

    /// Whether the rows went to a temporary file.
    pub fn on_disk(&self) -> bool {
        self.file.is_some()
    }

    /// Appends rows.
    pub fn push(&mut self, rows: &[f32]) -> Result<()> {
        assert_eq!(rows.len() % self.vocab, 0, "whole rows of logits");
        self.rows += rows.len() / self.vocab;
        if self.file.is_none() && (self.memory.len() + rows.len()) * 4 <= self.limit {
            self.memory.extend_from_slice(rows);
            return Ok(());
        }
        if self.file.is_none() {
            let dir = std::env::temp_dir();
            let f = tempfile::tempfile_in(&dir).map_err(|e| Error::io(&dir, e))?;
            self.file = Some((f, dir.join("(sinkquant base logits)")));
            let held = std::mem::take(&mut self.memory);
            self.write(&held)?;
        }
        self.write(rows)
    }

    fn write(&mut self, rows: &[f32]) -> Result<()> {
        let (f, path) = self.file.as_mut().expect("file opened");
        f.write_all(bytemuck::cast_slice(rows)).map_err(|e| Error::io(&*path, e))
    }

    /// Rows `first..first + n` (counted in the order pushed).
    pub fn rows(&mut self, first: usize, n: usize) -> Result<Vec<f32>> {
        assert!(first + n <= self.rows, "rows {first}..{} of {} kept", first + n, self.rows);
        let (start, n) = (first * self.vocab, n * self.vocab);
        let Some((f, path)) = self.file.as_mut() else {
            return Ok(self.memory[start..start + n].to_vec());
        };
        let mut out = vec![0f32; n];
        f.seek(SeekFrom::Start(start as u64 * 4)).map_err(|e| Error::io(&*path, e))?;
        f.read_exact(bytemuck::cast_slice_mut(&mut out)).map_err(|e| Error::io(&*path, e))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_the_same_in_memory_and_on_disk() {
        let chunk = |c: usize| (0..3 * 5).map(|i| (c * 100 + i) as f32 * 0.5).collect::<Vec<f32>>();
        for limit in [1 << 20, 2 * 15 * 4, 0] {
            let mut s = BaseLogits::new(5, limit);
            for c in 0..4 {
                s.push(&chunk(c)).unwrap();
            }
            assert_eq!(s.on_disk(), limit < 4 * 15 * 4, "limit {limit}");
            for c in [2, 0, 3, 1] {
                assert_eq!(s.rows(3 * c, 3).unwrap(), chunk(c), "limit {limit}, chunk {c}");
            }
            assert_eq!(s.rows(4, 2).unwrap(), chunk(1)[5..].to_vec(), "limit {limit}: rows across a push");
        }
    }
}
