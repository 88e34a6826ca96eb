//! What identifies an input without reading a whole model: a file's sha256 (for texts) and a
//! model's files by name, size and modification time. Used by the batch's resume state and by
//! the calibration cache's keys.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// A sha256 digest as 64 lowercase hex digits.
pub type Sha256Hex = String;

/// sha256 of a file's bytes, read in a stream.
pub fn sha256_file(path: &Path) -> Result<Sha256Hex> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::io(path, e))?;
    Ok(format!("{:x}", h.finalize()))
}

/// sha256 of a JSON value's compact text: the key of everything a result depends on.
pub fn sha256_json(v: &serde_json::Value) -> Sha256Hex {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(v.to_string().as_bytes()))
}

/// Name, size and modification time (ns) of each file that makes up the model at `path`: a
/// folder's files, a GGUF file, or a safetensors file and the JSON files beside it.
pub fn model_files(path: &Path) -> Result<Vec<(String, u64, u128)>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mut files: Vec<PathBuf> = Vec::new();
    let list = |dir: &Path, keep: &dyn Fn(&Path) -> bool| -> Result<Vec<PathBuf>> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let p = e.map_err(|e| Error::io(dir, e))?.path();
            if p.is_file() && keep(&p) {
                v.push(p);
            }
        }
        Ok(v)
    };
    if meta.is_dir() {
        files = list(path, &|_| true)?;
    } else {
        files.push(path.to_path_buf());
        if path.extension().is_some_and(|x| x == "safetensors") {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            files.extend(list(dir, &|p| p.extension().is_some_and(|x| x == "json"))?);
        }
    }
    files.sort();
    files
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
            let mtime = m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
            Ok((p.file_name().unwrap_or_default().to_string_lossy().into_owned(), m.len(), mtime))
        })
        .collect()
}
