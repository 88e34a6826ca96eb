//! A streaming safetensors writer: the header (names, dtypes, shapes, offsets) is written first
//! from a plan, then each tensor's bytes in plan order, one tensor in memory at a time. The
//! file appears under its name only when every tensor has been written.

use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;
use std::collections::BTreeMap;
use std::path::Path;

/// One tensor of the file to be written.
#[derive(Clone, Debug)]
pub struct PlannedTensor {
    pub name: String,
    /// safetensors dtype name: "F32", "F16", "BF16", "I32", "I8", "U8", ...
    pub dtype: &'static str,
    pub shape: Vec<usize>,
    pub nbytes: usize,
}

pub struct SafetensorsWriter {
    out: AtomicFile,
    plan: Vec<PlannedTensor>,
    next: usize,
}

impl SafetensorsWriter {
    pub fn create(target: &Path, plan: Vec<PlannedTensor>, metadata: &BTreeMap<String, String>) -> Result<Self> {
        let mut header = serde_json::Map::new();
        if !metadata.is_empty() {
            header.insert("__metadata__".into(), serde_json::to_value(metadata).expect("string map"));
        }
        let mut offset = 0usize;
        for t in &plan {
            header.insert(
                t.name.clone(),
                serde_json::json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.nbytes]}),
            );
            offset += t.nbytes;
        }
        let mut json = serde_json::to_vec(&header).expect("JSON of strings and numbers");
        // Pad the header with spaces so that the data starts 8-byte aligned, as the reference writer does.
        json.resize(json.len().div_ceil(8) * 8, b' ');
        let mut out = AtomicFile::create(target)?;
        out.write_all(&(json.len() as u64).to_le_bytes())?;
        out.write_all(&json)?;
        Ok(SafetensorsWriter { out, plan, next: 0 })
    }

    /// Writes the next tensor of the plan.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.write_parts(name, bytes.len(), std::iter::once(Ok(bytes.to_vec())))
    }

    /// Writes the next tensor of the plan from parts produced one at a time, so that a tensor
    /// being converted never needs a second full-size buffer.
    pub fn write_parts(
        &mut self,
        name: &str,
        nbytes: usize,
        parts: impl Iterator<Item = Result<Vec<u8>>>,
    ) -> Result<()> {
        let target = self.out.target().display().to_string();
        let Some(t) = self.plan.get(self.next) else {
            return Err(Error::Invalid(format!("{target}: tensor {name} written beyond the plan")));
        };
        if t.name != name || t.nbytes != nbytes {
            return Err(Error::Invalid(format!(
                "{target}: expected tensor {} ({} bytes), got {name} ({nbytes} bytes)",
                t.name, t.nbytes
            )));
        }
        let mut written = 0;
        for part in parts {
            let part = part?;
            written += part.len();
            if written > nbytes {
                break;
            }
            self.out.write_all(&part)?;
        }
        if written != nbytes {
            return Err(Error::Invalid(format!("{target}: tensor {name} got {written} of {nbytes} bytes")));
        }
        self.next += 1;
        Ok(())
    }

    pub fn finish(self) -> Result<()> {
        if self.next != self.plan.len() {
            return Err(Error::Invalid(format!(
                "{}: only {} of {} tensors written",
                self.out.target().display(),
                self.next,
                self.plan.len()
            )));
        }
        self.out.commit()
    }
}
