//! A streaming GGUF v3 writer: header, metadata and tensor directory are written first from a
//! plan, then each tensor's bytes in plan order, one tensor in memory at a time. The file
//! appears under its name only when every tensor has been written.

use super::value::MetaValue;
use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;
use crate::quant::formats::GgmlType;
use std::path::Path;

/// ggml's default alignment of tensor data (`GGUF_DEFAULT_ALIGNMENT`).
pub const DEFAULT_ALIGNMENT: usize = 32;

/// One tensor of the file to be written. `shape` is row-major (outermost first), as in
/// safetensors; GGUF's directory stores it innermost first, which the writer takes care of.
#[derive(Clone, Debug)]
pub struct PlannedGgufTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub ty: GgmlType,
}

impl PlannedGgufTensor {
    /// Bytes of the tensor's data (rows of whole blocks), or `None` if the row length does not
    /// fit the type's block.
    pub fn nbytes(&self) -> Option<usize> {
        let row = *self.shape.last()?;
        let rows: usize = self.shape[..self.shape.len() - 1].iter().product();
        self.ty.row_bytes(row).map(|b| b * rows)
    }
}

pub struct GgufWriter {
    out: AtomicFile,
    plan: Vec<PlannedGgufTensor>,
    next: usize,
    alignment: usize,
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend((s.len() as u64).to_le_bytes());
    buf.extend(s.as_bytes());
}

fn put_value(buf: &mut Vec<u8>, v: &MetaValue) {
    match v {
        MetaValue::U8(x) => buf.push(*x),
        MetaValue::I8(x) => buf.push(*x as u8),
        MetaValue::U16(x) => buf.extend(x.to_le_bytes()),
        MetaValue::I16(x) => buf.extend(x.to_le_bytes()),
        MetaValue::U32(x) => buf.extend(x.to_le_bytes()),
        MetaValue::I32(x) => buf.extend(x.to_le_bytes()),
        MetaValue::F32(x) => buf.extend(x.to_le_bytes()),
        MetaValue::Bool(x) => buf.push(*x as u8),
        MetaValue::String(s) => put_str(buf, s),
        MetaValue::Array(elem, items) => {
            buf.extend(elem.to_le_bytes());
            buf.extend((items.len() as u64).to_le_bytes());
            items.iter().for_each(|i| put_value(buf, i));
        }
        MetaValue::U64(x) => buf.extend(x.to_le_bytes()),
        MetaValue::I64(x) => buf.extend(x.to_le_bytes()),
        MetaValue::F64(x) => buf.extend(x.to_le_bytes()),
    }
}

/// Arrays must hold items of their declared element type (the reader rejects anything else).
fn check_value(key: &str, v: &MetaValue) -> Result<()> {
    if let MetaValue::Array(elem, items) = v {
        if let Some(bad) = items.iter().find(|i| i.type_id() != *elem) {
            return Err(Error::Invalid(format!(
                "GGUF metadata {key}: array of type {elem} holds a value of type {}",
                bad.type_id()
            )));
        }
        items.iter().try_for_each(|i| check_value(key, i))?;
    }
    Ok(())
}

impl GgufWriter {
    /// Writes the header of a GGUF v3 file at `target` (under a temporary name until
    /// [`GgufWriter::finish`]). `general.alignment` is added when absent.
    pub fn create(target: &Path, metadata: &[(String, MetaValue)], plan: Vec<PlannedGgufTensor>) -> Result<Self> {
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            Some((_, MetaValue::U32(a))) if a.is_power_of_two() => *a as usize,
            Some((_, v)) => return Err(Error::Invalid(format!("general.alignment {v} is not a power-of-two u32"))),
            None => DEFAULT_ALIGNMENT,
        };
        let mut head = Vec::with_capacity(1 << 20);
        head.extend(b"GGUF");
        head.extend(3u32.to_le_bytes());
        head.extend((plan.len() as u64).to_le_bytes());
        head.extend((metadata.len() as u64).to_le_bytes());
        for (k, v) in metadata {
            check_value(k, v)?;
            put_str(&mut head, k);
            head.extend(v.type_id().to_le_bytes());
            put_value(&mut head, v);
        }
        let mut offset = 0usize;
        for t in &plan {
            let nbytes = t.nbytes().ok_or_else(|| {
                Error::Invalid(format!("tensor {}: shape {:?} does not fit {} blocks", t.name, t.shape, t.ty))
            })?;
            put_str(&mut head, &t.name);
            head.extend((t.shape.len() as u32).to_le_bytes());
            for d in t.shape.iter().rev() {
                head.extend((*d as u64).to_le_bytes());
            }
            head.extend(t.ty.id().to_le_bytes());
            head.extend((offset as u64).to_le_bytes());
            offset += nbytes.div_ceil(alignment) * alignment;
        }
        head.resize(head.len().div_ceil(alignment) * alignment, 0);
        let mut out = AtomicFile::create(target)?;
        out.write_all(&head)?;
        Ok(GgufWriter { out, plan, next: 0, alignment })
    }

    /// Writes the data of the next tensor of the plan.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.write_pieces(name, &mut |put| put(bytes))
    }

    /// Writes the data of the next tensor of the plan in pieces: `fill` hands each piece, in
    /// order, to the function it is given. The pieces must add up to the tensor's size.
    pub fn write_pieces(
        &mut self,
        name: &str,
        fill: &mut dyn FnMut(&mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()>,
    ) -> Result<()> {
        let target = self.out.target().to_path_buf();
        let t = self.plan.get(self.next).ok_or_else(|| {
            Error::Invalid(format!("{}: tensor {name} is beyond the planned tensors", target.display()))
        })?;
        let nbytes = t.nbytes().expect("checked at create");
        let want = &t.name;
        if want != name {
            return Err(Error::Invalid(format!("{}: expected tensor {want} next, got {name}", target.display())));
        }
        let mut written = 0usize;
        let out = &mut self.out;
        fill(&mut |piece: &[u8]| {
            written += piece.len();
            if written > nbytes {
                return Err(Error::Invalid(format!(
                    "{}: tensor {name} is longer than {nbytes} bytes",
                    target.display()
                )));
            }
            out.write_all(piece)
        })?;
        if written != nbytes {
            return Err(Error::Invalid(format!(
                "{}: expected tensor {want} of {nbytes} bytes next, got {name} of {written} bytes",
                target.display()
            )));
        }
        // Every tensor, the last included, is padded to the alignment as ggml's writer does.
        let pad = nbytes.div_ceil(self.alignment) * self.alignment - nbytes;
        if pad > 0 {
            self.out.write_all(&vec![0u8; pad])?;
        }
        self.next += 1;
        Ok(())
    }

    /// Checks every tensor was written and renames the file into place.
    pub fn finish(self) -> Result<()> {
        if self.next != self.plan.len() {
            return Err(Error::Invalid(format!(
                "{}: {} of {} tensors written",
                self.out.target().display(),
                self.next,
                self.plan.len()
            )));
        }
        self.out.commit()
    }
}
